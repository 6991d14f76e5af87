"""Admin commands (`/csbot <subcommand>` in Slack): one router, one access check, one audit log.

The table below is the whole command set: a name, its usage line and its handler. Every
request is checked against the admin allow-list before anything is parsed, and audited whether
it was allowed or not. Commands marked slow (they reach the LLM server, Redis, or rebuild an
index) answer "working on it" at once and their result later, through the job queue and the
request's response_url, so Slack's 3-second acknowledgement is never at risk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.desk import HandoffDesk, utc_now
from core.errors import CsbotError, DeliveryError
from core.handoff import HandoffState
from core.knowledge_index import KnowledgeIndex
from core.knowledge_suggestions import (
    KnowledgeSuggestions,
    Suggestion,
    SuggestionError,
    preview,
)
from core.ports import AdminAudit, AdminResponder, JobQueue, ReplayGuard, StatsSource, SystemStatus
from core.retention import Retention, describe_forgotten
from core.stats import format_stats

log = logging.getLogger(__name__)

REFUSAL = "Sorry, only csbot admins can run /csbot commands. Nothing was changed."
REPLAYED = "This request was already received and acted on once; nothing was repeated."
KB_SEPARATOR = "||"
MAX_STATS_DAYS = 365
MAX_SUGGESTIONS_LISTED = 10


class BadUsage(CsbotError):
    """The arguments do not fit the command; the reply is its usage line."""


@dataclass(frozen=True, slots=True)
class AdminRequest:
    """One slash command. `thread_ts` is set only when the platform says where it was typed."""

    user_id: str
    text: str
    channel_id: str = ""
    thread_ts: str = ""
    response_url: str = ""
    # What makes this request unique on the platform (Slack's trigger_id, or its signature):
    # the same key twice is a replay of the same signed body, and the command runs once.
    replay_key: str = ""


@dataclass(frozen=True, slots=True)
class AdminReply:
    text: str
    deferred: bool = False  # the real answer follows through the response_url


Handler = Callable[[AdminRequest, str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Handler
    slow: bool = False


class AdminRouter:
    def __init__(
        self,
        *,
        admins: frozenset[str],
        audit: AdminAudit,
        jobs: JobQueue,
        desk: HandoffDesk,
        knowledge: KnowledgeIndex,
        suggestions: KnowledgeSuggestions,
        stats: StatsSource,
        status: SystemStatus,
        channels: frozenset[str] = frozenset(),
        responder: AdminResponder | None = None,
        replays: ReplayGuard | None = None,
        retention: Retention | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._admins = admins
        self._audit = audit
        self._jobs = jobs
        self._desk = desk
        self._knowledge = knowledge
        self._suggestions = suggestions
        self._stats = stats
        self._status = status
        self._channels = channels
        self._responder = responder
        self._replays = replays
        self._retention = retention
        self._clock = clock
        commands = (
            Command("help", "help", "this list", self._help),
            Command("status", "status", "channels, queues, LLM server, handoffs, pause", self._status_report, slow=True),
            Command("handoffs", "handoffs", "conversations waiting for or owned by a person", self._handoffs),
            Command("takeover", "takeover <conversation>", "take a conversation from the bot", self._takeover),
            Command("release", "release <conversation>", "give a conversation back to the bot", self._release),
            Command("pause", "pause [channel]", "send every new message to people", self._pause),
            Command("resume", "resume [channel]", "let the bot answer again", self._resume),
            Command("kb search", "kb search <query>", "top knowledge passages with scores", self._kb_search),
            Command("kb add", "kb add <question> || <answer>", "add an answer to the knowledge base", self._kb_add,
                    slow=True),
            Command("kb suggestions", "kb suggestions", "agents' answers waiting to become knowledge",
                    self._kb_suggestions),
            Command("kb approve", "kb approve <id>", "make a suggested answer knowledge the bot answers with",
                    self._kb_approve, slow=True),
            Command("kb reject", "kb reject <id>", "drop a suggested answer", self._kb_reject),
            Command("stats", "stats [days]", "messages, automation and handoff rates, CSAT", self._stats_report,
                    slow=True),
            Command("resolve", "resolve [conversation]", "hand a conversation back (in its desk thread, or by id)",
                    self._resolve),
            Command("forget", "forget <channel> <customer>", "erase everything stored of one customer", self._forget,
                    slow=True),
        )
        self.commands: dict[str, Command] = {c.name: c for c in commands}

    # --- entry points --------------------------------------------------------------------

    def lookup(self, text: str) -> tuple[Command | None, str]:
        """The command named by the first one or two words, and the rest as its arguments."""
        words = text.split(maxsplit=2)
        if len(words) >= 2 and (two := f"{words[0].lower()} {words[1].lower()}") in self.commands:
            return self.commands[two], words[2] if len(words) > 2 else ""
        if words and words[0].lower() in self.commands:
            return self.commands[words[0].lower()], text.split(maxsplit=1)[1] if len(words) > 1 else ""
        return None, ""

    async def handle(self, request: AdminRequest) -> AdminReply:
        """Access check, parse, run (or defer); always audited; fast enough for Slack's 3 s."""
        command, args = self.lookup(request.text)
        name = command.name if command else (request.text.split() or ["help"])[0][:64]
        if request.user_id not in self._admins:
            await self._audit.record_admin(user_id=request.user_id, command=name, text=request.text, allowed=False,
                                           outcome="refused: not an admin")
            return AdminReply(REFUSAL)
        if command is None:
            outcome = f"Unknown command {name!r}.\n{self.usage()}" if request.text.strip() else self.usage()
            await self._audit.record_admin(user_id=request.user_id, command=name, text=request.text, allowed=True,
                                           outcome="usage")
            return AdminReply(outcome)
        if not await self.first_time(request.replay_key):
            log.warning("admin %s from %s replayed (key %s); not run again", command.name, request.user_id, request.replay_key)
            return AdminReply(REPLAYED)
        if command.slow and request.response_url and self._responder is not None:
            audit_id = await self._audit.record_admin(
                user_id=request.user_id, command=command.name, text=request.text, allowed=True, outcome="queued",
                response_url=request.response_url, channel_id=request.channel_id,
            )
            self._jobs.enqueue_admin(audit_id)
            return AdminReply(f"Working on `{command.name}`…", deferred=True)
        text = await self._run(command, request, args)
        await self._audit.record_admin(user_id=request.user_id, command=command.name, text=request.text, allowed=True,
                                       outcome=text[:2000])
        return AdminReply(text)

    async def first_time(self, replay_key: str) -> bool:
        """False when a signed request with this key was acted on before (in any process)."""
        if not replay_key or self._replays is None:
            return True
        return await self._replays.first_time(replay_key)

    async def run_deferred(self, audit_id: int) -> str:
        """The job side of a slow command: run it and answer through its response_url."""
        user_id, text, channel_id, response_url = await self._audit.admin_request(audit_id)
        command, args = self.lookup(text)
        if command is None or user_id not in self._admins:  # the table or the allow-list changed since
            result = REFUSAL if user_id not in self._admins else self.usage()
        else:
            result = await self._run(command, AdminRequest(user_id, text, channel_id, "", response_url), args)
        if self._responder is not None and response_url:
            try:
                await self._responder.respond(response_url, result)
            except DeliveryError as exc:  # the command ran; only its answer is lost, and audited
                log.warning("admin command %s ran but its answer could not be sent: %s", audit_id, exc)
        await self._audit.finish_admin(audit_id, result[:2000])
        return result

    async def _run(self, command: Command, request: AdminRequest, args: str) -> str:
        try:
            return await command.run(request, args.strip())
        except BadUsage as exc:
            detail = f"{exc}\n" if str(exc) else ""
            return f"{detail}Usage: /csbot {command.usage}"

    def usage(self) -> str:
        lines = [f"• `/csbot {c.usage}`: {c.summary}" for c in self.commands.values()]
        return "Usage:\n" + "\n".join(lines)

    # --- the commands --------------------------------------------------------------------

    async def _help(self, request: AdminRequest, args: str) -> str:
        return self.usage()

    async def _status_report(self, request: AdminRequest, args: str) -> str:
        _no_args(args)
        snapshot = await self._status.snapshot()
        handoffs = await self._desk.handoffs.open_handoffs()
        waiting = sum(1 for h in handoffs if h.state is HandoffState.WAITING)
        pause = describe_pause(await self._desk.pause_state())
        lines = [f"• {name}: {value}" for name, value in snapshot.items()]
        lines.append(f"• open handoffs: {len(handoffs)} ({waiting} waiting, {len(handoffs) - waiting} claimed)")
        lines.append(f"• paused: {pause}")
        return "csbot status\n" + "\n".join(lines)

    async def _handoffs(self, request: AdminRequest, args: str) -> str:
        _no_args(args)
        handoffs = await self._desk.handoffs.open_handoffs()
        if not handoffs:
            return "No open handoffs: the bot has every conversation."
        now = self._clock()
        lines = []
        for h in handoffs:
            age = _age(now - h.created_at)
            owner = f"<@{h.agent_id}>" if h.agent_id else "nobody yet"
            lines.append(f"• conversation {h.conversation_id}: {h.state}, {age}, owner {owner} — {h.reason}")
        return f"{len(handoffs)} open handoff(s):\n" + "\n".join(lines)

    async def _takeover(self, request: AdminRequest, args: str) -> str:
        outcome = await self._desk.takeover(_conversation_id(args), request.user_id)
        return outcome.message

    async def _release(self, request: AdminRequest, args: str) -> str:
        outcome = await self._desk.resolve_conversation(
            _conversation_id(args), request.user_id, ask_rating=False, note="released by an admin"
        )
        return outcome.message

    def _channel(self, args: str) -> str | None:
        words = args.split()
        if len(words) > 1:
            raise BadUsage("Give at most one channel name.")
        channel = words[0].lower() if words else None
        if channel is not None and self._channels and channel not in self._channels:
            raise BadUsage(f"No channel {channel!r} here; channels on: {', '.join(sorted(self._channels))}.")
        return channel

    async def _pause(self, request: AdminRequest, args: str) -> str:
        channel = self._channel(args)
        await self._desk.set_paused(channel, True)
        where = f"on {channel}" if channel else "on every channel"
        return f"Paused {where}: every new message goes to people until `/csbot resume`."

    async def _resume(self, request: AdminRequest, args: str) -> str:
        channel = self._channel(args)
        state = await self._desk.set_paused(channel, False)
        where = f"on {channel}" if channel else "everywhere"
        still = describe_pause(state)
        extra = f" (still paused: {still})" if still != "no" else ""
        return f"Resumed {where}: the bot answers again{extra}."

    async def _kb_search(self, request: AdminRequest, args: str) -> str:
        if not args:
            raise BadUsage("Say what to search for.")
        await self._knowledge.refresh()
        passages = self._knowledge.search(args, top_k=5)
        if not passages:
            return f"No knowledge passage matches {args!r}."
        lines = []
        for p in passages:
            body = " ".join(p.article.body.split())
            lines.append(f"• {p.score:.2f}  {p.article.title} ({p.article.slug}, {p.article.language}): {body[:160]}")
        return f"Top passages for {args!r}:\n" + "\n".join(lines)

    async def _kb_add(self, request: AdminRequest, args: str) -> str:
        question, sep, answer = args.partition(KB_SEPARATOR)
        if not sep or not question.strip() or not answer.strip():
            raise BadUsage("Give a question and an answer separated by `||`.")
        document_id = await self._knowledge.add(question.strip(), answer.strip())
        return f"Added knowledge document {document_id} ({question.strip()!r}); it is searchable now."

    async def _kb_suggestions(self, request: AdminRequest, args: str) -> str:
        _no_args(args)
        pending = await self._suggestions.pending()
        if not pending:
            return "No knowledge suggestions waiting: agents' answers appear here when their handoffs are resolved."
        lines = [_describe(s) for s in pending[:MAX_SUGGESTIONS_LISTED]]
        if len(pending) > MAX_SUGGESTIONS_LISTED:
            lines.append(f"… and {len(pending) - MAX_SUGGESTIONS_LISTED} more (decide these first).")
        return (f"{len(pending)} knowledge suggestion(s) waiting; `/csbot kb approve <id>` makes one knowledge, "
                "`/csbot kb reject <id>` drops it:\n" + "\n".join(lines))

    async def _kb_approve(self, request: AdminRequest, args: str) -> str:
        try:
            approved = await self._suggestions.approve(_suggestion_id(args))
        except SuggestionError as exc:
            return str(exc)
        return (f"Approved knowledge suggestion {approved.id} (“{preview(approved.question, 80)}”): "
                "it is searchable now and the bot answers with it.")

    async def _kb_reject(self, request: AdminRequest, args: str) -> str:
        try:
            rejected = await self._suggestions.reject(_suggestion_id(args))
        except SuggestionError as exc:
            return str(exc)
        return f"Rejected knowledge suggestion {rejected.id} (“{preview(rejected.question, 80)}”); it is not used."

    async def _stats_report(self, request: AdminRequest, args: str) -> str:
        days = 7
        if args:
            if not args.isdigit() or not 1 <= int(args) <= MAX_STATS_DAYS:
                raise BadUsage(f"Days must be a whole number from 1 to {MAX_STATS_DAYS}.")
            days = int(args)
        stats = await self._stats.stats(self._clock() - timedelta(days=days), days=days)
        return format_stats(stats)

    async def _resolve(self, request: AdminRequest, args: str) -> str:
        if args:
            outcome = await self._desk.resolve_conversation(_conversation_id(args), request.user_id)
        elif request.thread_ts:
            outcome = await self._desk.resolve_thread(request.thread_ts, request.user_id)
        else:
            raise BadUsage("Slack does not say which thread a command was typed in; give the conversation id.")
        return outcome.message

    async def _forget(self, request: AdminRequest, args: str) -> str:
        words = args.split()
        if len(words) != 2:
            raise BadUsage("Give the channel and the customer's id (a chat id, phone number or Slack user id).")
        channel, customer = words[0].lower(), words[1]
        if self._channels and channel not in self._channels:
            raise BadUsage(f"No channel {channel!r} here; channels on: {', '.join(sorted(self._channels))}.")
        if self._retention is None:
            return "Forgetting customers is not available in this process; nothing was erased."
        erased = await self._retention.forget(channel, customer)
        return describe_forgotten(erased, channel, customer)


def describe_pause(state: dict[str, object]) -> str:
    channels = list(state.get("channels") or [])  # type: ignore[call-overload]
    if state.get("all"):
        return "yes, every channel"
    return f"on {', '.join(channels)}" if channels else "no"


def _no_args(args: str) -> None:
    if args:
        raise BadUsage("This command takes no arguments.")


def _conversation_id(args: str) -> int:
    value = args.strip().lstrip("#")
    if not value.isdigit():
        raise BadUsage("Give the conversation id (a number, as `/csbot handoffs` shows it).")
    return int(value)


def _suggestion_id(args: str) -> int:
    value = args.strip().lstrip("#")
    if not value.isdigit():
        raise BadUsage("Give the suggestion id (a number, as `/csbot kb suggestions` shows it).")
    return int(value)


def _describe(suggestion: Suggestion) -> str:
    origin = f"handoff {suggestion.handoff_id}" if suggestion.handoff_id is not None else "a deleted handoff"
    return (f"• {suggestion.id} ({suggestion.language}, from {origin})\n"
            f"    Q: {preview(suggestion.question, 120)}\n"
            f"    A: {preview(suggestion.answer, 200)}")


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"

