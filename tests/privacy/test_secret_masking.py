"""A card number, a CVV and a password typed by a customer on Telegram are masked before they are
stored, prompted, logged or exported, and a card number in the model's answer reaches the
platform masked; the last four digits still inform the turn. SQLite (in-process jobs) and
PostgreSQL (Redis, a Celery worker)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.export import export
from channels.telegram.channel import TelegramChannel
from core.botdef import Privacy, load_bot
from core.errors import ConfigError
from core.messages import InboundMessage
from core.privacy import private_answer, private_inbound
from tests.channels.conftest import TG_SECRET, TG_TOKEN, TEST_BOT, System, running_system, telegram_config
from tests.channels.test_telegram import CUSTOMER, message, post, update
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.fakes.telegram_api import FakeTelegramAPI

CARD = "4111 1111 1111 1111"
TYPED = f"I lost my card {CARD}, cvv 739, and my password is hunter2! What do I do?"
# Whatever form a leaked secret could take in bytes, text or JSON.
SECRETS = (CARD, CARD.replace(" ", ""), "cvv 739", "hunter2")
MASKED_CARD = "[CARD ending 1111]"


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(TG_TOKEN) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def system(request: pytest.FixtureRequest, tmp_path: Path, telegram_api: FakeTelegramAPI,
                 fake_llm: FakeLLMServer) -> AsyncIterator[System]:
    def make(_sessions: Any, limiter: Any) -> TelegramChannel:
        return TelegramChannel(telegram_config(api=telegram_api), limiter)

    settings = {"telegram_bot_token": TG_TOKEN, "telegram_webhook_secret": TG_SECRET,
                "telegram_api_url": telegram_api.url, "llm_base_url": fake_llm.url}
    async with running_system(tmp_path, make, backend=request.param, request=request, **settings) as running:
        yield running


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def test_typed_secrets_are_nowhere_and_the_answer_is_masked(
    system: System, telegram_api: FakeTelegramAPI, fake_llm: FakeLLMServer, caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    # The model echoes the full card number it was never given; it must still not reach the customer.
    fake_llm.then(Behaviour(text=f"I have noted card {CARD}. Freeze your card in the app right away."))
    caplog.set_level(logging.DEBUG)
    response = await post(system, update(message=message(TYPED)))
    assert response.status_code == 200
    await system.settle()

    [sent] = telegram_api.sent(CUSTOMER)
    assert MASKED_CARD in sent["_visible"] and not leaked(sent["_visible"])

    assert fake_llm.requests, "the model was asked"
    prompted = json.dumps(fake_llm.requests, ensure_ascii=False)
    assert not leaked(prompted)
    assert MASKED_CARD in fake_llm.requests[0]["messages"][-1]["content"]

    [stored] = await system.rows("SELECT text, understanding FROM messages")
    assert not leaked(stored.text) and MASKED_CARD in stored.text and "lost my card" in stored.text
    analysis = stored.understanding if isinstance(stored.understanding, dict) else json.loads(stored.understanding)
    assert "card_last4" in analysis["entities"]  # the masked number still tells which card
    [outbox] = await system.rows("SELECT text FROM outbox")
    assert not leaked(outbox.text)

    logged = caplog.text + "".join(str(r.exc_text or "") for r in caplog.records)
    assert caplog.records and not leaked(logged)

    for fmt in ("intents-csv", "chat-jsonl"):
        out = io.StringIO()
        await export(system.runtime.settings, fmt, out, lambda _: None)
        assert not leaked(out.getvalue()), fmt
    csv = io.StringIO()
    await export(system.runtime.settings, "intents-csv", csv, lambda _: None)
    assert "lost my card" in csv.getvalue()  # the message was exported, masked

    if system.runtime.settings.database_url.startswith("sqlite"):
        files = [p for p in tmp_path.iterdir() if p.name.startswith("channels.db")]
        raw = b"".join(p.read_bytes() for p in files)
        assert raw and not [s for s in SECRETS if s.encode() in raw]


def test_masking_keeps_questions_about_passwords_and_codes() -> None:
    """Only a typed secret is masked: the words a customer asks with must reach the bot intact."""
    for asked in ("How do I reset my online banking password?", "my otp never arrived", "I forgot my PIN"):
        assert private_inbound(inbound(asked), Privacy()).text == asked


def test_masking_can_be_turned_off_per_bot() -> None:
    off = Privacy(mask_secrets=False)
    assert private_inbound(inbound(TYPED), off).text == TYPED
    assert private_answer(f"card {CARD}", off) == f"card {CARD}"
    assert private_answer(f"card {CARD}", Privacy()) == f"card {MASKED_CARD}"


@pytest.mark.parametrize(
    ("section", "field"),
    [("privacy: {retention_days: 0}", "privacy.retention_days"), ("privacy: {mask_secret: false}", "privacy.mask_secret"),
     ("privacy: {mask_secrets: maybe}", "privacy.mask_secrets")],
)
def test_a_bad_privacy_section_names_file_and_field(tmp_path: Path, section: str, field: str) -> None:
    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "knowledge").mkdir()
    (bot / "bot.yaml").write_text((TEST_BOT / "bot.yaml").read_text(encoding="utf-8") + f"\n{section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_bot(bot)
    assert str(bot / "bot.yaml") in str(error.value) and field in str(error.value)


def test_privacy_is_on_by_default() -> None:
    privacy = load_bot(TEST_BOT).definition.privacy
    assert privacy.mask_secrets and privacy.retention_days is None


def inbound(text: str) -> InboundMessage:
    return InboundMessage(channel="test", platform_message_id="m1", conversation_key="c1", sender_id="u1", text=text)
