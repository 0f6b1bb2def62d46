"""Pooling moves up (issue 15): each pool's move, for the entitlements of the claims it moved.

Revision ID: payments_pooling_0002
Revises: payments_pooling_0001
"""
import sqlalchemy as sa

revision = "payments_pooling_0002"
down_revision = "payments_pooling_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_region_moves",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("into_region", sa.String(6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("consolidation_id", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
