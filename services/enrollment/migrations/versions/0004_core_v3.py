"""Core tables v3: `dead_letters.redriven_at` (libs/events/migration.py).

Revision ID: enrollment_0004
Revises: enrollment_0003
"""
from libs.events.migration import upgrade_core_v3

revision = "enrollment_0004"
down_revision = "enrollment_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v3(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
