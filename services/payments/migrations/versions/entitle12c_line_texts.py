"""A line's texts stored once (issue 12): the explanation, policy reference and source event ids
of a claim's monthly line are the same every month, over half of its bytes. They now live in
`entitlement_line_texts`, keyed by their digest, and a line points at them (`texts_id`); the
claim's inputs keep the id of their last texts (`care_texts`, `allowance_texts`), so a month made
in the database writes neither the texts nor their digest again.
The payee index keeps only the lines still waiting for a bank account (what it is read for, when
the account comes): a month's lines, made with their account, are in it no more.
The lines already stored keep their texts in their own columns (`texts_id` NULL): every reader
takes a line's texts from where they are (`tables.explained_lines`), so they answer as before.

Revision ID: entitle12c_line_texts
Revises: entitle12b_narrow_states
"""
import sqlalchemy as sa

revision = "entitle12c_line_texts"
down_revision = "entitle12b_narrow_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_line_texts",
        sa.Column("texts_id", sa.String(36), primary_key=True),
        sa.Column("explain_json", sa.Text, nullable=False),
        sa.Column("policy_ref_json", sa.Text, nullable=False),
        sa.Column("source_event_ids_json", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.add_column("entitlement_lines", sa.Column("texts_id", sa.String(36)))
    op.add_column("entitlement_claim_inputs", sa.Column("care_texts", sa.String(52)))
    op.add_column("entitlement_claim_inputs", sa.Column("allowance_texts", sa.String(52)))
    op.drop_index("ix_entitlement_lines_payee", table_name="entitlement_lines")
    op.create_index("ix_entitlement_lines_unbanked", "entitlement_lines", ["payee"],
                    sqlite_where=sa.text("bank_code IS NULL"), postgresql_where=sa.text("bank_code IS NULL"))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
