"""knowledge_documents.handoff_id: agent answers proposed as knowledge, one per handoff

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("knowledge_documents") as batch:
        batch.add_column(sa.Column("handoff_id", ID, nullable=True))
        batch.create_unique_constraint("uq_knowledge_document_handoff", ["handoff_id"])
        batch.create_foreign_key(
            "fk_knowledge_documents_handoff_id_handoffs", "handoffs", ["handoff_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("knowledge_documents") as batch:
        batch.drop_constraint("fk_knowledge_documents_handoff_id_handoffs", type_="foreignkey")
        batch.drop_constraint("uq_knowledge_document_handoff", type_="unique")
        batch.drop_column("handoff_id")
