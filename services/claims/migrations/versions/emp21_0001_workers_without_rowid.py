"""Claims' copies of the workers (`claims_workers`, `claims_employments`) and the parties' names
of its documents as WITHOUT ROWID tables on SQLite (issue 11): a go-live writes a row a worker
into each; kept in its primary key's B-tree (each read by its key, or its key's first column),
a row is one B-tree fewer to write. PostgreSQL: nothing changes.

Revision ID: claims_emp21_0001
Revises: claims_documents_0001
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "claims_emp21_0001"
down_revision = "claims_documents_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "claims_workers", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
        sqlite_with_rowid=False))
    rebuild_without_rowid(op, sa.Table(
        "claims_employments", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("hired_on", sa.Date, primary_key=True),
        sqlite_with_rowid=False))
    rebuild_without_rowid(op, sa.Table(
        "document_parties", sa.MetaData(),
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
