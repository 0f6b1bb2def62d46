"""Paying out: hospitals, medical bills, payment runs, payouts and the line lock.

Revision ID: payments_payouts_0001
Revises: payments_0001
"""
import sqlalchemy as sa

revision = "payments_payouts_0001"
down_revision = "payments_0001"
branch_labels = ("payouts",)
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "payment_runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payout_account_holds",
        sa.Column("payee", sa.String(80), primary_key=True),
        sa.Column("bank_code", sa.String(12), primary_key=True),
        sa.Column("account_no", sa.String(34), primary_key=True),
        sa.Column("reason", sa.String(8), nullable=False),
        sa.Column("payout_id", sa.String(40), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payout_claim_facts",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("employee_id", sa.String(64)),
        sa.Column("region", sa.String(6)),
        sa.Column("occurred_on", sa.Date()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_on", sa.Date()),
        sa.Column("closed_on", sa.Date()),
    )
    op.create_table(
        "payout_hospitals",
        sa.Column("hospital_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("bank_code", sa.String(12), nullable=False),
        sa.Column("account_no", sa.String(34), nullable=False),
        sa.Column("holder", sa.String(140), nullable=False),
        sa.Column("account_changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payout_lines",
        sa.Column("line_id", sa.String(120), primary_key=True),
        sa.Column("payout_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_payout_lines_payout", "payout_lines", ["payout_id"])
    op.create_table(
        "payout_medical_bills",
        sa.Column("bill_id", sa.String(64), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("hospital_id", sa.String(64), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=False),
        sa.Column("items_json", sa.String(None), nullable=False),
        sa.Column("policy_ref_json", sa.String(None), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payout_medical_bills_hospital", "payout_medical_bills", ["hospital_id", "bill_id"])
    op.create_table(
        "payout_members",
        sa.Column("payout_id", sa.String(40), primary_key=True),
        sa.Column("line_id", sa.String(120), primary_key=True),
        sa.Column("claim_id", sa.String(64)),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "payout_payee_accounts",
        sa.Column("payee", sa.String(80), primary_key=True),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("bank_code", sa.String(12), nullable=False),
        sa.Column("bank_part", sa.String(3), nullable=False),
        sa.Column("account_no", sa.String(34), nullable=False),
        sa.Column("holder", sa.String(140), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(8)),
        sa.Column("decided_on", sa.Date()),
    )
    op.create_index("ix_payouts_run_bank", "payouts", ["run_id", "bank_part", "payout_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
