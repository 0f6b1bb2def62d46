"""The claim's application date and the employer's late days (R.17), so a medical bill over the
late days is split between the employer and the fund.

Revision ID: payments_payouts_late_days
Revises: payments_payouts_0001
"""
import sqlalchemy as sa

revision = "payments_payouts_late_days"
down_revision = "payments_payouts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("payout_claim_facts") as batch:
        batch.add_column(sa.Column("applied_on", sa.Date()))
        batch.add_column(sa.Column("employer_late_days", sa.Integer()))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("payout_claim_facts") as batch:
        batch.drop_column("employer_late_days")
        batch.drop_column("applied_on")
