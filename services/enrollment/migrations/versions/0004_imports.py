"""Going live: the imports' summaries, the rows they recorded, the old system's keys.

Revision ID: enrollment_0004_imports
Revises: enrollment_0003
"""
from libs.imports.migration import create_import_tables

revision = "enrollment_0004_imports"
down_revision = "enrollment_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    create_import_tables(op)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
