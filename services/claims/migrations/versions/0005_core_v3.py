"""Core tables v3: `dead_letters.redriven_at` (libs/events/migration.py).

Revision ID: claims_0005
Revises: claims_0004
"""
from libs.events.migration import upgrade_core_v3

revision = "claims_0005"
down_revision = "claims_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v3(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
