"""A real `celery worker` process for crash tests; its channel records sends in Redis.

Run as `python -m tests.support.worker_main` (Celery's prefork pool, one child) or
`python -m tests.support.worker_main csbot` (exactly the pool `csbot worker` runs), or `... platform`
(the prefork pool with the platform channels the settings turn on); settings
come from the environment as for `csbot worker`. Each send is RPUSHed to `csbot:test:sent` as
`idempotency key|text|conversation`, so the test sees exactly what went out even across
worker restarts.
"""

from __future__ import annotations

import sys

import redis.asyncio as aioredis

from bots.worker import make_worker_app, worker_argv
from channels.spec import Capabilities
from core.feedback import FeedbackStyle
from core.messages import Delivered, OutboundMessage
from infra.settings import load_settings
from workers.celery_app import Queues



def sent_key(namespace: str) -> str:
    """Where sends are recorded: under the namespace, like every other key of the run."""
    return f"{namespace}:csbot:test:sent" if namespace else "csbot:test:sent"


class RedisRecordingChannel:
    name = "test"
    capabilities = Capabilities(feedback_style=FeedbackStyle.NONE)

    def __init__(self, redis_url: str, namespace: str) -> None:
        self._redis_url = redis_url
        self._key = sent_key(namespace)

    async def send(self, message: OutboundMessage) -> Delivered:
        client = aioredis.Redis.from_url(self._redis_url)
        try:
            await client.rpush(self._key, f"{message.idempotency_key}|{message.text}|{message.conversation_key}")
        finally:
            await client.aclose()
        return Delivered(platform_message_id=f"test-{message.id}")


QUIET = ["--without-heartbeat", "--without-gossip", "--without-mingle"]


def main() -> None:
    settings = load_settings()
    assert settings.redis_url
    if sys.argv[1:] == ["platform"]:  # the channels the settings turn on, at the fake platform servers
        app = make_worker_app(settings, channels=[], platform_channels=True)
    else:
        app = make_worker_app(settings, channels=[RedisRecordingChannel(settings.redis_url, settings.csbot_namespace)], platform_channels=False)
    if sys.argv[1:] == ["csbot"]:
        app.worker_main([*worker_argv(settings, concurrency=None, loglevel="INFO"), *QUIET])
    else:
        queues = Queues(settings.csbot_namespace)
        app.worker_main(["worker", "--pool=prefork", "--concurrency=1", f"--queues={queues.inbound},{queues.outbound}",
                         "--loglevel=INFO", *QUIET])


if __name__ == "__main__":
    main()
