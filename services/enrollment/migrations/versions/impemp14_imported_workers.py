"""Going live: which chunk of an import enrolled a worker (EmployeesImported).

Revision ID: enrollment_impemp14_workers
Revises: enrollment_0004_imports
"""
import sqlalchemy as sa

revision = "enrollment_impemp14_workers"
down_revision = "enrollment_0004_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "imported_workers",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
