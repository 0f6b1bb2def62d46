"""Going live: the import tables; a migrated employer's floating step; a migrated period's payment.

Revision ID: levy_0004_imports
Revises: levy_0003
"""
from libs.imports.migration import create_import_tables

revision = "levy_0004_imports"
down_revision = "levy_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    import sqlalchemy as sa
    from alembic import op

    create_import_tables(op)
    with op.batch_alter_table("levy_employers") as batch:
        batch.add_column(sa.Column("legacy_multiplier", sa.String(16)))
    with op.batch_alter_table("wage_reports") as batch:
        batch.add_column(sa.Column("legacy_paid_fen", sa.BigInteger))
        batch.add_column(sa.Column("legacy_paid_on", sa.Date))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
