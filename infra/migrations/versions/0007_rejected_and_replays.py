"""rejected_requests (dead-lettered webhooks) and replays (admin commands and clicks acted on)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rejected_requests",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rejected_requests_at", "rejected_requests", ["at"])
    op.create_table(
        "replays",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_replays_at", "replays", ["at"])


def downgrade() -> None:
    op.drop_index("ix_replays_at", "replays")
    op.drop_table("replays")
    op.drop_index("ix_rejected_requests_at", "rejected_requests")
    op.drop_table("rejected_requests")
