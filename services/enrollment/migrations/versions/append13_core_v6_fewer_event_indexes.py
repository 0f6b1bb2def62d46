"""Core tables, sixth step: an event's row has fewer indexes to update (no unique event_id; on
SQLite no unsent index, the relay sending what follows the last event it sent).

Revision ID: enrollment_append13_core_v6
Revises: enrollment_spine12_core_v5
"""
from libs.events.migration import upgrade_core_v6

revision = "enrollment_append13_core_v6"
down_revision = "enrollment_spine12_core_v5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v6(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
