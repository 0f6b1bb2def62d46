"""The entitlements part's last derived state per claim: the month it was materialized through
and the knowledge it was derived from, so adding a month to an untouched claim derives that month
alone (issue 12).

Revision ID: payments_perfent_states
Revises: payments_entitlements_0001
"""
import sqlalchemy as sa

revision = "payments_perfent_states"
down_revision = "payments_entitlements_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_claim_states",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("through", sa.String(7), nullable=False),
        sa.Column("knowledge", sa.String(160), nullable=False),
    )


def downgrade() -> None:
    from alembic import op

    op.drop_table("entitlement_claim_states")
