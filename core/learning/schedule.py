"""The periodic retrain: at most once per interval across every worker.

Every worker's ticker asks for it on the `learning` queue (see `workers.celery_app`); a claim in
the shared database lets exactly one of them run it per interval, so adding workers never
multiplies the work. Training is CPU-bound for seconds to minutes and occupies the worker
process that runs it, which is why it has a queue of its own rather than sitting in front of
customer messages. What it installs is what `csbot retrain` would: a model no worse than the one
in place on the same held-out examples (see `core.learning.retraining`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from core.learning.corrections import Correction
from core.learning.intent_data import IntentData
from core.learning.ports import IntentModelStore, PeriodClaims
from core.learning.retraining import RetrainOutcome, retrain
from core.errors import ConfigError
from core.nlu.errors import DatasetFileError, TrainingDataError
from core.nlu.intents import IntentModelConfig

log = logging.getLogger(__name__)



class PeriodicRetrain:
    def __init__(
        self,
        bot: str,
        *,
        interval: timedelta,
        claims: PeriodClaims,
        data: Callable[[], IntentData],
        corrections: Callable[[], Awaitable[Sequence[Correction]]],
        store: IntentModelStore,
        config: IntentModelConfig | None = None,
    ) -> None:
        self._bot = bot
        self._interval = interval
        self._claims = claims
        self._data = data
        self._corrections = corrections
        self._store = store
        self._config = config

    @property
    def enabled(self) -> bool:
        return self._interval > timedelta(0)

    async def run_if_due(self) -> RetrainOutcome | None:
        """Retrain when this interval's claim is ours; None when it is not due or cannot run."""
        if not self.enabled or not await self._claims.claim_period(f"retrain:{self._bot}", self._interval):
            return None
        try:
            data = await asyncio.to_thread(self._data)
        except (ConfigError, DatasetFileError, TrainingDataError) as exc:  # e.g. a bot without intent data
            log.info("periodic retrain skipped: %s", exc)
            return None
        corrections = await self._corrections()
        outcome = await asyncio.to_thread(
            retrain, self._bot, data, corrections, self._store, config=self._config,
            progress=lambda line: log.info("retrain: %s", line),
        )
        for line in outcome.report_lines():
            log.info("periodic retrain: %s", line)
        return outcome
