"""handoffs.message_id: the customer message that opened a handoff

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("message_id", ID, nullable=True))
        batch.create_foreign_key(
            "fk_handoffs_message_id_messages", "messages", ["message_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("fk_handoffs_message_id_messages", type_="foreignkey")
        batch.drop_column("message_id")
