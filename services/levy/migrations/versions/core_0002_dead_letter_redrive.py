"""Core tables v2: `dead_letters.redriven_at` (libs/events/migration.py).

A branch of its own off the core revision, so it orders with nothing else of the service.

Revision ID: levy_core_0002
"""
from libs.events.migration import upgrade_core_v2

revision = "levy_core_0002"
down_revision = "levy_0001"
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v2(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
