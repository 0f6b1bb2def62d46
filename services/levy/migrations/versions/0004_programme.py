"""Prevention projects and their spending (issue 15).

Revision ID: levy_0004_programme
Revises: levy_0003
"""
import sqlalchemy as sa

revision = "levy_0004_programme"
down_revision = "levy_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "levy_prevention_projects",
        sa.Column("project_id", sa.String(40), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("spent_fen", sa.BigInteger(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_levy_prevention_projects_region", "levy_prevention_projects", ["region", "year", "project_id"])
    op.create_table(
        "levy_prevention_spending",
        sa.Column("spending_id", sa.String(40), primary_key=True),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("payee", sa.String(200), nullable=False),
    )
    op.create_index("ix_levy_prevention_spending_project", "levy_prevention_spending", ["project_id", "paid_on"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
