"""Written decisions on appeals: what each appeal disputes, kept until the decision on it.

Revision ID: claims_documents_0002_appeals
Revises: claims_documents_0001
"""
import sqlalchemy as sa

revision = "claims_documents_0002_appeals"
down_revision = "claims_documents_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "document_appeals",
        sa.Column("appeal_id", sa.String(80), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("facts_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
