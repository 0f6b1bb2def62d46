"""Pooling moves up (issue 15): the consolidations the levy projected, and each pool's move.

Revision ID: levy_pooling_0001
Revises: levy_0003
"""
import sqlalchemy as sa

revision = "levy_pooling_0001"
down_revision = "levy_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "levy_consolidations",
        sa.Column("consolidation_id", sa.String(40), primary_key=True),
        sa.Column("into_region", sa.String(6), nullable=False),
        sa.Column("from_regions", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "levy_region_moves",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("into_region", sa.String(6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("consolidation_id", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
