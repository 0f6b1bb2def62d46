"""A claim's compact month inputs beside its derived state (issue 12): what deriving one more
month of an untouched claim needs (insured wage, grade, care level, the dates that end a
benefit, the knowledge point), so a region's month is derived for groups of claims sharing them
without reading each claim's facts. NULL: the claim's month is derived from its facts.

Revision ID: payments_entitle12_inputs
Revises: payments_perfent_states
"""
import sqlalchemy as sa

revision = "payments_entitle12_inputs"
down_revision = "payments_perfent_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.add_column("entitlement_claim_states", sa.Column("inputs", sa.Text, nullable=True))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("entitlement_claim_states") as batch:
        batch.drop_column("inputs")
