"""The assembled domain services a process runs: what web handlers and job runners call."""

from __future__ import annotations

from dataclasses import dataclass

from core.delivery import Delivery
from core.intake import Intake
from core.turns import TurnProcessor


@dataclass(frozen=True, slots=True)
class Services:
    intake: Intake
    turns: TurnProcessor
    delivery: Delivery
