"""The claims service's own read-model tables (its event store is in libs.events.tables).

Projected from enrollment (employers, employments, workers), from levy (wage reports, and the
`wages` they amount to after corrections) and from the service's own events (claims, for the
worklist). Money is integer fen.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, MetaData, String, Table, Text, case, func, literal

from libs.imports.tables import add_import_tables
from libs.pooling_tables import region_moves_table

metadata = MetaData()

claims_employers = Table(
    "claims_employers", metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("as_of", Date, nullable=False),  # enrolled_on, or the last changed_on applied
)

# One row per hire (a worker may be hired, separated and hired again by one employer).
claims_employments = Table(
    "claims_employments", metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("hired_on", Date, primary_key=True),
    sqlite_with_rowid=False,  # a row per employment: its key's B-tree alone (claims_emp21_0001)
)

claims_separations = Table(
    "claims_separations", metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("separated_on", Date, primary_key=True),
)

claims_workers = Table(
    "claims_workers", metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(6), nullable=False),
    sqlite_with_rowid=False,  # a row per worker: its key's B-tree alone (claims_emp21_0001)
)

# Pooling moves up (enrollment's PoolsConsolidated): each pool's move, so a region's claims are
# those recorded under the pools that belong to it on the day asked (libs.pooling).
claims_region_moves = region_moves_table("claims_region_moves", metadata)

# Every wage report as reported (facts), and its lines.
claims_wage_reports = Table(
    "claims_wage_reports", metadata,
    Column("report_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("correction_of", String(64)),
    Column("sequence", Integer, nullable=False),
    # the report's lines, [[employee_id, wage_fen], ...] (JSON), a repeated worker summed: a row a
    # report, not a row a line (claims_ingest12b_0001); `wages` holds those of the report in force
    Column("lines", Text, nullable=False),
    Index("ix_claims_wage_reports_period", "employer_id", "period"),
)

# Wage history a go-live import brought (levy's WageHistoryImported, or an older log's
# WagesImported): in force for an employer and period while no wage report of that month exists
# (handlers.worker_wages reads it so; it is not copied into `wages`).
claims_legacy_wages = Table(
    "claims_legacy_wages", metadata,
    # month first (claims_impwage15_0001): a file's month fills its own part of the B-tree, not
    # random places among every earlier month's rows of the same workers; then the worker
    # (claims_wages20_0001): a request's rows are a run of the file's workers, whose ids sort as
    # the workers were imported, so they land in a run of the month's part, not beside every
    # employer's rows of the month
    Column("period", String(7), primary_key=True),
    Column("employee_id", String(64), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("wage_fen", BigInteger, nullable=False),
    sqlite_with_rowid=False,  # a row per imported wage: its key's B-tree alone (claims_import11b_0001)
)

# The wages in force: for each employer and period, the lines of its latest report (a
# correction replaces the report it corrects). Derived from the two tables above.
wages = Table(
    "wages", metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("employer_id", String(64), primary_key=True),
    Column("wage_fen", BigInteger, nullable=False),
    Column("report_id", String(64), nullable=False),
    Index("ix_wages_employer_period", "employer_id", "period"),  # each report rebuilds one (employer, period)
    sqlite_with_rowid=False,  # a row per wage line: its key's B-tree alone (claims_ingest12_0001)
)

OPEN_FOR_APPRAISAL = ("recognized", "deemed", "on_treatment_leave")
NO_DEADLINE = date(9999, 12, 31)  # the worklist's due day of a claim awaiting nothing: it sorts last

# The worklist: one row per claim, projected from the service's own events.
claims = Table(
    "claims", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("employee_id", String(64), nullable=False),
    Column("region", String(6), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("status", String(24), nullable=False),
    Column("decision_due_on", Date),  # null once decided
    Column("appraisal_due_on", Date),  # null unless an appraisal is awaited
    Column("insured_wage_fen", BigInteger),
    Column("grade", Integer),
    Column("died", Boolean, nullable=False, default=False),
    Column("sequence", Integer, nullable=False),  # the last event projected
    # The open deadline (the decision's while applied, the appraisal's while one is awaited),
    # else NO_DEADLINE: the worklist's order, read from an index (console_0001_worklist).
    Column("worklist_due_on", Date, nullable=False, default=NO_DEADLINE),
    Index("ix_claims_employee", "employee_id"),
    Index("ix_claims_employer", "employer_id"),
    Index("ix_claims_worklist", "worklist_due_on", "claim_id"),
    Index("ix_claims_region_worklist", "region", "worklist_due_on", "claim_id"),
)


def worklist_due_on():  # noqa: ANN201 - a SQL expression over a claims row
    """The row's `worklist_due_on`, from its own status and deadlines."""
    c = claims.c
    open_deadline = case((c.status == "applied", c.decision_due_on),
                         (c.status.in_(OPEN_FOR_APPRAISAL), c.appraisal_due_on), else_=None)
    return func.coalesce(open_deadline, literal(NO_DEADLINE, Date))


def worklist_due_on_of(row: dict) -> date:
    """`worklist_due_on()` of a claims row held in memory (a batch folded before it is written)."""
    status = row["status"]
    open_deadline = (row["decision_due_on"] if status == "applied" else
                     row["appraisal_due_on"] if status in OPEN_FOR_APPRAISAL else None)
    return open_deadline if open_deadline is not None else NO_DEADLINE

# The levy events the claims service has reacted to with events of its own (a wage correction
# re-deriving an insured wage). Not a projection: a replay keeps it, so a replayed correction
# emits nothing again, just as the outbox keeps what was sent.
claims_reactions = Table(
    "claims_reactions", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("emitted", Integer, nullable=False),
)

# Going live (libs.imports): the imports' summaries, the rows they recorded, the old system's keys.
IMPORT_TABLES = add_import_tables(metadata)
