"""`csbot doctor`: what is configured, and whether each configured part answers."""

from __future__ import annotations

from typing import TextIO

from sqlalchemy.engine import make_url

from bots.runtime import build_runtime
from bots.probes import readiness
from infra.settings import Settings


def configured(settings: Settings) -> dict[str, str]:
    def on(flag: object, detail: str) -> str:
        return f"on ({detail})" if flag else "off"

    return {
        "bot": str(settings.csbot_bot),
        "database": make_url(settings.database_url).render_as_string(hide_password=True),
        "jobs": "Celery on Redis" if settings.redis_url else "in-process (no REDIS_URL)",
        "generator": f"LLM server {settings.llm_base_url} model={settings.llm_model}" if settings.llm_base_url else "embedded extractive responder",
        "telegram": on(settings.telegram_bot_token and settings.telegram_webhook_secret, settings.telegram_api_url),
        "slack": on(settings.slack_bot_token and settings.slack_signing_secret, settings.slack_api_url),
        "sms": on(settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number, str(settings.twilio_from_number)),
        "agent desk": on(settings.slack_agent_channel, str(settings.slack_agent_channel)),
        "admins": f"{len(settings.admin_user_ids)} user id(s)" if settings.admin_user_ids else "none (admin commands refused)",
    }


async def doctor(settings: Settings, out: TextIO) -> int:
    out.write("configured:\n")
    for name, value in configured(settings).items():
        out.write(f"  {name:<11} {value}\n")
    runtime = await build_runtime(settings, migrate=False)
    try:
        state = await readiness(runtime)
    finally:
        await runtime.close()
    out.write("reachable:\n")
    for name, value in state.checks.items():
        out.write(f"  {name:<11} {value}\n")
    return 0 if state.healthy else 1
