"""The claims' compact month inputs moved out of their states into a table of their own (issue 12):
a month made in the database moves every untouched claim's state on (`through`), which rewrote
every page of the states with the inputs' text on it; the states are now a few dozen bytes a
claim. The texts are moved as they are. On SQLite the states and both forms of the inputs become
WITHOUT ROWID tables (libs.db.rebuild_without_rowid): a claim's row is found by one B-tree
descent instead of two (its key's index, then the rowid). PostgreSQL: the column is dropped.

Revision ID: entitle12b_narrow_states
Revises: payments_entitle12_columns
"""
import sqlalchemy as sa

from libs.db import rebuild_without_rowid

revision = "entitle12b_narrow_states"
down_revision = "payments_entitle12_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "entitlement_claim_input_texts",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO entitlement_claim_input_texts (claim_id, inputs) "
               "SELECT claim_id, inputs FROM entitlement_claim_states WHERE inputs IS NOT NULL")
    states = sa.Table(
        "entitlement_claim_states", sa.MetaData(),
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("through", sa.String(7), nullable=False),
        sa.Column("knowledge", sa.String(160), nullable=False),
        sqlite_with_rowid=False)
    if op.get_bind().dialect.name == "sqlite":
        rebuild_without_rowid(op, states)  # its columns copied: the inputs' left behind
    else:
        op.drop_column("entitlement_claim_states", "inputs")
    rebuild_without_rowid(op, sa.Table(
        "entitlement_claim_inputs", sa.MetaData(),
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("facts", sa.Integer, nullable=False),
        sa.Column("last_fact_at", sa.String(40), nullable=False),
        sa.Column("last_fact_id", sa.String(64), nullable=False),
        sa.Column("point_at", sa.String(40), nullable=False),
        sa.Column("point_known_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("point_id", sa.Text, nullable=False),
        sa.Column("point_label", sa.Text, nullable=False),
        sa.Column("valid_from", sa.String(7), nullable=False),
        sa.Column("appraised", sa.Integer, nullable=False),
        sa.Column("grade", sa.Integer),
        sa.Column("care_level", sa.String(16), nullable=False),
        sa.Column("wage_fen", sa.BigInteger),
        sa.Column("wage_ref", sa.Text, nullable=False),
        sa.Column("birth", sa.String(10), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("closed", sa.String(7), nullable=False),
        sa.Column("uninsured_on", sa.String(10), nullable=False),
        sa.Column("sources_care", sa.Text, nullable=False),
        sa.Column("sources_allowance", sa.Text, nullable=False),
        sa.Column("sources_tail", sa.Text, nullable=False),
        sa.Index("ix_entitlement_claim_inputs_region", "region"),
        sqlite_with_rowid=False))


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
