"""Core tables, fifth step: the outbox folded into the events table (an append writes one row);
every unrelayed outbox row stays unrelayed on its event, every relayed one stays relayed.

Revision ID: claims_spine12_core_v5
Revises: claims_core_v4
"""
from libs.events.migration import upgrade_core_v5

revision = "claims_spine12_core_v5"
down_revision = "claims_core_v4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v5(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
