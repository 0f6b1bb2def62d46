"""The console's worklist by deadline read from an index: each claim's open deadline as a column
(`worklist_due_on`, 9999-12-31 for a claim awaiting none), filled in from the rows there are.

Revision ID: claims_console_0001_worklist
Revises: claims_0004
"""
import sqlalchemy as sa

revision = "claims_console_0001_worklist"
down_revision = "claims_0004"
branch_labels = None
depends_on = None

NO_DEADLINE = "9999-12-31"


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("worklist_due_on", sa.Date(), nullable=False,
                                   server_default=sa.text(f"'{NO_DEADLINE}'")))
    op.execute("UPDATE claims SET worklist_due_on = COALESCE(CASE "
               "WHEN status = 'applied' THEN decision_due_on "
               "WHEN status IN ('recognized', 'deemed', 'on_treatment_leave') THEN appraisal_due_on END, "
               f"'{NO_DEADLINE}')")
    op.create_index("ix_claims_worklist", "claims", ["worklist_due_on", "claim_id"])
    op.create_index("ix_claims_region_worklist", "claims", ["region", "worklist_due_on", "claim_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
