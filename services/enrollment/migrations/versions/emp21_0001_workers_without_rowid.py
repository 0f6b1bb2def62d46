"""The workers and the chunk each imported worker came in (`imported_workers`) as WITHOUT ROWID
tables on SQLite (issue 11): a go-live writes a row a worker into both, and kept in its primary
key's B-tree a row is one B-tree fewer to write (the ID number's unique index then holds the
worker's id itself: the import's uniqueness lookup reads that index alone). PostgreSQL: nothing
changes.

Revision ID: enrollment_emp21_0001
Revises: enrollment_impemp14_workers
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "enrollment_emp21_0001"
down_revision = "enrollment_impemp14_workers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    rebuild_without_rowid(op, sa.Table(
        "workers", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(200)),
        sa.Column("bank_changed_on", sa.Date),
        sa.UniqueConstraint("id_number", name="uq_workers_id_number"),
        sqlite_with_rowid=False))
    rebuild_without_rowid(op, sa.Table(
        "imported_workers", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
