"""Imported wage history keyed month first (issue 11): `claims_legacy_wages`' primary key becomes
(period, employer_id, employee_id). A go-live's wage file comes a month at a time (or a worker's
months together): keyed by the worker first, each month's rows landed beside every earlier month's
of the same workers, at random places of a B-tree that outgrows any page cache (12,000,000 rows a
province), each commit writing thousands of its pages; keyed by the month first, a month's rows
fill their own part of it. The reader (handlers.worker_wages: a worker's wages at one employer in
twelve months) seeks each month's key as before.

Revision ID: claims_impwage15_0001
Revises: claims_import11b_0001
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "claims_impwage15_0001"
down_revision = "claims_import11b_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "sqlite":
        rebuild_without_rowid(op, sa.Table(
            "claims_legacy_wages", sa.MetaData(),
            sa.Column("period", sa.String(7), primary_key=True),
            sa.Column("employer_id", sa.String(64), primary_key=True),
            sa.Column("employee_id", sa.String(64), primary_key=True),
            sa.Column("wage_fen", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False))
        return
    op.drop_constraint("claims_legacy_wages_pkey", "claims_legacy_wages", type_="primary")
    op.create_primary_key("claims_legacy_wages_pkey", "claims_legacy_wages", ["period", "employer_id", "employee_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
