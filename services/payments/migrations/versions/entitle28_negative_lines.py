"""The negative lines of a region found from an index of their own (issue 12): every payment run
first looks for overpayments (payouts/recovery.recognize: a negative line correcting a line already
paid), and that read every line of the region up to the run's month — a province's history, tens
of millions of lines, for the few negative ones. This index holds only those few (a partial
index), so a month's lines, nearly all positive, add nothing to it.

Revision ID: entitle28_negative_lines
Revises: entitle22_inputs_by_amounts
"""
import sqlalchemy as sa

revision = "entitle28_negative_lines"
down_revision = "entitle22_inputs_by_amounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_index("ix_entitlement_lines_negative", "entitlement_lines", ["payer", "region", "period"],
                    sqlite_where=sa.text("amount_fen < 0"), postgresql_where=sa.text("amount_fen < 0"))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
