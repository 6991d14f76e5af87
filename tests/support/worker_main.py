"""A real `celery worker` process for crash tests; its channel records sends in Redis.

Run as `python -m tests.support.worker_main`; settings come from the environment as for
`csbot worker`. Each send is RPUSHed to `csbot:test:sent`, so the test sees exactly what
went out even across worker restarts.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bots.worker import make_worker_app
from channels.spec import Capabilities
from core.feedback import FeedbackStyle
from core.messages import Delivered, OutboundMessage
from infra.settings import load_settings

SENT_KEY = "csbot:test:sent"


class RedisRecordingChannel:
    name = "test"
    capabilities = Capabilities(feedback_style=FeedbackStyle.NONE)

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url

    async def send(self, message: OutboundMessage) -> Delivered:
        client = aioredis.Redis.from_url(self._redis_url)
        try:
            await client.rpush(SENT_KEY, f"{message.idempotency_key}|{message.text}")
        finally:
            await client.aclose()
        return Delivered(platform_message_id=f"test-{message.id}")


def main() -> None:
    settings = load_settings()
    assert settings.redis_url
    app = make_worker_app(settings, channels=[RedisRecordingChannel(settings.redis_url)], platform_channels=False)
    app.worker_main(["worker", "--pool=prefork", "--concurrency=1", "--queues=inbound,outbound", "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"])


if __name__ == "__main__":
    main()
