"""Index the wages in force by (employer_id, period): every WageReported rebuilds one employer's
month, which was a scan of the whole table (its key leads with employee_id).

Revision ID: claims_0003
"""
revision = "claims_0003"
down_revision = "claims_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_index("ix_wages_employer_period", "wages", ["employer_id", "period"])


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_wages_employer_period", table_name="wages")
