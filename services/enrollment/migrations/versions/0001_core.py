"""The core tables: event store, outbox, consumer bookkeeping, clients.

Revision ID: enrollment_0001
"""
from libs.events.migration import upgrade_core_v1

revision = "enrollment_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v1(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
