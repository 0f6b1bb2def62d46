"""The levy's read models: enrollment, claims and payments projections, wage reports and wage
history, payments, rate adjustments, and the fund's postings.

Revision ID: levy_0002
"""
import sqlalchemy as sa

revision = "levy_0002"
down_revision = "levy_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "levy_employers",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("risk_class", sa.Integer(), nullable=False),
        sa.Column("base_rate", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enrolled_on", sa.Date()),
        sa.Column("as_of", sa.Date(), nullable=False),
    )
    op.create_index("ix_levy_employers_region", "levy_employers", ["region", "employer_id"])
    op.create_table(
        "levy_employments",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("hired_on", sa.Date(), primary_key=True),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("separated_on", sa.Date()),
    )
    op.create_index("ix_levy_employments_employer", "levy_employments", ["employer_id", "id_number"])
    op.create_table(
        "levy_separations",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("separated_on", sa.Date(), primary_key=True),
    )
    op.create_table(
        "wage_reports",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("payroll_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.String(24), nullable=False),
        sa.Column("multiplier", sa.String(16), nullable=False),
        sa.Column("contribution_fen", sa.BigInteger(), nullable=False),
        sa.Column("delta_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("late_fee_daily", sa.String(16), nullable=False),
        sa.Column("correction_of", sa.String(64)),
        sa.Column("superseded_by", sa.String(64)),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_region", sa.String(6), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_wage_reports_region", "wage_reports", ["region", "period"])
    op.create_index("ix_wage_reports_employer", "wage_reports", ["employer_id", "period"])
    op.create_table(
        "wage_history",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("wage_fen", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_wage_history_employee", "wage_history", ["employee_id", "period"])
    op.create_table(
        "contribution_payments",
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("allocation", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contribution_payments_employer", "contribution_payments", ["employer_id", "paid_on"])
    op.create_table(
        "rate_adjustments",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("risk_class", sa.Integer(), nullable=False),
        sa.Column("base_rate", sa.String(16), nullable=False),
        sa.Column("multiplier", sa.String(16), nullable=False),
        sa.Column("rate", sa.String(24), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("adjusted_on", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("debit_fen", sa.BigInteger(), nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("region", sa.String(6)),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("ref", sa.String(64), nullable=False),
    )
    op.create_index("ix_postings_ref", "postings", ["source", "ref"])
    op.create_index("ix_postings_region", "postings", ["region", "posted_on"])
    op.create_table(
        "levy_payment_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
    )
    op.create_table(
        "levy_payouts",
        sa.Column("payout_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("settled_on", sa.Date()),
        sa.Column("rejected_on", sa.Date()),
    )
    op.create_table(
        "levy_payout_lines",
        sa.Column("payout_id", sa.String(64), primary_key=True),
        sa.Column("line_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_levy_payout_lines_employer", "levy_payout_lines", ["employer_id"])
    op.create_table(
        "levy_injuries",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_levy_injuries_employer", "levy_injuries", ["employer_id", "occurred_on"])
    op.create_table(
        "levy_recognitions",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("recognized", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
