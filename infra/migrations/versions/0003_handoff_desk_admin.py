"""handoff desk and admin: handoff columns, audit trail, desk posts, admin audit, bot state

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_HANDOFF = sa.text("state IN ('waiting', 'claimed')")


def upgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=32), server_default="", nullable=False))
        batch_op.add_column(sa.Column("suggested_reply", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("rating_outbound_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("rating_open", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch_op.create_index("ix_handoffs_desk_thread_ts", ["desk_thread_ts"], unique=False)
        batch_op.create_index("ix_handoffs_state", ["state", "created_at"], unique=False)
    op.create_index(
        "uq_handoff_open_conversation", "handoffs", ["conversation_id"], unique=True,
        postgresql_where=OPEN_HANDOFF, sqlite_where=OPEN_HANDOFF,
    )
    op.create_table(
        "handoff_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("handoff_id", ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", infra.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_events_handoff_id", "handoff_events", ["handoff_id"], unique=False)
    op.create_table(
        "desk_posts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("handoff_id", ID, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.String(length=64), nullable=False),
        sa.Column("at", infra.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_desk_post_key"),
    )
    op.create_index("ix_desk_posts_handoff_id", "desk_posts", ["handoff_id"], unique=False)
    op.create_table(
        "admin_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=False),
        sa.Column("at", infra.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", infra.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", infra.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("bot_state")
    op.drop_table("admin_audit")
    op.drop_index("ix_desk_posts_handoff_id", table_name="desk_posts")
    op.drop_table("desk_posts")
    op.drop_index("ix_handoff_events_handoff_id", table_name="handoff_events")
    op.drop_table("handoff_events")
    op.drop_index("uq_handoff_open_conversation", table_name="handoffs")
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_state")
        batch_op.drop_index("ix_handoffs_desk_thread_ts")
        batch_op.drop_column("rating_open")
        batch_op.drop_column("rating_outbound_id")
        batch_op.drop_column("suggested_reply")
        batch_op.drop_column("rule")
