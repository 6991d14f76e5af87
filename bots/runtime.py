"""The composition root: settings in, a wired set of services out.

Every process (web, worker, chat) builds its `Runtime` here, so each real part switches on
by its setting in exactly one place: REDIS_URL → Celery + Redis locks, LLM_BASE_URL → the LLM
server, a channel's credentials → that channel.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.channel_registry import build_channels
from bots.handoff_wiring import build_human_side, make_nlu
from bots.llm_connections import size_llm_pool
from channels.base import Channel, stream_views
from channels.http import Route
from channels.registry import CHANNELS, Registry
from core.botdef import LoadedBot, load_bot
from core.delivery import Delivery
from core.engine import ConversationEngine
from core.extractive import ExtractiveResponder
from core.intake import Intake
from core.knowledge import load_articles
from core.embedding_cache import EmbeddingCache
from core.knowledge_index import KnowledgeIndex
from core.nlu.encoders import load_retrieval_encoder
from core.learning.intent_data import load_intent_data
from core.learning.schedule import PeriodicRetrain
from core.ports import AgentDesk, Generator, JobQueue, KnowledgeStore, Locks
from core.recovery import Recovery
from core.services import Services
from core.turns import TurnProcessor
from infra.db.engine import make_engine, make_sessions
from infra.db.migrate import upgrade
from infra.db.feedback import SqlFeedbackStore
from infra.db.edge_records import SqlRejectedRequests
from infra.db.recovery import SqlRecoveryQueries
from infra.db.knowledge_documents import SqlKnowledgeStore
from infra.db.bot_state import SqlBotState
from infra.db.store import SqlStore
from infra.db.training_data import TrainingDataQueries
from infra.model_store import model_store
from infra.locks import MemoryLocks, RedisLocks
from infra.metrics import PrometheusObserver
from infra.redis_pool import connections_for, redis_client
from infra.settings import Settings
from workers.batched_encoder import BatchedEncoder
from workers.celery_app import CeleryJobs, create_celery
from workers.inprocess import InProcessJobs
from workers.llm import LLMServerGenerator

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    bot: LoadedBot
    db: AsyncEngine
    store: SqlStore
    services: Services
    jobs: JobQueue
    channels: dict[str, Channel]
    generator: Generator
    redis: Redis | None = None
    # Every route to serve: the built channels' own, then the agent desk's where no channel serves them.
    routes: tuple[Route, ...] = ()
    registry: Registry = CHANNELS

    async def close(self) -> None:
        if isinstance(self.jobs, InProcessJobs):
            await self.jobs.drain(timeout=30)
        if isinstance(self.jobs, CeleryJobs):
            if not await asyncio.to_thread(self.jobs.flush, 10):  # what the publisher thread still holds
                log.warning("jobs still unsent at shutdown; the recovery sweep will queue them")
        if isinstance(self.generator, LLMServerGenerator):
            await self.generator.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


# Every process reports to Prometheus (see infra.metrics); exporting is up to `/metrics`.
OBSERVER = PrometheusObserver()


def make_generator(settings: Settings, bot: LoadedBot) -> Generator:
    if not settings.llm_base_url:
        return ExtractiveResponder(bot.definition)
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    size_llm_pool(settings.llm_max_concurrency)
    return LLMServerGenerator(
        settings.llm_base_url, api_key=key, model=settings.llm_model, timeout=bot.definition.generation.timeout_seconds,
        observer=OBSERVER, max_concurrency=settings.llm_max_concurrency,
    )


def make_retrain(settings: Settings, bot: LoadedBot, sessions: async_sessionmaker[AsyncSession]) -> PeriodicRetrain:
    """The periodic retrain: the bot's intent files plus the corrections in the database. Off
    when bot.yaml names its model file: that file is someone's deliberate choice."""
    from core.learning.training import model_config  # brings scikit-learn: only where retraining runs

    hours = settings.retrain_interval_hours
    if bot.intent_model_path is not None and hours:
        log.info("periodic retrain off: bot.yaml names the intent model file %s", bot.intent_model_path)
        hours = 0
    return PeriodicRetrain(
        bot.definition.name,
        interval=timedelta(hours=hours),
        claims=SqlBotState(sessions),
        data=lambda: load_intent_data(bot),
        corrections=TrainingDataQueries(sessions).corrections,
        store=model_store(bot, settings.database_url),
        config=model_config(bot.definition, bot.folder),
    )


def make_knowledge(bot: LoadedBot, store: KnowledgeStore | None = None) -> KnowledgeIndex:
    """Files plus documents added at run time (`/csbot kb add`), hybrid when bot.yaml names a
    `retrieval.encoder`; knowledge vectors come from the on-disk cache after the first start."""
    name = bot.definition.retrieval.encoder
    embeddings = EmbeddingCache.for_bot(batched_encoder(name), bot.definition.name, seed_dir=bot.folder) if name else None
    return KnowledgeIndex(bot.definition.name, load_articles(bot.knowledge_dir), store, embeddings=embeddings)


@functools.cache
def batched_encoder(name: str) -> BatchedEncoder:
    """The retrieval encoder behind the process's one batching encoder thread: turns in flight
    share its calls, and every runtime of the process (tests build many) shares the thread."""
    return BatchedEncoder(load_retrieval_encoder(name))


def lock_ttl(bot: LoadedBot) -> float:
    """How long a job waits for a busy conversation: a bit more than the slowest turn."""
    return bot.definition.generation.deadline_seconds + 30


def visibility_timeout(settings: Settings, bot: LoadedBot) -> int:
    """Redis redelivers unacked jobs after this; it must exceed the slowest job by far."""
    if settings.celery_visibility_timeout:
        return settings.celery_visibility_timeout
    return int(max(600, lock_ttl(bot) * 4))


def make_jobs(settings: Settings, bot: LoadedBot) -> JobQueue:
    if settings.redis_url:
        return CeleryJobs(create_celery(
            settings.redis_url, visibility_timeout=visibility_timeout(settings, bot), namespace=settings.csbot_namespace
        ))
    return InProcessJobs()


async def build_runtime(
    settings: Settings,
    *,
    channels: Iterable[Channel] = (),
    platform_channels: bool = False,
    jobs: JobQueue | None = None,
    migrate: bool | None = None,
    agent_desk: AgentDesk | None = None,
    registry: Registry = CHANNELS,
) -> Runtime:
    """Assemble a process. `platform_channels` adds every channel whose settings are present
    of `registry` (see `bots.channel_registry`); `migrate` defaults to on for SQLite (the zero-setup path)
    and off for servers, where `csbot db upgrade` is a deliberate deploy step."""
    bot = load_bot(settings.csbot_bot)
    if migrate if migrate is not None else settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)
    db = make_engine(settings.database_url)
    sessions = make_sessions(db)
    store = SqlStore(sessions)
    redis = redis_client(settings.redis_url, connections=connections_for(settings.llm_max_concurrency)) if settings.redis_url else None
    locks: Locks = RedisLocks(redis, prefix=settings.redis_key_prefix + "csbot:lock:") if redis is not None else MemoryLocks()
    jobs = jobs or make_jobs(settings, bot)
    generator = make_generator(settings, bot)
    knowledge = make_knowledge(bot, SqlKnowledgeStore(sessions))
    engine = ConversationEngine(bot.definition, knowledge, generator, nlu=make_nlu(bot, settings.database_url))
    built = build_channels(settings, sessions=sessions, bot=bot.definition, registry=registry) if platform_channels else []
    by_name = {c.name: c for c in [*channels, *built]}
    feedback = SqlFeedbackStore(sessions)
    human = build_human_side(
        settings, bot, sessions=sessions, store=store, jobs=jobs, locks=locks, channels=by_name, knowledge=knowledge,
        redis=redis, generator=generator, agent_desk=agent_desk, registry=registry,
    )
    delivery = Delivery(store, jobs, locks, by_name)
    services = Services(
        intake=Intake(store, jobs, feedback, thanks=bot.definition.texts.rating_thanks,
                      rejected=SqlRejectedRequests(sessions), privacy=bot.definition.privacy),
        turns=TurnProcessor(
            store, jobs, locks, engine, lock_timeout=lock_ttl(bot),
            typing={name: c for name, c in by_name.items() if c.capabilities.typing},  # type: ignore[misc]
            desk=human.desk, knowledge=knowledge, feedback=feedback,
            feedback_styles={name: c.capabilities.feedback_style for name, c in by_name.items()},
            observer=OBSERVER, delivery=delivery, streams=stream_views(by_name), stream_marks=store,
        ),
        delivery=delivery,
        desk=human.desk,
        recovery=Recovery(SqlRecoveryQueries(sessions), jobs),
        admin=human.admin,
        retrain=make_retrain(settings, bot, sessions),
        retention=human.retention,
    )
    if isinstance(jobs, InProcessJobs):
        jobs.bind(services)
    specs = {spec.name: spec for spec in registry}
    routes = [
        route for name, channel in by_name.items() if name in specs for route in specs[name].routes(channel, services.intake)
    ]
    served = {(r.method, r.path) for r in routes}
    routes += [r for r in human.routes if (r.method, r.path) not in served]
    return Runtime(settings, bot, db, store, services, jobs, by_name, generator, redis, routes=tuple(routes), registry=registry)

