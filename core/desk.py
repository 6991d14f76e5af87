"""The human desk: escalating to people, relaying between customer and agent, handing back.

What happens where:

* a turn escalates (`escalate`): one transaction stores the customer's acknowledgement and opens
  a waiting handoff; a desk job is enqueued, nothing slow runs inside the turn;
* the desk job (`sync`) posts the handoff's card exactly once (its message id is stored on the
  handoff), posts every customer message that arrived since into the card's thread, and updates
  the card when the state moved;
* agents act from the desk (`act`, `agent_message`): claim, send the bot's suggestion, reply in
  the thread (to the customer through the normal outbox, exactly once per desk event), resolve;
* resolving hands back to the bot, which asks the customer for a 1–5 rating, and proposes the
  agent's answer as a knowledge suggestion (`core.knowledge_suggestions`) for an admin to approve;
* `check_sla` pages the on-call agent once per handoff left waiting past the bot's SLA.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.botdef import BotDefinition
from core.desk_card import DeskAction, DeskCard
from core.errors import DeliveryError, NotFound, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.handoff import Handoff, HandoffState
from core.knowledge_suggestions import KnowledgeSuggestions
from core.masking import mask_customer
from core.nlu.redaction import redact
from core.observe import UNOBSERVED, Observer
from core.policy import Decision
from core.ports import AgentDesk, BotState, HandoffStore, JobQueue, Locks, Pager, Store
from core.records import Conversation, Role, Turn
from core.reply import Reply, ReplySource

log = logging.getLogger(__name__)
# Outbox key prefix of the bot's suggested reply when an agent sends it from the card.
SUGGESTED_REPLY_KEY = "suggested:"

Clock = Callable[[], datetime]
NOTE_PREFIX = "note:"
PAUSE_KEY = "paused"
LAST_MESSAGES = 6
_RATING = re.compile(r"^\s*([1-5１-５])\s*[.!。！]?\s*$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def rating_of(text: str) -> int | None:
    """A 1–5 rating when the whole message is that digit (half- or full-width); else None."""
    match = _RATING.match(text)
    if match is None:
        return None
    digit = match.group(1)
    return int(digit) if digit.isascii() else ord(digit) - ord("０")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a desk action did, in words the acting agent is shown."""

    ok: bool
    message: str
    handoff: Handoff | None = None


class HandoffDesk:
    """Handoffs between the bot and people. `desk` None means no agents' desk is configured:
    the policy's escalations are then recorded on the message, and the bot keeps answering,
    because nobody would ever pick the conversation up."""

    def __init__(
        self,
        bot: BotDefinition,
        store: Store,
        handoffs: HandoffStore,
        jobs: JobQueue,
        locks: Locks,
        state: BotState,
        *,
        desk: AgentDesk | None = None,
        pager: Pager | None = None,
        suggestions: KnowledgeSuggestions | None = None,
        clock: Clock = utc_now,
        observer: Observer = UNOBSERVED,
    ) -> None:
        self.bot = bot
        self._store = store
        self._handoffs = handoffs
        self._jobs = jobs
        self._locks = locks
        self._state = state
        self._desk = desk
        self._pager = pager
        self._suggestions = suggestions
        self._clock = clock
        self._observer = observer

    @property
    def available(self) -> bool:
        return self._desk is not None

    @property
    def handoffs(self) -> HandoffStore:
        return self._handoffs

    # --- the turn side -----------------------------------------------------------------------

    def acknowledgement(self, decision: Decision, answer: Reply) -> Reply:
        """The one message the customer gets when a person takes over: the expected wait, after
        the bot's safety answer when the topic is sensitive (freeze the card, call the line)."""
        language = answer.language
        minutes = max(1, round(self.bot.handoff.sla_seconds / 60))
        notice = self.bot.text("handoff_ack", language).replace("{minutes}", str(minutes))
        safety = answer.passage.strip() if decision.safety_answer else ""
        text = f"{safety}\n\n{notice}" if safety else notice
        return Reply(text, language, ReplySource.CANNED, grounding_score=answer.grounding_score, reason=decision.reason)

    async def escalate(self, message_id: int, decision: Decision, answer: Reply) -> Handoff | None:
        """Acknowledge and open a waiting handoff, atomically; None if a person already owns
        the conversation (then the message is relayed instead)."""
        ack = self.acknowledgement(decision, answer)
        handoff = await self._handoffs.escalate(
            message_id,
            ack,
            reason=decision.reason,
            rule=str(decision.rule or ""),
            suggested_reply=answer.text if answer.source is not ReplySource.HOLDING else "",
            actor="bot",
        )
        if handoff is not None:
            log.info("conversation %s handed to people: %s (%s)", handoff.conversation_id, decision.rule, decision.reason)
            self._jobs.enqueue_desk(handoff.id)
        return handoff

    async def relay(self, message_id: int) -> None:
        """A customer message while a person owns the conversation: to the agents' thread."""
        message = await self._store.get_message(message_id)
        await self._handoffs.relay(message_id)
        handoff = await self._handoffs.open_handoff(message.conversation_id)
        if handoff is not None:
            self._jobs.enqueue_desk(handoff.id)

    async def paused(self, channel: str) -> bool:
        state = await self.pause_state()
        return bool(state.get("all")) or channel in (state.get("channels") or [])

    async def pause_state(self) -> dict[str, object]:
        return dict(await self._state.get_state(PAUSE_KEY))

    async def set_paused(self, channel: str | None, paused: bool) -> dict[str, object]:
        state = dict(await self._state.get_state(PAUSE_KEY))
        channels = set(state.get("channels") or [])
        if channel is None:
            state["all"] = paused
            if not paused:
                channels.clear()
        elif paused:
            channels.add(channel)
        else:
            channels.discard(channel)
        state["channels"] = sorted(channels)
        await self._state.set_state(PAUSE_KEY, state)
        return state

    async def take_rating(self, conversation_id: int, text: str) -> int | None:
        """If the bot's last question was the rating and this message is a 1–5, store it.

        Any other message closes the question too: a rating is only read right after it.
        """
        pending = await self._handoffs.take_pending_rating(conversation_id)
        if pending is None:
            return None
        score = rating_of(text)
        if score is None:
            return None
        await self._handoffs.record_rating(conversation_id, pending.outbound_id, score)
        return score

    # --- the desk job ------------------------------------------------------------------------

    async def sync(self, handoff_id: int) -> int:
        """Bring the desk up to date for one handoff; returns the number of desk posts made.

        Idempotent and ordered: under the handoff's lock, the card is posted once (then only
        updated when its state changed) and customer messages follow in arrival order, each
        once; a failure stops the sync and the job is re-run later.
        """
        if self._desk is None:
            return 0
        posts = 0
        async with self._locks.hold(f"desk:{handoff_id}", timeout=60):
            handoff = await self._handoffs.get_handoff(handoff_id)
            card_key = f"card:{handoff.id}:{handoff.state}"
            if not handoff.desk_thread_ts:
                ts = await self._desk.post_card(await self.card(handoff))
                await self._handoffs.set_desk_thread(handoff.id, ts)
                await self._handoffs.record_desk_post(handoff.id, card_key, ts)
                handoff = await self._handoffs.get_handoff(handoff_id)
                posts += 1
            elif await self._handoffs.desk_post(card_key) is None:
                await self._desk.update_card(handoff.desk_thread_ts, await self.card(handoff))
                await self._handoffs.record_desk_post(handoff.id, card_key, handoff.desk_thread_ts)
            if not handoff.open:
                return posts
            for message in await self._handoffs.unposted_relays(handoff.conversation_id):
                text = redact(message.text) if message.text else "(a photo or file; ask for text)"
                ts = await self._desk.post_in_thread(handoff.desk_thread_ts, f"*Customer:* {text}")
                await self._handoffs.record_desk_post(handoff.id, f"relay:{message.id}", ts)
                posts += 1
        return posts

    async def sync_or_retry(self, handoff_id: int) -> int:
        """The desk job: `sync`, and when Slack is busy or unreachable, the same job again later
        (honouring its retry_after); nothing is lost, the next sync picks up where this stopped."""
        try:
            return await self.sync(handoff_id)
        except RateLimited as exc:
            self._jobs.enqueue_desk(handoff_id, delay=max(exc.retry_after, 0.5))
        except TransientDeliveryError as exc:
            log.warning("desk sync for handoff %s failed, retrying: %s", handoff_id, exc)
            self._jobs.enqueue_desk(handoff_id, delay=random.uniform(2.0, 10.0))
        except PermanentDeliveryError as exc:
            log.error("desk sync for handoff %s failed for good (check the Slack app and channel): %s", handoff_id, exc)
        return 0

    async def card(self, handoff: Handoff) -> DeskCard:
        conversation = await self._store.get_conversation(handoff.conversation_id)
        last = await self._handoffs.last_customer_message(conversation.id)
        turns: list[Turn] = []
        understanding: dict[str, object] = {}
        if last is not None:
            turns = await self._store.history(conversation.id, last.id + 1, LAST_MESSAGES)
            understanding = await self._handoffs.understanding_of(last.id)
        # Customers' words are redacted (a card number must not sit in a Slack channel); the
        # bot's and agents' come from the knowledge base and people, and keep the hotline numbers.
        recent = tuple(Turn(t.role, redact(t.text) if t.role is Role.CUSTOMER else t.text) for t in turns[-LAST_MESSAGES:])
        return DeskCard(
            handoff_id=handoff.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            customer=mask_customer(conversation.customer_name, conversation.customer_id),
            state=handoff.state,
            agent_id=handoff.agent_id,
            rule=handoff.rule,
            reason=handoff.reason,
            summary=summarize(conversation, turns, understanding),
            last_messages=recent,
            suggested_reply=handoff.suggested_reply,
            waiting_since=handoff.created_at,
        )

    # --- the agents' side --------------------------------------------------------------------

    async def act(self, action: DeskAction, handoff_id: int, agent_id: str) -> Outcome:
        """A button on the card."""
        try:
            handoff = await self._handoffs.get_handoff(handoff_id)
        except NotFound:
            return Outcome(False, f"Handoff {handoff_id} does not exist.")
        if action is DeskAction.CLAIM:
            return await self.claim(handoff, agent_id)
        if action is DeskAction.SEND_SUGGESTED:
            return await self.send_suggested(handoff, agent_id)
        return await self.resolve(handoff, agent_id)

    async def claim(self, handoff: Handoff, agent_id: str) -> Outcome:
        if handoff.state is HandoffState.CLAIMED and handoff.agent_id == agent_id:
            return Outcome(True, "You already own this conversation.", handoff)
        if handoff.state is not HandoffState.WAITING:
            return Outcome(False, self._taken(handoff), handoff)
        moved = await self._handoffs.transition(
            handoff.id, source=HandoffState.WAITING, target=HandoffState.CLAIMED, actor=agent_id, agent_id=agent_id
        )
        if moved is None:
            return Outcome(False, self._taken(await self._handoffs.get_handoff(handoff.id)))
        if moved.claimed_at is not None:
            self._observer.handoff_claimed((moved.claimed_at - moved.created_at).total_seconds())
        self._jobs.enqueue_desk(handoff.id)
        return Outcome(True, f"You own conversation {handoff.conversation_id} now; reply in the thread.", moved)

    async def send_suggested(self, handoff: Handoff, agent_id: str) -> Outcome:
        if not handoff.suggested_reply:
            return Outcome(False, "The bot has no suggested reply for this conversation.", handoff)
        owned = await self._own(handoff, agent_id)
        if not owned.ok:
            return owned
        await self._send_to_customer(handoff.conversation_id, handoff.suggested_reply, key=f"{SUGGESTED_REPLY_KEY}{handoff.id}",
                                     agent_id=agent_id)
        return Outcome(True, "The suggested reply is on its way to the customer.", owned.handoff)

    async def agent_message(self, thread_ts: str, agent_id: str, text: str, event_id: str) -> Outcome:
        """A message in a card's thread: to the customer, unless it is an internal `note:`."""
        handoff = await self._handoffs.handoff_by_thread(thread_ts)
        if handoff is None:
            return Outcome(False, "not a handoff thread")
        if not handoff.open:
            return Outcome(False, "this handoff is resolved; the bot owns the conversation again", handoff)
        text = text.strip()
        if not text or text.lower().startswith(NOTE_PREFIX):
            return Outcome(True, "internal note", handoff)
        owned = await self._own(handoff, agent_id)
        if not owned.ok:
            return owned
        await self._send_to_customer(handoff.conversation_id, text, key=f"agent:{event_id}", agent_id=agent_id)
        return Outcome(True, "sent to the customer", owned.handoff)

    async def resolve(self, handoff: Handoff, actor: str, *, ask_rating: bool = True, note: str = "") -> Outcome:
        """Hand the conversation back to the bot, which asks the customer for a rating; the
        agent's answer is proposed as knowledge.

        Resolving an already resolved handoff proposes again: the store keeps one suggestion per
        handoff, so that is a no-op, unless a crash came between the hand-back and the proposal.
        """
        if not handoff.open:
            await self._propose(handoff)
            return Outcome(False, f"Conversation {handoff.conversation_id} is already back with the bot.", handoff)
        conversation = await self._store.get_conversation(handoff.conversation_id)
        prompt = self.bot.text("rating_request", conversation.language) if ask_rating else None
        moved = await self._handoffs.transition(
            handoff.id, source=handoff.state, target=HandoffState.RESOLVED, actor=actor, note=note, rating_prompt=prompt
        )
        if moved is None:
            return Outcome(False, "Someone else changed this handoff first; look at the card.")
        await self._flush_outbox(handoff.conversation_id)
        self._jobs.enqueue_desk(handoff.id)
        await self._propose(moved)
        return Outcome(True, f"Conversation {handoff.conversation_id} is back with the bot.", moved)

    async def resolve_conversation(self, conversation_id: int, actor: str, *, ask_rating: bool = True,
                                   note: str = "") -> Outcome:
        handoff = await self._handoffs.open_handoff(conversation_id)
        if handoff is None:
            return Outcome(False, f"Conversation {conversation_id} has no open handoff.")
        return await self.resolve(handoff, actor, ask_rating=ask_rating, note=note)

    async def resolve_thread(self, thread_ts: str, actor: str) -> Outcome:
        handoff = await self._handoffs.handoff_by_thread(thread_ts)
        if handoff is None:
            return Outcome(False, "This thread is not a handoff.")
        return await self.resolve(handoff, actor)

    async def takeover(self, conversation_id: int, agent_id: str) -> Outcome:
        """An admin takes a conversation from the bot (or from the waiting queue)."""
        try:
            await self._store.get_conversation(conversation_id)
        except NotFound:
            return Outcome(False, f"Conversation {conversation_id} does not exist.")
        handoff = await self._handoffs.takeover(
            conversation_id, agent_id=agent_id, reason="taken over by an admin", actor=agent_id
        )
        if handoff is not None:
            self._jobs.enqueue_desk(handoff.id)
            return Outcome(True, f"You own conversation {conversation_id} now; reply in its desk thread.", handoff)
        current = await self._handoffs.open_handoff(conversation_id)
        if current is None:
            return Outcome(False, f"Conversation {conversation_id} changed hands just now; try again.")
        return await self.claim(current, agent_id)

    # --- the SLA -----------------------------------------------------------------------------

    async def check_sla(self, now: datetime | None = None) -> int:
        """Page once for every handoff still waiting past the SLA; returns the pages sent.

        The page is claimed with a compare-and-set on `paged_at` first, so however many
        processes run this check, one of them pages; a failed page is unclaimed for the next run.
        """
        now = now or self._clock()
        sla = self.bot.handoff.sla_seconds
        pages = 0
        for handoff in await self._handoffs.overdue_handoffs(now - timedelta(seconds=sla)):
            if not await self._handoffs.mark_paged(handoff.id, now):
                continue
            waited = int((now - handoff.created_at).total_seconds() // 60)
            try:
                await self._remind(handoff, waited)
                if self._pager is not None:
                    conversation = await self._store.get_conversation(handoff.conversation_id)
                    await self._pager.page(
                        f"csbot: conversation {handoff.conversation_id} ({conversation.channel}) has waited {waited} min "
                        f"for an agent. Why: {handoff.reason}"[:300]
                    )
            except DeliveryError as exc:
                log.warning("page for handoff %s failed, retried on the next check: %s", handoff.id, exc)
                await self._handoffs.unmark_paged(handoff.id)
                continue
            pages += 1
        return pages

    async def _remind(self, handoff: Handoff, waited: int) -> None:
        key = f"reminder:{handoff.id}"
        if self._desk is None or not handoff.desk_thread_ts or await self._handoffs.desk_post(key) is not None:
            return
        ts = await self._desk.post_in_thread(
            handoff.desk_thread_ts,
            f":rotating_light: Still unclaimed after {waited} min (SLA {self.bot.handoff.sla_seconds // 60} min). "
            "The on-call agent has been paged.",
        )
        await self._handoffs.record_desk_post(handoff.id, key, ts)

    # --- helpers -----------------------------------------------------------------------------

    async def _propose(self, handoff: Handoff) -> None:
        """The agent's answer as a knowledge suggestion. Best effort: the hand-back has happened
        and must be reported as such; a suggestion lost to an error is logged, not raised."""
        if self._suggestions is None:
            return
        try:
            document_id = await self._suggestions.propose(handoff.id)
        except Exception:  # the database or a bug; the customer and the agent are not affected
            log.exception("could not propose a knowledge suggestion for handoff %s", handoff.id)
            return
        if document_id is not None:
            log.info("handoff %s proposed knowledge suggestion %s", handoff.id, document_id)

    async def _own(self, handoff: Handoff, agent_id: str) -> Outcome:
        """The first agent to answer a waiting handoff claims it; others may not speak for the owner."""
        if handoff.state is HandoffState.WAITING:
            claimed = await self.claim(handoff, agent_id)
            if not claimed.ok:
                return claimed
            return Outcome(True, claimed.message, claimed.handoff)
        if handoff.state is HandoffState.CLAIMED and handoff.agent_id != agent_id:
            return Outcome(False, self._taken(handoff), handoff)
        if not handoff.open:
            return Outcome(False, "This handoff is resolved.", handoff)
        return Outcome(True, "", handoff)

    async def _send_to_customer(self, conversation_id: int, text: str, *, key: str, agent_id: str) -> None:
        _, created = await self._handoffs.record_agent_reply(conversation_id, text, key=key, agent_id=agent_id)
        if created:
            await self._flush_outbox(conversation_id)

    async def _flush_outbox(self, conversation_id: int) -> None:
        for row in await self._store.due_outbound(conversation_id):
            self._jobs.enqueue_delivery(row.id)

    @staticmethod
    def _taken(handoff: Handoff) -> str:
        if handoff.state is HandoffState.CLAIMED:
            return f"<@{handoff.agent_id}> already owns conversation {handoff.conversation_id}."
        if handoff.state is HandoffState.RESOLVED:
            return f"Conversation {handoff.conversation_id} is already back with the bot."
        return f"Conversation {handoff.conversation_id} is waiting for an agent."


def summarize(conversation: Conversation, turns: list[Turn], understanding: dict[str, object]) -> str:
    """A one-paragraph summary an agent reads before opening the thread.

    Built from what is known, not generated: a summary that invents facts is worse than none
    when a person acts on it.
    """
    asked = [t.text for t in turns if t.role is Role.CUSTOMER]
    parts = [f"{len(asked)} recent customer message(s) on {conversation.channel}, language {conversation.language}."]
    if asked:
        first = redact(asked[0])
        parts.append(f"Started with: “{first[:160]}{'…' if len(first) > 160 else ''}”.")
    intent = understanding.get("intent")
    if intent and intent != "unknown":
        parts.append(f"Topic: {intent}.")
    sentiment = understanding.get("sentiment")
    if sentiment:
        parts.append(f"Mood: {sentiment}.")
    if any(t.role is Role.AGENT for t in turns):
        parts.append("A person has already answered in this conversation.")
    return " ".join(parts)

