"""A new channel is one package plus one line in the registry.

The example channel below is written to a temporary directory as a package of its own, and the
registry is a copy of `channels/registry.py` with that channel's line added. Nothing else is
touched, yet its GET and POST routes are mounted, its messages reach intake, its capabilities
reach the turn engine, and `csbot doctor` and `/csbot status` list it.
"""

from __future__ import annotations

import difflib
import json
import sys
import textwrap
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bots.doctor import configured
from bots.handoff_wiring import RuntimeStatus
from bots.runtime import Runtime, build_runtime
from bots.web import create_app
from core.errors import ConfigError
from core.feedback import FeedbackStyle
from infra.settings import load_settings
from tests.conftest import TEST_BOT
from tests.fuzz.test_webhooks_fuzz import NoJobs

REGISTRY = Path(__file__).resolve().parents[2] / "channels" / "registry.py"

EXAMPLE = '''
"""Echo: a platform that posts {"id", "from", "text"} with a shared token, and verifies by GET."""

from pydantic import SecretStr

from channels.http import WebRequest, WebResponse
from channels.spec import Capabilities, ChannelSettings, ChannelSpec, Endpoint, secret
from core.feedback import FeedbackStyle
from core.messages import Delivered, InboundMessage

CAPABILITIES = Capabilities(feedback_style=FeedbackStyle.TEXT, max_message_chars=500)


class EchoSettings(ChannelSettings):
    echo_token: SecretStr | None = None
    echo_url: str | None = None

    required = ("echo_token", "echo_url")


class EchoChannel:
    name = "echo"
    capabilities = CAPABILITIES

    def __init__(self, token: str) -> None:
        self.token = token

    async def send(self, message):
        return Delivered(platform_message_id=f"echo-{message.id}")


async def verify(channel, intake, request: WebRequest) -> WebResponse:
    ok = request.query.get("token") == channel.token
    return WebResponse.text(request.query.get("challenge", "")) if ok else WebResponse.empty(403)


async def receive(channel, intake, request: WebRequest) -> WebResponse:
    if request.header("x-echo-token") != channel.token:
        return WebResponse.empty(401)
    body = __import__("json").loads(request.body)
    await intake.accept(InboundMessage("echo", body["id"], body["from"], body["from"], body["text"]))
    return WebResponse.json({"ok": True})


SPEC = ChannelSpec(
    name="echo",
    settings=EchoSettings,
    build=lambda settings, context: EchoChannel(secret(settings.echo_token)),
    endpoints=(Endpoint("GET", "/webhooks/echo", verify), Endpoint("POST", "/webhooks/echo", receive)),
    capabilities=CAPABILITIES,
    describe=lambda settings: str(settings.echo_url),
)
'''

ENTRY = "from echo_channel import SPEC as ECHO  # noqa: E402\nCHANNELS = (*CHANNELS, ECHO)\n"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[Any, ...]]:
    """The registry copy with the example's line, and the example as an importable package."""
    package = tmp_path / "echo_channel"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(EXAMPLE))
    original = REGISTRY.read_text()
    copy = original + ENTRY
    added = [line for line in difflib.ndiff(original.splitlines(), copy.splitlines()) if line.startswith(("+", "-"))]
    assert len(added) == 2 and all(line.startswith("+") for line in added)  # the import and the entry
    sys.path.insert(0, str(tmp_path))
    try:
        module = types.ModuleType("registry_copy")
        exec(compile(copy, "registry_copy.py", "exec"), module.__dict__)  # noqa: S102
        yield module.CHANNELS
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("echo_channel", None)


@asynccontextmanager
async def running(tmp_path: Path, registry: tuple[Any, ...], **settings: Any) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    config = load_settings(csbot_bot=TEST_BOT, database_url=f"sqlite+aiosqlite:///{tmp_path}/seam.db", redis_url=None,
                           llm_base_url=None, **settings)
    runtime = await build_runtime(config, platform_channels=True, jobs=NoJobs(), migrate=True, registry=registry)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
    try:
        yield runtime, client
    finally:
        await client.aclose()
        await runtime.close()


async def test_a_new_channel_package_and_its_registry_line_are_all_it_takes(tmp_path: Path, registry: tuple[Any, ...]) -> None:
    async with running(tmp_path, registry, echo_token="s3cret", echo_url="https://echo.example") as (runtime, http):
        verified = await http.get("/webhooks/echo", params={"token": "s3cret", "challenge": "42"})
        assert (verified.status_code, verified.text) == (200, "42")
        assert (await http.get("/webhooks/echo", params={"token": "wrong", "challenge": "42"})).status_code == 403

        body = json.dumps({"id": "m1", "from": "alice", "text": "I lost my card"})
        assert (await http.post("/webhooks/echo", content=body, headers={"x-echo-token": "nope"})).status_code == 401
        accepted = await http.post("/webhooks/echo", content=body, headers={"x-echo-token": "s3cret"})
        assert accepted.status_code == 200 and accepted.json() == {"ok": True}
        async with runtime.db.connect() as conn:
            rows = (await conn.execute(text("SELECT channel, platform_message_id, text FROM messages"))).all()
        assert [tuple(r) for r in rows] == [("echo", "m1", "I lost my card")]

        assert runtime.channels["echo"].capabilities.feedback_style is FeedbackStyle.TEXT
        assert runtime.services.turns._feedback_styles["echo"] is FeedbackStyle.TEXT

        doctor = configured(runtime.settings, registry)
        assert doctor["echo"] == "on (https://echo.example)" and doctor["telegram"] == "off"
        status = await RuntimeStatus(runtime.channels, None, runtime.generator, desk_on=False, registry=registry).snapshot()
        assert "echo on" in status["channels"] and "telegram off" in status["channels"]


async def test_an_off_channel_answers_404_on_each_of_its_routes_and_doctor_says_off(tmp_path: Path, registry: tuple[Any, ...]) -> None:
    async with running(tmp_path, registry) as (runtime, http):
        assert (await http.get("/webhooks/echo")).status_code == 404
        off = await http.post("/webhooks/echo", content=b"{}")
        assert off.status_code == 404 and "not configured" in off.json()["error"]
        assert "echo" not in runtime.channels
        assert configured(runtime.settings, registry)["echo"] == "off"


async def test_a_half_configured_channel_stops_start_up_naming_the_missing_setting(tmp_path: Path, registry: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigError, match="ECHO_URL: required when ECHO_TOKEN is set"):
        async with running(tmp_path, registry, echo_token="s3cret"):
            pass
    assert configured(load_settings(csbot_bot=TEST_BOT, echo_token="s3cret"), registry)["echo"].startswith("misconfigured")

