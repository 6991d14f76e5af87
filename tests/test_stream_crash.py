"""A worker killed while an answer streams: the re-run goes on in the same visible message and
the customer ends up with one final answer, not a partial plus a second message.

A real `celery worker` (prefork) in a subprocess with the Telegram channel pointed at the fake
Bot API, real Redis and PostgreSQL, the slow streaming fake LLM; the webhook is served in this
process. The worker's child is SIGKILLed once two partials are on screen.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.platform_stack import platform_stack
from tests.support.worker_process import children, wait_until
from tests.test_streaming import ANSWER, BOT_USERNAME, TG_SECRET, TG_TOKEN, patient_bot, slow_answer, telegram_update

CHAT = -100999


def shown(telegram: FakeTelegramAPI) -> list[str]:
    """What the chat was shown, call by call (posts and edits that Telegram accepted)."""
    return [c.params["_visible"] for c in telegram.calls
            if c.method in ("sendMessage", "editMessageText") and c.params.get("_ok") and str(c.params["chat_id"]) == str(CHAT)]


@pytest.mark.slow
async def test_worker_killed_mid_stream_leaves_one_message_holding_the_final_answer(
    clean_postgres: str, clean_redis: str, tmp_path: Path
) -> None:
    bot = patient_bot(tmp_path)
    telegram = FakeTelegramAPI(TG_TOKEN, username=BOT_USERNAME).start()
    telegram.chat(CHAT, "supergroup")
    channel_env = {"TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TG_SECRET, "TELEGRAM_API_URL": telegram.url}
    try:
        with FakeLLMServer(default=slow_answer()) as llm:
            async with platform_stack(clean_postgres, clean_redis, llm.url, bot, tmp_path, channel_env) as stack:
                worker, client = stack.worker, stack.client
                body = json.dumps(telegram_update(7001, CHAT, "supergroup", "when are you open?")).encode()
                response = await client.post("/webhooks/telegram", content=body, headers={
                    "X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"})
                assert response.status_code == 200
                wait_until(lambda: len(shown(telegram)) >= 2, 90, "two partials on screen")
                [child] = children(worker.pid)
                os.kill(child, signal.SIGKILL)  # mid-stream, as the OOM killer would
                before = shown(telegram)
                assert ANSWER.split()[-1] not in before[-1], "killed before the answer was complete"
                wait_until(lambda: telegram.visible(CHAT) and telegram.visible(CHAT)[0].startswith(ANSWER[:40])
                           and ANSWER.split()[-1] in telegram.visible(CHAT)[0] and len(llm.requests) >= 2, 120, "the final answer")
                time.sleep(3)  # a second message would show up now
                assert len(telegram.sent(CHAT)) == 1, "the re-run edited the streamed message, it posted no other"
                [final] = telegram.visible(CHAT)
                assert final.startswith(ANSWER[:40]) and ANSWER.split()[-1] in final
                assert len(llm.requests) == 2, "the killed generation and the re-run's"
                assert len(shown(telegram)) > len(before), "the re-run went on showing partials in the same message"
    finally:
        telegram.stop()
