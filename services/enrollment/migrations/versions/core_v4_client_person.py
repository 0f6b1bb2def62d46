"""Core tables, fourth step: the person behind a client (four eyes on payment runs).

A revision of its own off the core's last one, so it orders with nothing else of the service.

Revision ID: enrollment_core_v4
Revises: enrollment_0004
"""
from libs.events.migration import upgrade_core_v4

revision = "enrollment_core_v4"
down_revision = "enrollment_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v4(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
