"""The wage history as a WITHOUT ROWID table on SQLite (issue 12): a million wage lines a month
each write a row into it; kept in its primary key's B-tree, a row is one B-tree fewer to write.
PostgreSQL: nothing changes.

Revision ID: levy_ingest12_0001
Revises: levy_0004
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "levy_ingest12_0001"
down_revision = "levy_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "wage_history", sa.MetaData(),
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
        sa.Index("ix_wage_history_employee", "employee_id", "period"),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
