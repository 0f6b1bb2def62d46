"""The one-line-one-payout lock without its index by payout (issue 12): a run of a million payees
wrote a row per line into that index too, and the only read by payout (a payout the bank
rejected releases its lines) finds them through the payout's member lines instead, which hold the
same lines (runs.apply_returns). PostgreSQL and SQLite alike.

Revision ID: payrun13_lock_no_payout_index
Revises: payrun12c_without_rowid
"""

revision = "payrun13_lock_no_payout_index"
down_revision = "payrun12c_without_rowid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.drop_index("ix_payout_lines_payout", table_name="payout_lines")


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
