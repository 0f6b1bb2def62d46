"""Going live: the import tables; the wage history an import brought.

Revision ID: claims_0005_imports
Revises: claims_0004
"""
from libs.imports.migration import create_import_tables

revision = "claims_0005_imports"
down_revision = "claims_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    import sqlalchemy as sa
    from alembic import op

    create_import_tables(op)
    op.create_table(
        "claims_legacy_wages",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_claims_legacy_wages_employer_period", "claims_legacy_wages", ["employer_id", "period"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
