"""Imported wage history keyed month, then worker (issue 11): `claims_legacy_wages`' primary key
becomes (period, employee_id, employer_id), from (period, employer_id, employee_id).

A go-live's wage file comes a month at a time, its rows in the order of the workers' file, and a
request of it is a run of those workers. Keyed by the employer after the month, such a request's
rows (one or a few workers of every employer) landed on every page of the month's part of the
B-tree: at a province's 1,000,000 workers a month, every request rewrote the month's whole part
(some 60 MB), in the WAL and again at the checkpoint. Keyed by the worker after the month, the rows
go where the workers' ids put them: workers' ids that sort as they were imported (the enrollment
service's time-ordered ids) put a request's rows in a run of the month's part, a page per some
seventy rows; random ids put them where the employer did (a page a row), no worse. The reader
(handlers.worker_wages: a worker's wages at one employer in some months) names all three columns.

On an existing large table this is one copy of it (SQLite: rebuilt as a WITHOUT ROWID table, its
rows copied in the new key's order, so the new B-tree is appended to, not written at random
places: 2,400,000 rows in 5 s against 13 s unsorted; PostgreSQL: the primary key's index built
again): the table is written only by a go-live's wages import, so a ledger that has imported
already pays it once, at the size of its imported history (12,000,000 rows a province), and one
that has not pays nothing.

Revision ID: claims_wages20_0001
Revises: claims_impwage15_0001
"""
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

revision = "claims_wages20_0001"
down_revision = "claims_impwage15_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "sqlite":
        # libs.db.rebuild_without_rowid's steps (the table has no other index), the copy in the
        # new key's order
        op.execute('ALTER TABLE "claims_legacy_wages" RENAME TO "claims_legacy_wages_by_employer"')
        op.execute(CreateTable(sa.Table(
            "claims_legacy_wages", sa.MetaData(),
            sa.Column("period", sa.String(7), primary_key=True),
            sa.Column("employee_id", sa.String(64), primary_key=True),
            sa.Column("employer_id", sa.String(64), primary_key=True),
            sa.Column("wage_fen", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False)))
        op.execute("INSERT INTO claims_legacy_wages (period, employee_id, employer_id, wage_fen) "
                   "SELECT period, employee_id, employer_id, wage_fen FROM claims_legacy_wages_by_employer "
                   "ORDER BY period, employee_id, employer_id")
        op.execute('DROP TABLE "claims_legacy_wages_by_employer"')
        return
    op.drop_constraint("claims_legacy_wages_pkey", "claims_legacy_wages", type_="primary")
    op.create_primary_key("claims_legacy_wages_pkey", "claims_legacy_wages", ["period", "employee_id", "employer_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
