"""What the fund statement reads at a province's size (issue 14): the books' daily totals (the
postings summed per recorded key, day, kind and account), the spans of days each employer's
contributions receivable stood above zero, both filled from the postings already there; and two
indexes of the wage reports (the downward corrections of a region; the figures of a region's
months, read from the index alone).

Revision ID: console14_0001_posting_totals
Revises: levy_0003
"""
import sqlalchemy as sa

revision = "console14_0001_posting_totals"
down_revision = "levy_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "levy_posting_totals",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("posted_on", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("debit_fen", sa.BigInteger(), nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), nullable=False),
        sa.Column("postings", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO levy_posting_totals (region, run_id, source, posted_on, kind, account, debit_fen, credit_fen, "
        "postings) SELECT COALESCE(region, ''), CASE WHEN region IS NULL THEN COALESCE(run_id, '') ELSE '' END, "
        "source, posted_on, kind, account, SUM(debit_fen), SUM(credit_fen), COUNT(*) FROM postings "
        "GROUP BY COALESCE(region, ''), CASE WHEN region IS NULL THEN COALESCE(run_id, '') ELSE '' END, "
        "source, posted_on, kind, account")


    op.create_table(
        "levy_receivable_spans",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("from_day", sa.Date(), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("to_day", sa.Date()),
    )
    op.create_index("ix_levy_receivable_spans_region", "levy_receivable_spans",
                    ["region", "to_day", "from_day", "employer_id"])
    _fill_spans(op.get_bind())
    op.create_table(
        "levy_coverage_spans",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("from_day", sa.Date(), primary_key=True),
        sa.Column("to_day", sa.Date()),
    )
    op.create_table(
        "levy_coverage_changes",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("change", sa.Integer(), nullable=False),
    )
    _fill_coverage(op.get_bind())
    negative = sa.text("delta_fen < 0")
    op.create_index("ix_wage_reports_corrections", "wage_reports", ["region", "reported_on", "employer_id"],
                    sqlite_where=negative, postgresql_where=negative)
    op.create_index("ix_wage_reports_region_figures", "wage_reports",
                    ["region", "period", "superseded_by", "payroll_fen", "contribution_fen"])


def _fill_coverage(bind) -> None:  # noqa: ANN001
    """As services/levy/coverage.recount keeps them, from the employments already projected."""
    from datetime import timedelta
    from itertools import groupby

    rows = bind.execute(sa.text(
        "SELECT e.employee_id, r.region, e.hired_on, e.separated_on FROM levy_employments e "
        "JOIN levy_employers r ON r.employer_id = e.employer_id ORDER BY e.employee_id, r.region, e.hired_on")).all()
    spans, changes = [], {}
    for (employee_id, region), group in groupby(rows, key=lambda r: (r[0], r[1])):
        merged: list[list] = []
        for _e, _r, hired_on, separated_on in group:
            hired_on = _day(hired_on)
            end = _day(separated_on) + timedelta(days=1) if separated_on is not None else None
            if merged and (merged[-1][1] is None or hired_on <= merged[-1][1]):
                merged[-1][1] = None if merged[-1][1] is None or end is None else max(merged[-1][1], end)
            else:
                merged.append([hired_on, end])
        for a, b in merged:
            spans.append({"e": employee_id, "r": region, "f": a, "t": b})
            changes[(region, a)] = changes.get((region, a), 0) + 1
            if b is not None:
                changes[(region, b)] = changes.get((region, b), 0) - 1
    if spans:
        bind.execute(sa.text("INSERT INTO levy_coverage_spans (employee_id, region, from_day, to_day) "
                             "VALUES (:e, :r, :f, :t)"), spans)
    held = [{"r": r, "d": d, "n": n} for (r, d), n in changes.items() if n]
    if held:
        bind.execute(sa.text("INSERT INTO levy_coverage_changes (region, day, change) VALUES (:r, :d, :n)"), held)


def _day(value):  # noqa: ANN001, ANN202 - SQLite hands a date back as text
    from datetime import date

    return value if isinstance(value, date) or value is None else date.fromisoformat(str(value)[:10])


def _fill_spans(bind) -> None:  # noqa: ANN001
    """As services/levy/accrual.record_spans makes them, from each employer's levy postings."""
    rows = bind.execute(sa.text(
        "SELECT employer_id, region, posted_on, SUM(debit_fen - credit_fen) FROM postings "
        "WHERE source = 'levy' AND account = 'contributions_receivable' "
        "GROUP BY employer_id, region, posted_on ORDER BY employer_id, posted_on")).all()
    spans, current, balance, opened, last_region = [], None, 0, None, None
    for employer_id, region, day, net in [*rows, (None, None, None, 0)]:
        if employer_id != current:
            if current is not None and opened is not None:
                spans.append({"e": current, "f": opened, "r": last_region, "t": None})
            current, balance, opened = employer_id, 0, None
        if employer_id is None:
            break
        last_region = region
        balance += int(net)
        if balance > 0 and opened is None:
            opened = day
        elif balance <= 0 and opened is not None:
            spans.append({"e": employer_id, "f": opened, "r": region, "t": day})
            opened = None
    if spans:
        bind.execute(sa.text("INSERT INTO levy_receivable_spans (employer_id, from_day, region, to_day) "
                             "VALUES (:e, :f, :r, :t)"), spans)


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
