"""Core tables, second step: log positions of sent events, consumer positions (read-your-writes).

Revision ID: claims_0004
Revises: claims_0003
"""
from libs.events.migration import upgrade_core_v2

revision = "claims_0004"
down_revision = "claims_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v2(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
