"""`csbot doctor`: what is configured, and whether each configured part answers."""

from __future__ import annotations

from typing import TextIO

from sqlalchemy.engine import make_url

from bots.channel_registry import channel_settings
from bots.runtime import build_runtime
from bots.probes import readiness
from channels.registry import CHANNELS, Registry
from core.errors import ConfigError
from infra.settings import Settings


def on(flag: object, detail: str) -> str:
    return f"on ({detail})" if flag else "off"


def channel_lines(settings: Settings, registry: Registry = CHANNELS) -> dict[str, str]:
    """One line per registered channel: on with its detail, off, or what is missing."""
    lines = {}
    for spec in registry:
        values = channel_settings(spec, settings)
        try:
            lines[spec.name] = on(values.enabled(), spec.describe(values))
        except ConfigError as exc:
            lines[spec.name] = f"misconfigured ({exc})"
    return lines


def configured(settings: Settings, registry: Registry = CHANNELS) -> dict[str, str]:
    return {
        "bot": str(settings.csbot_bot),
        "database": make_url(settings.database_url).render_as_string(hide_password=True),
        "jobs": "Celery on Redis" if settings.redis_url else "in-process (no REDIS_URL)",
        "generator": f"LLM server {settings.llm_base_url} model={settings.llm_model}" if settings.llm_base_url else "embedded extractive responder",
        **channel_lines(settings, registry),
        "agent desk": on(settings.slack_agent_channel, str(settings.slack_agent_channel)),
        "admins": f"{len(settings.admin_user_ids)} user id(s)" if settings.admin_user_ids else "none (admin commands refused)",
    }


async def doctor(settings: Settings, out: TextIO, registry: Registry = CHANNELS) -> int:
    out.write("configured:\n")
    for name, value in configured(settings, registry).items():
        out.write(f"  {name:<11} {value}\n")
    runtime = await build_runtime(settings, migrate=False, registry=registry)
    try:
        state = await readiness(runtime)
    finally:
        await runtime.close()
    out.write("reachable:\n")
    for name, value in state.checks.items():
        out.write(f"  {name:<11} {value}\n")
    return 0 if state.healthy else 1
