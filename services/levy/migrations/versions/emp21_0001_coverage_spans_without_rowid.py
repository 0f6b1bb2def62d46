"""The workers' coverage spans as a WITHOUT ROWID table on SQLite (issue 11): a go-live writes a
span a new worker; kept in its primary key's B-tree (read by worker, its key's first column), a
row is one B-tree fewer to write. PostgreSQL: nothing changes.

Revision ID: levy_emp21_0001
Revises: console14_0001_posting_totals
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "levy_emp21_0001"
down_revision = "console14_0001_posting_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "levy_coverage_spans", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("from_day", sa.Date, primary_key=True),
        sa.Column("to_day", sa.Date),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
