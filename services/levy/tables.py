"""The levy service's own read-model tables (its event store is in libs.events.tables).

- Projected from other services (projections.py): `levy_employers`, `levy_employments`,
  `levy_separations` (enrollment), `levy_injuries`, `levy_recognitions` (claims),
  `levy_payment_runs`, `levy_payouts`, `levy_payout_lines` (payments); and the benefit postings.
- Written by the levy's own command handlers, in the transaction of their events:
  `wage_reports`, `wage_history`, `contribution_payments`, `rate_adjustments`, and the
  contribution postings (rebuilt per employer from its account's facts).
Money is integer fen (`*_fen`); ratios are decimal text.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, MetaData, String, Table, Text, text

from libs.events.tables import Position

from libs.imports.tables import add_import_tables
from libs.pooling_tables import region_moves_table

metadata = MetaData()

levy_employers = Table(
    "levy_employers",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("risk_class", Integer, nullable=False),
    Column("base_rate", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("enrolled_on", Date),  # null while only an EmployerChanged has arrived
    Column("as_of", Date, nullable=False),  # the date of the state held (latest wins)
    # a migrated employer's floating step, as the old system set it: the multiplier of every year
    # the levy's own rate review has not decided (null: 1.00)
    Column("legacy_multiplier", String(16)),
    Index("ix_levy_employers_region", "region", "employer_id"),
)

# The risk class of each employer from a day on (EmployerEnrolled, then each EmployerChanged):
# a month's contribution is charged by the class in force on each of its days.
levy_employer_classes = Table(
    "levy_employer_classes",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("effective_from", Date, primary_key=True),
    Column("risk_class", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
)

# Events of other services the levy reacted to with events of its own (a back-dated class
# change re-assessing the months it reaches). Not a projection: a replay keeps it, so a replayed
# change assesses nothing twice.
levy_reactions = Table(
    "levy_reactions",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("emitted", Integer, nullable=False),
)

levy_employments = Table(
    "levy_employments",
    metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("hired_on", Date, primary_key=True),
    Column("id_number", String(18), nullable=False),
    Column("separated_on", Date),  # derived from levy_separations: the first one on/after hired_on
    Index("ix_levy_employments_employer", "employer_id", "id_number"),
)

levy_separations = Table(
    "levy_separations",
    metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("separated_on", Date, primary_key=True),
)

wage_reports = Table(
    "wage_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("region", String(6), nullable=False),
    Column("payroll_fen", BigInteger, nullable=False),
    Column("rate", String(24), nullable=False),
    Column("multiplier", String(16), nullable=False),
    Column("contribution_fen", BigInteger, nullable=False),
    Column("delta_fen", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("late_fee_daily", String(16), nullable=False),
    Column("correction_of", String(64)),
    Column("superseded_by", String(64)),  # null: the report in force for its month
    Column("line_count", Integer, nullable=False),
    Column("reported_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("policy_region", String(6), nullable=False),
    Column("policy_version", Integer, nullable=False),
    # a period migrated from the old system (LegacyPeriodImported): what it was paid there, and when
    Column("legacy_paid_fen", BigInteger),
    Column("legacy_paid_on", Date),
    Index("ix_wage_reports_employer", "employer_id", "period"),
    Index("ix_wage_reports_region", "region", "period"),
    # the fund statement's: a region's downward corrections; its months' figures from the index alone
    Index("ix_wage_reports_corrections", "region", "reported_on", "employer_id",
          sqlite_where=text("delta_fen < 0"), postgresql_where=text("delta_fen < 0")),
    Index("ix_wage_reports_region_figures", "region", "period", "superseded_by", "payroll_fen", "contribution_fen"),
)

wage_history = Table(
    "wage_history",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("employee_id", String(64), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("employer_id", String(64), nullable=False),
    Column("wage_fen", BigInteger, nullable=False),
    # a row per wage line: its key's B-tree alone (levy_ingest12_0001), no index by worker, which
    # nothing reads (levy_ingest12b_0001)
    sqlite_with_rowid=False,
)

contribution_payments = Table(
    "contribution_payments",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("region", String(6), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("allocation", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_contribution_payments_employer", "employer_id", "paid_on"),
)

rate_adjustments = Table(
    "rate_adjustments",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("risk_class", Integer, nullable=False),
    Column("base_rate", String(16), nullable=False),
    Column("multiplier", String(16), nullable=False),
    Column("rate", String(24), nullable=False),
    Column("figures", Text, nullable=False),  # JSON
    Column("adjusted_on", Date, nullable=False),
    Column("event_id", String(36), nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("entry_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account", String(64), nullable=False),
    Column("debit_fen", BigInteger, nullable=False),
    Column("credit_fen", BigInteger, nullable=False),
    Column("posted_on", Date, nullable=False),
    Column("source", String(16), nullable=False),  # levy (contributions) | benefits (payouts) | overpayments
    Column("region", String(6)),  # null for a benefit whose region is resolved from its run or employer
    Column("employer_id", String(64)),
    Column("run_id", String(64)),
    Column("ref", String(64), nullable=False),  # employer (levy) or payout (benefits) it is rebuilt by
    Index("ix_postings_ref", "source", "ref"),
    Index("ix_postings_region", "region", "posted_on"),
)

levy_payment_runs = Table(
    "levy_payment_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("region", String(6), nullable=False),
)

levy_payouts = Table(
    "levy_payouts",
    metadata,
    Column("payout_id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("settled_on", Date),
    Column("rejected_on", Date),
)

levy_payout_lines = Table(
    "levy_payout_lines",
    metadata,
    Column("payout_id", String(64), primary_key=True),
    Column("line_id", String(64), primary_key=True),
    Column("employer_id", String(64)),
    Column("family", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Index("ix_levy_payout_lines_employer", "employer_id"),
)

levy_injuries = Table(
    "levy_injuries",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Index("ix_levy_injuries_employer", "employer_id", "occurred_on"),
)

levy_recognitions = Table(
    "levy_recognitions",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("recognized", Boolean, nullable=False),
)

# Prevention (written by services/levy/prevention.py in the transaction of its events).
prevention_projects = Table(
    "levy_prevention_projects",
    metadata,
    Column("project_id", String(40), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("year", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("spent_fen", BigInteger, nullable=False),
    Column("cap_fen", BigInteger, nullable=False),  # the year's cap when it was approved
    Column("approved_on", Date, nullable=False),
    Index("ix_levy_prevention_projects_region", "region", "year", "project_id"),
)

prevention_spending = Table(
    "levy_prevention_spending",
    metadata,
    Column("spending_id", String(40), primary_key=True),
    Column("project_id", String(40), nullable=False),
    Column("region", String(6), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("payee", String(200), nullable=False),
    Index("ix_levy_prevention_spending_project", "project_id", "paid_on"),
)
# Going live (libs.imports): the imports' summaries, the rows they recorded, the old system's keys.
IMPORT_TABLES = add_import_tables(metadata)
# A worker's old keys by worker: a wages row of a worker rehired by its employer is checked against
# the wages imported under the worker's other keys there (imports.WagesKind).
Index("ix_legacy_refs_aggregate", IMPORT_TABLES.legacy_refs.c.kind, IMPORT_TABLES.legacy_refs.c.aggregate_id)
# The wage rows the imports accepted (imports.WageRowsKept), kept apart from import_rows
# (levy_wagelevy21_0001): twelve million a province, each a short row — its key month first, the
# import and row that brought it, and what makes "the same content" (the worker key's length, which
# with the key gives the row's other columns, and the wage as given) — in its key's B-tree alone; a
# row of import_rows was four times the bytes in two B-trees (digest, totals, ref). `digest`: a row
# imported before the table, moved from import_rows with its SHA-256 (its columns are not kept).
imported_wage_rows = Table(
    "imported_wage_rows",
    metadata,
    Column("legacy_id", String(200), primary_key=True),
    Column("import_id", String(64), nullable=False),
    Column("row", Integer, nullable=False),
    Column("worker_chars", Integer),
    Column("wage", Text),
    Column("digest", String(64)),
    sqlite_with_rowid=False,
)

# Pooling moves up (enrollment's PoolsConsolidated): each consolidation, and the move of each
# pool it took (a region is consolidated away once). Facts only: a region by date is resolved
# from them (libs.pooling) wherever the levy reads by region; nothing recorded is rewritten.
levy_consolidations = Table(
    "levy_consolidations",
    metadata,
    Column("consolidation_id", String(40), primary_key=True),
    Column("into_region", String(6), nullable=False),
    Column("from_regions", Text, nullable=False),  # comma-separated, as the event lists them
    Column("effective_from", Date, nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("event_id", String(36), nullable=False),
)

levy_region_moves = region_moves_table("levy_region_moves", metadata)

# The books' daily totals (services/levy/books.py): the postings summed per recorded key, day,
# kind and account, written in the transaction of the postings by every path that writes them,
# so a statement reads days × accounts rows, not every posting. A posting's key is its own
# region; one without (a benefit) is keyed by its payment run ('' for neither), whose region is
# read at statement time, as the postings' own recorded region is (pooling.recorded_region).
posting_totals = Table(
    "levy_posting_totals",
    metadata,
    Column("region", String(6), primary_key=True),  # the posting's own region, '' for none
    Column("run_id", String(64), primary_key=True),  # '' unless region is ''
    Column("source", String(16), primary_key=True),
    Column("posted_on", Date, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("account", String(64), primary_key=True),
    Column("debit_fen", BigInteger, nullable=False),
    Column("credit_fen", BigInteger, nullable=False),
    Column("postings", Integer, nullable=False),  # how many: a total of none is deleted
)

# The days each employer's contributions receivable stood above zero (services/levy/accrual.py),
# written with its levy postings (replaced whole per employer): the statement folds for its late
# fees only the employers owing on its first eve or last day, found here without summing postings.
receivable_spans = Table(
    "levy_receivable_spans",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("from_day", Date, primary_key=True),  # the first day owing
    Column("region", String(6), nullable=False),  # its postings' region
    Column("to_day", Date),  # the first day owing nothing again (null: still owing)
    Index("ix_levy_receivable_spans_region", "region", "to_day", "from_day", "employer_id"),
)

# Insured workers by day (services/levy/coverage.py), written by the enrollment projection with the
# employments: each worker's days covered under each recorded region (its employments there,
# merged), and per region and day how many workers began (+) or stopped (−) being covered, so the
# statement's count on a day is a sum over the days of hirings and separations, not over workers.
coverage_spans = Table(
    "levy_coverage_spans",
    metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("region", String(6), primary_key=True),
    Column("from_day", Date, primary_key=True),
    Column("to_day", Date),  # the first day not covered (null: still covered)
    sqlite_with_rowid=False,  # a span per worker: its key's B-tree alone (levy_emp21_0001)
)

coverage_changes = Table(
    "levy_coverage_changes",
    metadata,
    Column("region", String(6), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("change", Integer, nullable=False),
)
