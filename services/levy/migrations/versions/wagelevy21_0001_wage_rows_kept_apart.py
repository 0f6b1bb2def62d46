"""The wage rows an import accepted are kept apart from import_rows (issue 11): `imported_wage_rows`,
on SQLite a WITHOUT ROWID table — a row's key (month first), the import and row that brought it, the
worker key's length and the wage as given (services/levy/imports.py, `WageRowsKept`). A province's
twelve million rows were each a row of import_rows (digest, totals, ref: four times the bytes, in a
rowid table and its key's index); each is now one short entry of one B-tree. The rows imported
before move over with their digest, which a row posted again is compared with as before.

Revision ID: levy_wagelevy21_0001
Revises: levy_impwage15_0001
"""
import sqlalchemy as sa

revision = "levy_wagelevy21_0001"
down_revision = "levy_impwage15_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "imported_wage_rows",
        sa.Column("legacy_id", sa.String(200), primary_key=True),
        sa.Column("import_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("worker_chars", sa.Integer),
        sa.Column("wage", sa.Text),
        sa.Column("digest", sa.String(64)),
        sqlite_with_rowid=False)
    op.execute('INSERT INTO imported_wage_rows (legacy_id, import_id, "row", digest) '
               "SELECT legacy_id, import_id, \"row\", digest FROM import_rows WHERE kind = 'wages'")
    op.execute("DELETE FROM import_rows WHERE kind = 'wages'")


def downgrade() -> None:
    raise NotImplementedError("a row imported since has no digest to put back into import_rows")
