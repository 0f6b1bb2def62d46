"""Going live: an entitlement line paid by the old system before going live is settled outside
the ledger (never in a payment run).

Revision ID: payments_0005_imports
Revises: payments_0004
"""
revision = "payments_0005_imports"
down_revision = "payments_0004"
branch_labels = None
depends_on = "payments_entitlements_0001"  # the table it changes


def upgrade() -> None:
    import sqlalchemy as sa
    from alembic import op

    with op.batch_alter_table("entitlement_lines") as batch:
        batch.add_column(sa.Column("settled_outside", sa.Text))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
