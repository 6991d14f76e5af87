"""Wiring the human side: the handoff desk, the Slack agent desk, paging, and admin commands.

The desk is on when Slack is configured with an agent channel (SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET, SLACK_AGENT_CHANNEL); paging is on when the SMS channel is and
AGENT_ONCALL_NUMBER is set. Without a desk the policy's escalations are recorded on each message
and the bot keeps answering, since no person would ever pick the conversation up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.probes import llm_state
from channels.base import Channel
from channels.http import Route
from channels.registry import CHANNELS, Registry
from channels.slack.channel import SlackChannel
from channels.slack.desk import SlackDesk, SlackDeskConfig, SlackDeskWebhooks, SlackResponder
from core.admin import AdminRouter
from core.botdef import LoadedBot
from core.desk import HandoffDesk
from core.knowledge_index import KnowledgeIndex
from core.knowledge_suggestions import KnowledgeSuggestions
from core.nlu.understanding import NluPipeline
from core.paging import ChannelPager
from core.ports import AgentDesk, Generator, JobQueue, Locks, Pager, Store
from core.retention import Retention
from infra.db.admin_audit import SqlAdminAudit
from infra.db.bot_state import SqlBotState
from infra.db.handoffs import SqlHandoffStore
from infra.db.edge_records import SqlReplayGuard
from infra.db.erasure import SqlPersonalData
from infra.db.knowledge_documents import SqlKnowledgeStore
from infra.db.stats import SqlStats
from infra.metrics import PrometheusObserver
from infra.model_store import watch_intent_model
from infra.settings import Settings
from workers.celery_app import INBOUND_QUEUE, OUTBOUND_QUEUE, Queues

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]


def make_nlu(bot: LoadedBot, database_url: str) -> NluPipeline:
    """The bot's NLU, with the intent model installed now or by a later (re)train; an unusable
    model is logged and the bot answers without intents meanwhile."""
    return NluPipeline(watch_intent_model(bot, database_url), oos_threshold=bot.definition.intent_oos_threshold)


def desk_config(settings: Settings) -> SlackDeskConfig | None:
    token, secret, channel = settings.slack_bot_token, settings.slack_signing_secret, settings.slack_agent_channel
    if not (token and secret and channel):
        return None
    return SlackDeskConfig(
        bot_token=token.get_secret_value(),
        signing_secret=secret.get_secret_value(),
        agent_channel=channel,
        api_url=settings.slack_api_url,
    )


def make_pager(settings: Settings, channels: Mapping[str, Channel]) -> Pager | None:
    sms = channels.get("sms")
    if sms is None or not settings.agent_oncall_number:
        return None
    return ChannelPager(sms, settings.agent_oncall_number)


class RuntimeStatus:
    """`SystemStatus` for `/csbot status`: what this process is wired to, and whether it answers."""

    def __init__(
        self, channels: Mapping[str, Channel], redis: Redis | None, generator: Generator, desk_on: bool,
        registry: Registry = CHANNELS,
        queues: Queues = Queues(),
    ) -> None:
        self._channels = channels
        self._registry = registry
        self._queues = queues
        self._redis = redis
        self._generator = generator
        self._desk_on = desk_on

    def names(self) -> list[str]:
        """Every registered platform, then any other channel this process runs."""
        registered = [spec.name for spec in self._registry]
        return registered + [name for name in self._channels if name not in registered]

    async def snapshot(self) -> dict[str, str]:
        snapshot = {"channels": ", ".join(f"{n} {'on' if n in self._channels else 'off'}" for n in self.names())}
        snapshot["agent desk"] = "on" if self._desk_on else "off"
        if self._redis is None:
            snapshot["queues"] = "in-process (no Redis)"
        else:
            try:
                inbound = await self._redis.llen(self._queues.redis_key(INBOUND_QUEUE))
                outbound = await self._redis.llen(self._queues.redis_key(OUTBOUND_QUEUE))
                snapshot["queues"] = f"inbound {inbound}, outbound {outbound}"
            except Exception as exc:  # Redis down is exactly what status should report
                snapshot["queues"] = f"unknown (Redis: {type(exc).__name__})"
        llm = await llm_state(self._generator)
        snapshot["LLM server"] = "off (embedded extractive responder)" if llm == "off" else llm
        return snapshot


@dataclass
class HumanSide:
    desk: HandoffDesk
    retention: Retention | None = None
    admin: AdminRouter | None = None
    routes: tuple[Route, ...] = ()


def build_human_side(
    settings: Settings,
    bot: LoadedBot,
    *,
    sessions: Sessions,
    store: Store,
    jobs: JobQueue,
    locks: Locks,
    channels: Mapping[str, Channel],
    knowledge: KnowledgeIndex,
    redis: Redis | None,
    generator: Generator,
    agent_desk: AgentDesk | None = None,
    registry: Registry = CHANNELS,
) -> HumanSide:
    """The handoff desk (always), and with a Slack desk configured: its webhooks, the agent
    channel hook on the Slack customer channel, and the admin command router."""
    config = desk_config(settings)
    desk_port: AgentDesk | None = agent_desk or (SlackDesk(config) if config is not None else None)
    # Agents' answers proposed as knowledge on resolve; the bot's own "ask for a person"
    # phrases are left out of the suggested question.
    suggestions = KnowledgeSuggestions(
        bot.definition.name, SqlKnowledgeStore(sessions), knowledge,
        person_phrases=bot.definition.escalation.trigger_phrases,
    )
    desk = HandoffDesk(
        bot.definition,
        store,
        SqlHandoffStore(sessions),
        jobs,
        locks,
        SqlBotState(sessions),
        desk=desk_port,
        pager=make_pager(settings, channels),
        suggestions=suggestions,
        observer=PrometheusObserver(),
    )
    # Forgetting a customer notes it in their handoffs' desk threads, when there is a desk.
    retention = Retention(SqlPersonalData(sessions), days=bot.definition.privacy.retention_days, desk=desk_port)
    if config is None:
        return HumanSide(desk, retention)
    admin = AdminRouter(
        admins=settings.admin_user_ids,
        audit=SqlAdminAudit(sessions),
        jobs=jobs,
        desk=desk,
        knowledge=knowledge,
        suggestions=suggestions,
        stats=SqlStats(sessions),
        status=RuntimeStatus(channels, redis, generator, desk_on=True, registry=registry,
                             queues=Queues(settings.csbot_namespace)),
        channels=frozenset(channels),
        responder=SlackResponder(),
        replays=SqlReplayGuard(sessions),
        retention=retention,
    )
    hooks = SlackDeskWebhooks(config, desk, admin)
    slack = channels.get("slack")
    if isinstance(slack, SlackChannel):
        # Agent-channel messages and desk button clicks reach Slack's customer-channel URLs
        # (one events URL and one interactions URL per Slack app); the channel hands them on.
        slack.set_agent_hook(hooks.on_agent_event)
        slack.set_desk_clicks(hooks.on_click)
        slack.set_commands(hooks.command_reply)
    return HumanSide(desk, retention, admin, hooks.routes())

