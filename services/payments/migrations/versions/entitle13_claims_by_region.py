"""A region's claims read from the index alone (issue 12): a month of a region streams its claims
(`projection._claims_in`: the InjuryApplied facts of the region), and the index by (type, region)
gave only each fact's row, so every claim's fact row was read from the table for its claim id —
on SQLite a pass over the whole facts table each month. The index now carries the claim id; the
old one, its prefix, is dropped.

Revision ID: entitle13_claims_by_region
Revises: entitle12c_line_texts
"""

revision = "entitle13_claims_by_region"
down_revision = "entitle12c_line_texts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_index("ix_entitlement_claim_facts_region_claim", "entitlement_claim_facts",
                    ["type", "region", "claim_id"])
    op.drop_index("ix_entitlement_claim_facts_region", table_name="entitlement_claim_facts")


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
