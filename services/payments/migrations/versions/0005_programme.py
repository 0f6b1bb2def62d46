"""The fund's care beyond hospital bills (issue 15): referrals out of the region, rehabilitation
plans, assistive devices, the kind of a provider (hospital, rehabilitation, supplier) and of a bill.

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
    op.create_table(
        "care_rehabilitation_plans",
        sa.Column("plan_id", sa.String(40), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("spent_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_care_rehabilitation_plans_claim", "care_rehabilitation_plans", ["claim_id", "plan_id"])
    op.create_table(
        "care_devices",
        sa.Column("configuration_id", sa.String(40), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("device_code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("confirmed_on", sa.Date(), nullable=False),
        sa.Column("supplier_id", sa.String(64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_life_months", sa.Integer(), nullable=False),
        sa.Column("replaceable_from", sa.Date(), nullable=False),
        sa.Column("replaces", sa.String(40)),
        sa.Column("line_id", sa.String(120), nullable=False),
    )
    op.create_index("ix_care_devices_claim", "care_devices", ["claim_id", "device_code", "confirmed_on"])
    with op.batch_alter_table("payout_hospitals") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="hospital"))
    with op.batch_alter_table("payout_medical_bills") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="medical"))
        batch.add_column(sa.Column("plan_id", sa.String(40)))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
