"""The distinct amounts of a region's claims read from an index (issue 12): a month made in the
database (`services/payments/entitlements/in_database.py`) first makes the month's amount and
template of every (grade, care level, wage's policy reference, R.62) among the region's compact
inputs; that was a DISTINCT over every claim's inputs row (a province's: hundreds of MB read each
month), now a skip from one value to the next in this index.

Revision ID: entitle22_inputs_by_amounts
Revises: entitle15_lines_by_month
"""

revision = "entitle22_inputs_by_amounts"
down_revision = "entitle15_lines_by_month"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_index("ix_entitlement_claim_inputs_amounts", "entitlement_claim_inputs",
                    ["region", "grade", "care_level", "wage_ref", "uninsured_on"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
