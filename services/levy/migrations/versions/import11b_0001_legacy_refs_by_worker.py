"""The old keys of the levy's legacy_refs by worker (issue 11): a wages row of a worker rehired by
its employer is checked against the wages imported under the worker's other keys there.

Revision ID: levy_import11b_0001
Revises: levy_0004_imports
"""
revision = "levy_import11b_0001"
down_revision = "levy_0004_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_index("ix_legacy_refs_aggregate", "legacy_refs", ["kind", "aggregate_id"])


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_legacy_refs_aggregate", table_name="legacy_refs")
