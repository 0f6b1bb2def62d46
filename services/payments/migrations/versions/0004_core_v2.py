"""Core tables, second step: log positions of sent events, consumer positions (read-your-writes).

Revision ID: payments_0004
Revises: payments_payouts_0001
"""
from libs.events.migration import upgrade_core_v2

revision = "payments_0004"
down_revision = "payments_payouts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v2(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
