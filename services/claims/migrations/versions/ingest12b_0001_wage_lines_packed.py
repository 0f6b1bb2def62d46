"""A wage report's lines kept in its own row (issue 12): `claims_wage_reports.lines`, the
report's [[employee_id, wage_fen], ...] as JSON, sorted by worker, in place of the table
`claims_wage_lines` (a row per line, a million a month, that only a rebuild of the report's
month reads). The rows there are moved, then the table goes.

Revision ID: claims_ingest12b_0001
Revises: claims_ingest12_0001
"""
import json
from itertools import groupby

import sqlalchemy as sa

revision = "claims_ingest12b_0001"
down_revision = "claims_ingest12_0001"
branch_labels = None
depends_on = None

CHUNK = 1_000


def upgrade() -> None:
    from alembic import op

    op.add_column("claims_wage_reports", sa.Column("lines", sa.Text, nullable=False, server_default="[]"))
    conn = op.get_bind()
    reports = sa.table("claims_wage_reports", sa.column("report_id"), sa.column("lines"))
    rows = conn.execute(sa.text("SELECT report_id, employee_id, wage_fen FROM claims_wage_lines "
                                "ORDER BY report_id"))
    update = sa.update(reports).where(reports.c.report_id == sa.bindparam("b_report")).values(
        lines=sa.bindparam("b_lines"))
    batch = []
    for report_id, lines in groupby(rows, key=lambda r: r[0]):
        packed = sorted([r[1], int(r[2])] for r in lines)  # by worker as Python sorts (not the collation)
        batch.append({"b_report": report_id, "b_lines": json.dumps(packed, separators=(",", ":"), ensure_ascii=False)})
        if len(batch) >= CHUNK:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)
    op.drop_table("claims_wage_lines")


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
