"""The assembled domain services a process runs: what web handlers and job runners call."""

from __future__ import annotations

from dataclasses import dataclass

from core.admin import AdminRouter
from core.delivery import Delivery
from core.desk import HandoffDesk
from core.intake import Intake
from core.learning.schedule import PeriodicRetrain
from core.recovery import Recovery
from core.retention import Retention
from core.turns import TurnProcessor


@dataclass(frozen=True, slots=True)
class Services:
    intake: Intake
    turns: TurnProcessor
    delivery: Delivery
    desk: HandoffDesk | None = None  # handoffs to people (a desk may or may not be configured)
    recovery: Recovery | None = None  # re-enqueues work a crash left behind (periodic sweep)
    admin: AdminRouter | None = None  # `/csbot` commands; present when the Slack desk is
    retrain: PeriodicRetrain | None = None  # the intent model's periodic retrain
    retention: Retention | None = None  # expiry after the bot's retention period; forgetting a customer
