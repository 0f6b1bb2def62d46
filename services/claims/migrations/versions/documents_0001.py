"""Written decisions: the parties' names, each claim's facts, every document with its hash.

A revision of its own off the service's last one, so it orders with nothing else of the service.

Revision ID: claims_documents_0001
Revises: claims_0004
"""
import sqlalchemy as sa

revision = "claims_documents_0001"
down_revision = "claims_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "document_parties",
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "document_claims",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("employee_id", sa.String(64)),
        sa.Column("facts_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_document_claims_employee", "document_claims", ["employee_id"])
    op.create_index("ix_document_claims_employer", "document_claims", ["employer_id"])
    op.create_table(
        "claim_documents",
        sa.Column("document_id", sa.String(40), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source_event_id", sa.String(80), nullable=False, unique=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("verification_code", sa.String(14), nullable=False, unique=True),
        sa.Column("facts_json", sa.Text(), nullable=False),
        sa.Column("title", sa.String(40)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("pdf", sa.LargeBinary()),
        sa.Column("rendered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_claim_documents_claim", "claim_documents", ["claim_id", "issued_on"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
