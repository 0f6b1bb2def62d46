"""The risk class of each employer by date (a class change is charged from its effective date),
and the events the levy reacted to with its own.

Revision ID: levy_0003_class_history
"""
import sqlalchemy as sa

revision = "levy_0003_class_history"
down_revision = "levy_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "levy_employer_classes",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("effective_from", sa.Date(), primary_key=True),
        sa.Column("risk_class", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "levy_reactions",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("emitted", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    from alembic import op

    op.drop_table("levy_reactions")
    op.drop_table("levy_employer_classes")
