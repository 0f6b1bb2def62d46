"""The one-line-one-payout lock keyed (payee, line id) (issue 12): a run plans its lines in payee
order, and line ids are hashes, so under a key of the line id alone every probe of the lock and
every lock written landed on a page of its own (a run of a million payees sorted its locks first,
and still walked the whole B-tree). Keyed by payee first, both follow the run's own order. A line
id belongs to one line, and a line to one payee: the key still holds a line at most once.
PostgreSQL and SQLite alike (WITHOUT ROWID on SQLite, as before).

Revision ID: payrun27_lock_by_payee
Revises: payrun14_payouts_by_file
"""
import sqlalchemy as sa

revision = "payrun27_lock_by_payee"
down_revision = "payrun14_payouts_by_file"
branch_labels = None
depends_on = ("payments_entitlements_0001", "payments_recovery_0001")  # the tables the payees come from

NEW = "payout_lines_by_payee"


def upgrade() -> None:
    from alembic import op

    bind = op.get_bind()
    op.create_table(
        NEW,
        sa.Column("payee", sa.String(80), nullable=False),
        sa.Column("line_id", sa.String(120), nullable=False),
        sa.Column("payout_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("payee", "line_id", name=f"{NEW}_pkey"),
        sqlite_with_rowid=False)
    # Each lock's payee: its line's; else its payout's (a recovery's line in a payout), its
    # overpayment's (the negative lines it took over) or its deduction's (lines kept back whole).
    op.execute(
        f"INSERT INTO {NEW} (payee, line_id, payout_id, run_id) "
        "SELECT coalesce(el.payee, po.payee, "
        "(SELECT o.payee FROM overpayments o WHERE o.overpayment_id = pl.payout_id), "
        "(SELECT min(d.payee) FROM overpayment_deductions d WHERE d.holder_id = pl.payout_id), ''), "
        "pl.line_id, pl.payout_id, pl.run_id FROM payout_lines pl "
        "LEFT JOIN entitlement_lines el ON el.line_id = pl.line_id "
        "LEFT JOIN payouts po ON po.payout_id = pl.payout_id "
        "WHERE true ON CONFLICT DO NOTHING")  # WHERE: SQLite's parser needs it before an upsert's ON
    op.drop_table("payout_lines")
    op.rename_table(NEW, "payout_lines")
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE payout_lines RENAME CONSTRAINT {NEW}_pkey TO payout_lines_pkey")


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
