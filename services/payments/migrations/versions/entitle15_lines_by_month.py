"""The entitlement lines kept by month (issue 12): a month adds a line to every long-term claim, and
the primary key by line id (a hash: a random place) and the index by (claim, month) (each claim's
own place) took each new line somewhere across the whole history — every page of both rewritten
every month, more as the history grew. The primary key is now (period, line_id) and a claim's lines
are found by (period, claim_id): a month's lines land at the end of both. A lookup by line id or by
claim names the months (`tables.line_periods`). The lines are kept as they are.

SQLite: the table is rebuilt with the new key (its rows copied in month and claim order);
PostgreSQL: the key and the index are replaced.

Revision ID: entitle15_lines_by_month
Revises: entitle13_claims_by_region
"""
import sqlalchemy as sa

revision = "entitle15_lines_by_month"
down_revision = "entitle13_claims_by_region"
branch_labels = None
depends_on = "payments_0005_imports"  # settled_outside: every column is copied

OLD = "entitlement_lines_by_id"


def _lines() -> sa.Table:
    return sa.Table(
        "entitlement_lines", sa.MetaData(),
        sa.Column("line_id", sa.String(120), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", sa.Date),
        sa.Column("period_end", sa.Date),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(16), nullable=False),
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(140)),
        sa.Column("adjusts", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("known_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("explain_json", sa.Text),
        sa.Column("policy_ref_json", sa.Text),
        sa.Column("source_event_ids_json", sa.Text),
        sa.Column("settled_outside", sa.Text),
        sa.Column("texts_id", sa.String(36)),
        sa.PrimaryKeyConstraint("period", "line_id"),
        sa.Index("ix_entitlement_lines_month_claim", "period", "claim_id"),
        sa.Index("ix_entitlement_lines_run", "payer", "region", "period"),
        sa.Index("ix_entitlement_lines_unbanked", "payee", sqlite_where=sa.text("bank_code IS NULL"),
                 postgresql_where=sa.text("bank_code IS NULL")),
    )


def upgrade() -> None:
    from alembic import op
    from sqlalchemy.schema import CreateIndex, CreateTable

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        table = _lines()
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        op.execute(f'ALTER TABLE "entitlement_lines" RENAME TO "{OLD}"')
        for name in ("ix_entitlement_lines_claim", "ix_entitlement_lines_run", "ix_entitlement_lines_unbanked"):
            op.execute(f'DROP INDEX IF EXISTS "{name}"')  # free the names for the new table's
        op.execute(CreateTable(table))
        op.execute(f'INSERT INTO "entitlement_lines" ({columns}) SELECT {columns} FROM "{OLD}" '
                   "ORDER BY period, claim_id, line_id")
        op.execute(f'DROP TABLE "{OLD}"')
        for index in table.indexes:
            op.execute(CreateIndex(index))
        return
    key = sa.inspect(bind).get_pk_constraint("entitlement_lines")["name"] or "entitlement_lines_pkey"
    op.execute(f'ALTER TABLE entitlement_lines DROP CONSTRAINT "{key}"')
    op.execute('ALTER TABLE entitlement_lines ADD CONSTRAINT entitlement_lines_pkey PRIMARY KEY (period, line_id)')
    op.drop_index("ix_entitlement_lines_claim", table_name="entitlement_lines")
    op.create_index("ix_entitlement_lines_month_claim", "entitlement_lines", ["period", "claim_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
