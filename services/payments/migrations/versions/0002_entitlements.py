"""Entitlements: the facts they derive from and the append-only entitlement lines.

Revision ID: payments_entitlements_0001
Revises: payments_0001
"""
import sqlalchemy as sa

revision = "payments_entitlements_0001"
down_revision = "payments_0001"
branch_labels = ("entitlements",)
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_lines",
        sa.Column("line_id", sa.String(120), primary_key=True),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("payer", sa.String(16), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("adjusts", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("known_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("explain_json", sa.Text()),
        sa.Column("policy_ref_json", sa.Text()),
        sa.Column("source_event_ids_json", sa.Text()),
    )
    op.create_index("ix_entitlement_lines_claim", "entitlement_lines", ["claim_id", "period"])
    op.create_index("ix_entitlement_lines_run", "entitlement_lines", ["payer", "region", "period"])
    op.create_index("ix_entitlement_lines_payee", "entitlement_lines", ["payee"])
    op.create_table(
        "entitlement_claim_facts",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_on", sa.Date()),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_entitlement_claim_facts_region", "entitlement_claim_facts", ["type", "region"])
    op.create_table(
        "entitlement_employer_facts",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_table(
        "entitlement_accounts",
        sa.Column("payee", sa.String(80), primary_key=True),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "entitlement_policies",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "entitlement_horizons",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
