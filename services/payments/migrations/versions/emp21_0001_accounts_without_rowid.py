"""The payees' bank accounts payments keeps (the payouts' and the entitlements') as WITHOUT ROWID
tables on SQLite (issue 11): a go-live writes a row a worker with an account into each; kept in
its primary key's B-tree (each read by payee, its key), a row is one B-tree fewer to write.
PostgreSQL: nothing changes.

Revision ID: payments_emp21_0001
Revises: payments_payouts_0001, payments_entitlements_0001
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "payments_emp21_0001"
down_revision = ("payments_payouts_0001", "payments_entitlements_0001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "payout_payee_accounts", sa.MetaData(),
        sa.Column("payee", sa.String(80), primary_key=True),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_with_rowid=False))
    rebuild_without_rowid(op, sa.Table(
        "entitlement_accounts", sa.MetaData(),
        sa.Column("payee", sa.String(80), primary_key=True),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
