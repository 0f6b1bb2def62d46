"""Four eyes on payment runs: a run's status, who proposed and who decided it; payouts by run
and payee (a run's changes against the region's previous run).

Revision ID: payments_payouts_0002
Revises: payments_0004
"""
import sqlalchemy as sa

revision = "payments_payouts_0002"
down_revision = "payments_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    # Runs recorded before four eyes were released at once: they read as approved.
    op.add_column("payment_runs", sa.Column("status", sa.String(10), nullable=False, server_default="approved"))
    op.add_column("payment_runs", sa.Column("proposed_by", sa.String(64)))
    op.add_column("payment_runs", sa.Column("proposer", sa.String(100)))
    op.add_column("payment_runs", sa.Column("decided_by", sa.String(64)))
    op.add_column("payment_runs", sa.Column("decider", sa.String(100)))
    op.add_column("payment_runs", sa.Column("decided_at", sa.DateTime(timezone=True)))
    op.add_column("payment_runs", sa.Column("note", sa.String(500)))
    op.create_index("ix_payment_runs_region", "payment_runs", ["region", "created_at"])
    op.create_index("ix_payouts_run_payee", "payouts", ["run_id", "payee"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
