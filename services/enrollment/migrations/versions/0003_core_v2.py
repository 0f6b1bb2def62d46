"""Core tables, second step: log positions of sent events, consumer positions (read-your-writes).

Revision ID: enrollment_0003
Revises: enrollment_0002
"""
from libs.events.migration import upgrade_core_v2

revision = "enrollment_0003"
down_revision = "enrollment_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v2(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
