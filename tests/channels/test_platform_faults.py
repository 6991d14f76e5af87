"""Platform faults on every channel, end to end: a webhook in, the reply through the real SDK
(python-telegram-bot, slack_sdk, twilio-python) to the fake platform server, which refuses the
first attempt with a 429 + wait or a 5xx. Each reply is sent once, never before the platform's
wait is over, and its outbox row ends `sent` after two attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.channels.conftest import System
from tests.channels.slack_support import dm_message, envelope, slack_system
from tests.channels.test_sms import CUSTOMER as SMS_CUSTOMER
from tests.channels.test_sms import SMS_HOOK, inbound_params
from tests.channels.test_sms import post as post_sms
from tests.channels.test_telegram import CUSTOMER as TELEGRAM_CUSTOMER
from tests.channels.test_telegram import message, update
from tests.channels.test_telegram import post as post_telegram
from tests.fakes.slack_api import RateLimit, ServerError
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI

WAIT = 2  # seconds the platform asks for: longer than delivery's first backoff can be (≤ 1 s)


def assert_refused_then_sent(attempts: list[Any], *, not_before: float = 0.0) -> None:
    """Two calls reached the platform, the first refused; the second not before `not_before` s."""
    assert len(attempts) == 2, attempts
    assert attempts[1].at - attempts[0].at >= not_before - 0.05


# --- Telegram ----------------------------------------------------------------------------------


async def test_telegram_5xx_is_retried_and_sent_once(telegram_system: System, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await post_telegram(telegram_system, update(message=message("Can I change my PIN?")))
    await telegram_system.settle()

    assert_refused_then_sent(telegram_api.calls_to("sendMessage"))
    assert len(telegram_api.sent(TELEGRAM_CUSTOMER)) == 1
    [(status, attempts, error)] = await telegram_system.rows("SELECT status, attempts, last_error FROM outbox")
    assert (status, attempts) == ("sent", 2) and "Bad Gateway" in error  # python-telegram-bot: a NetworkError


# --- Slack -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "not_before", "error"),
    [(RateLimit(retry_after=WAIT), WAIT, f"retry after {WAIT}s"), (ServerError(503), 0.0, "503")],
    ids=["429-retry-after", "503"],
)
async def test_slack_fault_is_retried_and_sent_once(tmp_path: Path, fault: Any, not_before: float, error: str) -> None:
    async with slack_system(tmp_path) as slack:
        slack.fake.script("chat.postMessage", fault)
        await slack.post(envelope(dm_message("I lost my card")))
        await slack.settle()

        attempts = slack.fake.calls_to("chat.postMessage")
        assert [c.accepted for c in attempts] == [False, True]  # slack_sdk did not retry on its own
        assert_refused_then_sent(attempts, not_before=not_before)
        [row] = await slack.rows("outbox")
    assert (row["status"], row["attempts"]) == ("sent", 2) and error in row["last_error"]
    assert row["platform_message_id"] == attempts[1].ts


# --- SMS (Twilio) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "not_before", "error"),
    [
        (dict(status=429, code=20429, message="Too Many Requests", retry_after=WAIT), WAIT, f"retry after {WAIT}s"),
        (dict(status=503, code=20503, message="Service Unavailable"), 0.0, "twilio 503"),
    ],
    ids=["429-retry-after", "503"],
)
async def test_twilio_fault_is_retried_and_sent_once(
    sms_system: System, twilio_api: FakeTwilioAPI, fault: dict[str, Any], not_before: float, error: str
) -> None:
    twilio_api.fail_next(**fault)
    await post_sms(sms_system, SMS_HOOK, inbound_params("Can I change my PIN?"))
    await sms_system.settle()

    assert_refused_then_sent(twilio_api.calls, not_before=not_before)
    [sent] = twilio_api.sent_to(SMS_CUSTOMER)
    [(status, attempts, last_error, sid)] = await sms_system.rows("SELECT status, attempts, last_error, platform_message_id FROM outbox")
    assert (status, attempts, sid) == ("sent", 2, sent.sid) and error in last_error
