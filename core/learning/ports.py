"""Where trained intent models are kept: the port retraining installs through.

Core decides *whether* a model is installed; the store (a database table or a file, in
``infra.model_store``) decides *how*, and must make the swap atomic so the
bot never loads half a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from core.learning.model_card import ModelCard
from core.nlu.intents import IntentModel

if TYPE_CHECKING:  # training brings scikit-learn, which a serving process need not import
    from core.learning.training import TrainedModel


@dataclass(frozen=True, slots=True)
class CurrentModel:
    """The installed model; ``card`` is None for a model saved without one."""

    model: IntentModel
    card: ModelCard | None
    location: str


class IntentModelStore(Protocol):
    def current(self) -> CurrentModel | None:
        """The installed model, or None when there is none yet."""

    def install(self, trained: TrainedModel) -> str:
        """Make ``trained`` the installed model in one atomic step; return where it now lives."""


class PeriodClaims(Protocol):
    async def claim_period(self, key: str, interval: timedelta) -> bool:
        """True for exactly one caller per `interval` (the first ever caller included)."""
