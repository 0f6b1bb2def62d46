"""The fund's care beyond hospital bills (issue 15): referrals out of the region.

Revision ID: payments_0005_programme
Revises: payments_0004
"""
import sqlalchemy as sa

revision = "payments_0005_programme"
down_revision = "payments_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "care_referrals",
        sa.Column("referral_id", sa.String(40), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("destination_region", sa.String(6)),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("transport_allowed_fen", sa.BigInteger(), nullable=False),
        sa.Column("days_claimed", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_care_referrals_claim", "care_referrals", ["claim_id", "referral_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
