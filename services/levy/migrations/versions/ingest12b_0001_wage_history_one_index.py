"""The wage history without its index by worker (issue 12): every wage line wrote an entry in it,
and no query reads wage_history by worker (the rate review and a class change read a report's
lines by its key). One B-tree fewer per line, on both databases.

Revision ID: levy_ingest12b_0001
Revises: levy_ingest12_0001
"""
revision = "levy_ingest12b_0001"
down_revision = "levy_ingest12_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.drop_index("ix_wage_history_employee", table_name="wage_history", if_exists=True)


def downgrade() -> None:
    from alembic import op

    op.create_index("ix_wage_history_employee", "wage_history", ["employee_id", "period"])
