"""Imported wage history is kept once (issue 11): `claims_legacy_wages` alone, read as in force for
a month no report of the employer covers; `wages` holds reports' lines only. The copies an older
projection wrote into `wages` (report_id `legacy`) go. Nothing reads the history by employer and
month any more: its index goes, and on SQLite it becomes a WITHOUT ROWID table (twelve million
rows a province: one B-tree written a row, not three).

Revision ID: claims_import11b_0001
Revises: claims_0005_imports
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "claims_import11b_0001"
down_revision = "claims_0005_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.execute("DELETE FROM wages WHERE report_id = 'legacy'")
    op.drop_index("ix_claims_legacy_wages_employer_period", table_name="claims_legacy_wages")
    rebuild_without_rowid(op, sa.Table(
        "claims_legacy_wages", sa.MetaData(),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
