"""A channel that records what it is asked to send, safe across the Celery worker's threads."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from channels.spec import Capabilities
from core.feedback import FeedbackStyle
from core.messages import Delivered, InboundMessage, OutboundMessage

NAME = "test"


@dataclass
class RecordingChannel:
    name: str = NAME
    capabilities: Capabilities = Capabilities(feedback_style=FeedbackStyle.NONE)
    sent: list[OutboundMessage] = field(default_factory=list)
    failures: deque[Exception] = field(default_factory=deque)
    send_times: list[float] = field(default_factory=list)
    after_send: deque[Callable[[], None]] = field(default_factory=deque)  # one-shot, once "accepted"
    _lock: threading.Condition = field(default_factory=threading.Condition)

    async def send(self, message: OutboundMessage) -> Delivered:
        with self._lock:
            if self.failures:
                raise self.failures.popleft()
            self.sent.append(message)
            self.send_times.append(time.monotonic())
            self._lock.notify_all()
            hook = self.after_send.popleft() if self.after_send else None
        if hook is not None:
            hook()
        return Delivered(platform_message_id=f"test-{message.id}")

    def wait_for(self, count: int, timeout: float = 30.0) -> list[OutboundMessage]:
        """Block until `count` messages were sent (called from a worker thread or via to_thread)."""
        end = time.monotonic() + timeout
        with self._lock:
            while len(self.sent) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.sent)} of {count} replies sent within {timeout}s: {self.texts()}")
                self._lock.wait(left)
            return list(self.sent)

    def texts(self) -> list[str]:
        return [m.text for m in self.sent]


def inbound(text: str, *, message_id: str, conversation: str = "c1", channel: str = NAME) -> InboundMessage:
    return InboundMessage(
        channel=channel, platform_message_id=message_id, conversation_key=conversation, sender_id="u1", text=text
    )
