"""retained_counts: anonymous daily counts of deleted conversations, for stats

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = ("messages", "conversations", "handed_over", "ratings", "rating_sum", "satisfied", "votes", "thumbs_up")


def upgrade() -> None:
    op.create_table(
        "retained_counts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
    )
    op.create_index("ix_retained_counts_day", "retained_counts", ["day"])


def downgrade() -> None:
    op.drop_index("ix_retained_counts_day", "retained_counts")
    op.drop_table("retained_counts")
