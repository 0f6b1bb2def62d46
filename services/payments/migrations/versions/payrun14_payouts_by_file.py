"""The payouts keyed as a bank file reads them, (run, bank part, payout id) (issue 12): a file
was read through its index and a step to each row; now it is one range read of the key. On SQLite
the rows live in that key's B-tree alone (WITHOUT ROWID: no rowid table, no index by run and
bank), so a run of a million payees writes one B-tree fewer per payout; a payout is found by its
id through a unique index. PostgreSQL: the primary key becomes (run_id, bank_part, payout_id), the
payout id stays unique, the index by run and bank goes (the key is it).

Revision ID: payrun14_payouts_by_file
Revises: payrun13_lock_no_payout_index
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "payrun14_payouts_by_file"
down_revision = "payrun13_lock_no_payout_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "sqlite":
        rebuild_without_rowid(op, sa.Table(
            "payouts", sa.MetaData(),
            sa.Column("payout_id", sa.String(40), nullable=False),
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
            sa.PrimaryKeyConstraint("run_id", "bank_part", "payout_id", name="payouts_pkey"),
            sa.Index("ux_payouts_payout", "payout_id", unique=True),
            sa.Index("ix_payouts_run_payee", "run_id", "payee"),
            sqlite_with_rowid=False))
        return
    op.create_index("ux_payouts_payout", "payouts", ["payout_id"], unique=True)
    op.drop_constraint("payouts_pkey", "payouts", type_="primary")
    op.create_primary_key("payouts_pkey", "payouts", ["run_id", "bank_part", "payout_id"])
    op.drop_index("ix_payouts_run_bank", table_name="payouts")


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
