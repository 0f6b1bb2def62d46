"""Core tables, fourth step: the person behind a client (four eyes on payment runs).

A revision of its own off the core's last one, so it orders with nothing else of the service.

Revision ID: claims_core_v4
Revises: claims_0005
"""
from libs.events.migration import upgrade_core_v4

revision = "claims_core_v4"
down_revision = "claims_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    upgrade_core_v4(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
