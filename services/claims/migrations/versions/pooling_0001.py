"""Pooling moves up (issue 15): each pool's move, so a region lists the claims of its pools.

Revision ID: claims_pooling_0001
Revises: claims_0004
"""
import sqlalchemy as sa

revision = "claims_pooling_0001"
down_revision = "claims_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "claims_region_moves",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("into_region", sa.String(6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("consolidation_id", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
