"""Core tables v3: `dead_letters.redriven_at` (libs/events/migration.py).

Revision ID: payments_0005
Revises: payments_0004
"""
from libs.events.migration import upgrade_core_v3

revision = "payments_0005"
down_revision = "payments_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v3(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
