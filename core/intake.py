"""Intake: the only way a message enters the system. Dedupe → persist → enqueue, nothing slow.

Runs inside the webhook request, so the platform is acked only after the message is durable,
and a platform re-delivery finds the stored row and enqueues nothing. A 👍/👎 press enters here
too, and is simply recorded: it needs no turn and no answer. A signed request that cannot be
understood is recorded here as well (`reject`), so it is visible without being retried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import BadInput, NotFound, PayloadTooLarge
from core.feedback import VotePress
from core.messages import ContentKind, InboundMessage
from core.botdef import Privacy
from core.ports import FeedbackStore, JobQueue, RejectedRequests, Store
from core.privacy import private_inbound
from core.sanitize import clean_inbound

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 8000


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    duplicate: bool


def validate(message: InboundMessage) -> None:
    """Refuse what no turn could use, before anything is written."""
    if not message.channel or not message.platform_message_id or not message.conversation_key:
        raise BadInput("message needs channel, platform_message_id and conversation_key")
    if len(message.text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"message text is {len(message.text)} characters; the limit is {MAX_TEXT_CHARS}")
    if message.kind is ContentKind.TEXT and not message.text.strip():
        raise BadInput("text message is empty")


class Intake:
    def __init__(
        self,
        store: Store,
        jobs: JobQueue,
        feedback: FeedbackStore | None = None,
        *,
        thanks: Mapping[str, str] | None = None,
        rejected: RejectedRequests | None = None,
        privacy: Privacy = Privacy(),
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._feedback = feedback
        self._thanks = thanks or {}
        self._rejected = rejected
        self._privacy = privacy

    async def accept(self, message: InboundMessage) -> Accepted:
        message = private_inbound(clean_inbound(message), self._privacy)
        validate(message)
        message_id, created = await self._store.save_inbound(message)
        if created:
            self._jobs.enqueue_inbound(message_id)
        return Accepted(message_id, duplicate=not created)

    async def vote(self, press: VotePress) -> str:
        """Record a 👍/👎 press; returns the thanks to show, in the answer's language. `NotFound`
        when its conversation has no such answer asking for a vote (a stale or forged payload),
        in which case nothing changes."""
        if self._feedback is None:
            raise NotFound("feedback is not recorded in this process")
        language = await self._feedback.record_vote(press)
        if language is None:
            raise NotFound(f"no answer {press.outbound_id} asking for a vote in {press.channel} "
                           f"conversation {press.conversation_key!r}")
        return self._thanks.get(language) or self._thanks.get("en", "")

    async def reject(self, channel: str, error: BadInput, body: bytes) -> None:
        """Dead-letter a signed request no handler could use: logged, and a row kept (reason, size,
        digest; never the body, which may hold personal data)."""
        log.warning("%s: signed request dead-lettered (%d bytes): %s", channel, len(body), error)
        if self._rejected is not None:
            await self._rejected.record_rejected(channel, str(error), body)
