"""Recovery of overpayments: the overpayments and the deductions runs make for them.

Revision ID: payments_recovery_0001
Revises: payments_0004
"""
import sqlalchemy as sa

revision = "payments_recovery_0001"
down_revision = "payments_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "overpayments",
        sa.Column("overpayment_id", sa.String(40), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("recognized_on", sa.Date, nullable=False),
        sa.Column("recognized_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovery_max_share", sa.String(12), nullable=False),
        sa.Column("lines_json", sa.Text, nullable=False),
        sa.Column("recognized_fen", sa.BigInteger, nullable=False),
        sa.Column("recovered_fen", sa.BigInteger, nullable=False),
        sa.Column("written_off_fen", sa.BigInteger, nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("write_off_reason", sa.String(500)),
        sa.Column("written_off_on", sa.Date),
    )
    op.create_index("ix_overpayments_payee", "overpayments", ["payee", "recognized_at"])
    op.create_index("ix_overpayments_claim", "overpayments", ["claim_id"])
    op.create_table(
        "overpayment_deductions",
        sa.Column("holder_id", sa.String(40), primary_key=True),
        sa.Column("overpayment_id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("payout_id", sa.String(40)),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("gross_fen", sa.BigInteger, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lines_json", sa.Text),
    )
    op.create_index("ix_overpayment_deductions_run", "overpayment_deductions", ["run_id"])
    op.create_index("ix_overpayment_deductions_overpayment", "overpayment_deductions", ["overpayment_id", "status"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
