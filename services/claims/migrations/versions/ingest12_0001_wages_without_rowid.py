"""The claims service's wage lines and wages in force as WITHOUT ROWID tables on SQLite (issue
12): a million wage lines a month each write a row into both; kept in its primary key's B-tree,
a row is one B-tree fewer to write. PostgreSQL: nothing changes.

Revision ID: claims_ingest12_0001
Revises: claims_0004
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "claims_ingest12_0001"
down_revision = "claims_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "claims_wage_lines", sa.MetaData(),
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False))
    rebuild_without_rowid(op, sa.Table(
        "wages", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Index("ix_wages_employer_period", "employer_id", "period"),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
