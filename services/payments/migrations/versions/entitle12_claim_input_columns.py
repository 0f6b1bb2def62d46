"""A claim's compact month inputs in columns (issue 12): the month of a region's untouched claims
made inside the database, by one INSERT … SELECT joining them to the month's amounts
(`services/payments/entitlements/in_database.py`).

Revision ID: payments_entitle12_columns
Revises: payments_entitle12_inputs
"""
import sqlalchemy as sa

revision = "payments_entitle12_columns"
down_revision = "payments_entitle12_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_claim_inputs",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("facts", sa.Integer, nullable=False),
        sa.Column("last_fact_at", sa.String(40), nullable=False),
        sa.Column("last_fact_id", sa.String(64), nullable=False),
        sa.Column("point_at", sa.String(40), nullable=False),
        sa.Column("point_known_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("point_id", sa.Text, nullable=False),
        sa.Column("point_label", sa.Text, nullable=False),
        sa.Column("valid_from", sa.String(7), nullable=False),
        sa.Column("appraised", sa.Integer, nullable=False),
        sa.Column("grade", sa.Integer),
        sa.Column("care_level", sa.String(16), nullable=False),
        sa.Column("wage_fen", sa.BigInteger),
        sa.Column("wage_ref", sa.Text, nullable=False),
        sa.Column("birth", sa.String(10), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("closed", sa.String(7), nullable=False),
        sa.Column("uninsured_on", sa.String(10), nullable=False),
        sa.Column("sources_care", sa.Text, nullable=False),
        sa.Column("sources_allowance", sa.Text, nullable=False),
        sa.Column("sources_tail", sa.Text, nullable=False),
    )
    op.create_index("ix_entitlement_claim_inputs_region", "entitlement_claim_inputs", ["region"])


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_entitlement_claim_inputs_region", "entitlement_claim_inputs")
    op.drop_table("entitlement_claim_inputs")
