"""Core tables, seventh step: processed-event ids in one B-tree on SQLite (WITHOUT ROWID); every
id and its outcome kept. PostgreSQL: nothing changes.

Revision ID: levy_spine18_core_v7
Revises: levy_append13_core_v6
"""
from libs.events.migration import upgrade_core_v7

revision = "levy_spine18_core_v7"
down_revision = "levy_append13_core_v6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v7(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
