"""The opt-out register's table, in its own module so channel features add tables without
touching the core schema module. Import it wherever `Base.metadata` must be complete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.db.models import Base, Id, now


class OptOutRow(Base):
    """One customer address on one channel; `opted_out` flips with STOP/START so the history
    of the last change (when, why) stays visible instead of a row appearing and vanishing."""

    __tablename__ = "optouts"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_optout_channel_address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
