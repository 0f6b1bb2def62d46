"""Many employers' wage reports in one request (`POST /v1/wage-reports/bulk`, an extension).

Each report goes through the same two stages as `POST /v1/wage-reports` (handlers.check_report,
handlers.record_report): the same checks, the same WageReported event and outbox row, the same
read-model rows and books. What differs is only how the work is grouped: the facts the checks
read are read for a batch of reports at once, a batch is one transaction (so the embedded
runtime relays and projects once per batch, not per report), its wage_reports and wage_history
rows are multi-row inserts, and each employer's postings are rebuilt once per batch.

A report that fails a check is refused alone (its index, or its CSV rows, and the fields); the
others are recorded. A body that is not a list of reports (JSON) or lacks the CSV header is
refused whole before anything is written.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import chain, repeat
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from libs.collector import collector_paused
from libs.runtime.service import ServiceContext

from . import pooling
from .domain.model import WageReport, wage_report_id
from .domain.rules import period_bounds
from .handlers import (
    MAX_LINES_PER_REPORT,
    Actor,
    CheckedReport,
    Invalid,
    ReportWrites,
    _employed_in_months,
    _employments,
    _policy,
    check_report,
    load_aggregates,
    rebuild_postings_of,
    record_report,
)
from .tables import contribution_payments, levy_employer_classes, levy_employers, rate_adjustments

MAX_REPORTS_PER_REQUEST = 100_000
BATCH_REPORTS = 200  # reports per transaction
BATCH_LINES = 20_000  # … or fewer when the reports are large
LOOKUP_CHUNK = 500
CSV_HEADER = ["employer_id", "period", "reported_on", "id_number", "wage"]
REPORT_KEYS = frozenset({"employer_id", "period", "lines", "reported_on"})
LINE_KEYS = frozenset({"id_number", "wage"})


@dataclass
class BulkReport:
    index: int  # the report's place in the request, from 0
    employer_id: Any
    period: Any
    reported_on: date | None
    lines: list[Any]
    rows: list[int] = field(default_factory=list)  # CSV: the file's row of each line (header = 1)
    unreadable: list[dict[str, str]] = field(default_factory=list)  # CSV: rows refused before any check


@dataclass
class Outcome:
    recorded: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0

    def answer(self) -> dict[str, Any]:
        return {"reports": len(self.recorded), "lines": self.lines, "refused": self.refused,
                "results": self.recorded}


class BatchLookups:
    """The facts check_report reads, for a batch of reports in a few queries: the workers
    employed in each report's month (handlers._employed_in_months); every employment of an
    employer only where a line names someone not employed then (to name the problem)."""

    def __init__(self, ctx: ServiceContext, reports: list[BulkReport]) -> None:
        self.ctx = ctx
        names = sorted({r.employer_id for r in reports if isinstance(r.employer_id, str) and 0 < len(r.employer_id) <= 64})
        wanted: dict[tuple[str, date], set[str]] = {}
        months: dict[tuple[date, date], set[str]] = {}
        for r in reports:
            bounds = _bounds(r.period) if r.employer_id in names else None
            if bounds is not None:
                wanted.setdefault((r.employer_id, bounds[0]), set()).update(_id_numbers(r.lines))
                months.setdefault(bounds, set()).add(r.employer_id)

        def read(session: Session) -> tuple[dict, dict, dict, dict]:
            employers, employed, jobs, steps = {}, {}, {}, {}
            for i in range(0, len(names), LOOKUP_CHUNK):
                chunk = names[i:i + LOOKUP_CHUNK]
                employers.update((e.employer_id, e) for e in session.execute(
                    select(levy_employers).where(levy_employers.c.employer_id.in_(chunk))))
                steps.update(((r.employer_id, r.year), Decimal(r.multiplier)) for r in session.execute(
                    select(rate_adjustments.c.employer_id, rate_adjustments.c.year, rate_adjustments.c.multiplier)
                    .where(rate_adjustments.c.employer_id.in_(chunk))))
            for bounds, ids in months.items():
                ids = sorted(ids)
                for i in range(0, len(ids), LOOKUP_CHUNK):
                    employed.update(_employed_in_months(session, {bounds: ids[i:i + LOOKUP_CHUNK]}))
            short = sorted({e for (e, first), ids in wanted.items() if not ids <= employed[(e, first)].keys()})
            for i in range(0, len(short), LOOKUP_CHUNK):  # a line names someone not employed then
                jobs.update(_employments(session, short[i:i + LOOKUP_CHUNK]))
            return employers, employed, jobs, steps

        def complete(session: Session) -> tuple[dict, dict, dict, dict] | None:
            found = read(session)
            employers, employed, jobs, _ = found
            everyone = all(e in employers and (ids <= employed[(e, first)].keys() or ids <= jobs[e].keys())
                           for (e, first), ids in wanted.items())
            return found if everyone else None

        found = ctx.await_projection(complete)  # waits a bounded time for enrollments on their way
        if found is None:
            with ctx.session_factory() as s:
                found = read(s)
        self._employers, self._employed, self._jobs, self._steps = found
        self._policies: dict[tuple[str, date], Any] = {}

    def employer(self, employer_id: str) -> Any:
        return self._employers.get(employer_id) if isinstance(employer_id, str) else None

    def employed(self, employer_id: str, _ids: list[str], first: date, _last: date) -> dict[str, str]:
        return self._employed.get((employer_id, first), {})

    def employments(self, employer_id: str, _wanted: set[str]) -> dict[str, list[tuple[str, date, date | None]]]:
        if employer_id not in self._jobs:  # not read with the batch: read now
            with self.ctx.session_factory() as s:
                self._jobs.update(_employments(s, [employer_id]))
        return self._jobs[employer_id]

    def policy_and_multiplier(self, employer: Any, first: date) -> tuple[str, Any, Decimal]:
        key = (employer.region, first)
        if key not in self._policies:
            with self.ctx.session_factory() as s:
                region = pooling.region_of(s, employer.region, first)  # as handlers.OneByOne
                self._policies[key] = region, _policy(s, region, first, "period")
        step = self._steps.get((employer.employer_id, first.year))
        if step is None:  # handlers._multiplier: the review's step, else the old system's, else 1.00
            step = Decimal(employer.legacy_multiplier) if employer.legacy_multiplier else Decimal("1.00")
        region, version = self._policies[key]
        return region, version, step


def _bounds(period: Any) -> tuple[date, date] | None:
    """The month's first and last day, None for a period check_report refuses."""
    try:
        return period_bounds(period)
    except ValueError:
        return None


def _id_numbers(lines: list[dict[str, Any]]) -> list[str]:
    """The ID numbers of a report's lines that are strings (check_report refuses the others);
    parse_json and parse_csv make every line a dict."""
    ids = list(map(dict.get, lines, repeat("id_number")))
    try:
        "".join(ids)  # all strings (the common case), else TypeError
        return ids
    except TypeError:
        return [i for i in ids if isinstance(i, str)]


def report_many(ctx: ServiceContext, actor: Actor, reports: Iterable[BulkReport]) -> dict[str, Any]:
    """Record the reports batch by batch, in order; each batch commits as one transaction."""
    outcome = Outcome()
    batch: list[BulkReport] = []
    lines = 0
    for report in reports:
        batch.append(report)
        lines += len(report.lines)
        if len(batch) >= BATCH_REPORTS or lines >= BATCH_LINES:
            _record_batch(ctx, actor, batch, outcome)
            batch, lines = [], 0
    if batch:
        _record_batch(ctx, actor, batch, outcome)
    return outcome.answer()


def _record_batch(ctx: ServiceContext, actor: Actor, batch: list[BulkReport], outcome: Outcome) -> None:
    with collector_paused():
        _record_batch_unpaused(ctx, actor, batch, outcome)


def _record_batch_unpaused(ctx: ServiceContext, actor: Actor, batch: list[BulkReport], outcome: Outcome) -> None:
    lookups = BatchLookups(ctx, batch)
    checked: list[tuple[BulkReport, CheckedReport]] = []
    for report in batch:
        if report.unreadable:
            outcome.refused.append(_refusal(report, report.unreadable))
            continue
        try:
            checked.append((report, check_report(ctx, lookups, report.employer_id, report.period, report.lines,
                                                 report.reported_on)))
        except Invalid as exc:
            outcome.refused.append(_refusal(report, exc.errors))
    if not checked:
        return
    ids = sorted({c.employer_id for _, c in checked})
    with ctx.uow(actor) as uow:
        session = uow.session
        paid, classes = _lock_and_read(session, ids)
        aggregates = load_aggregates(session, WageReport, sorted({wage_report_id(c.employer_id, c.period) for _, c in checked}))
        writes = ReportWrites(session)
        regions: dict[str, str] = {}
        for report, c in checked:
            try:
                answer = record_report(uow, c, paid.get(c.employer_id), writes, classes.get(c.employer_id, []),
                                       aggregates)
            except Invalid as exc:  # raised before this report wrote anything
                outcome.refused.append(_refusal(report, exc.errors))
                continue
            outcome.recorded.append(answer)
            outcome.lines += answer["lines"]
            regions[c.employer_id] = c.employer.region
        writes.flush()
        rebuild_postings_of(session, regions)  # the books, once per employer and batch


def _lock_and_read(session: Session, ids: list[str]) -> tuple[dict[str, date], dict[str, list[tuple[date, int]]]]:
    """handlers._lock_account for every employer of the batch (in one order: no deadlock between
    two batches), then each one's last payment and class history."""
    paid: dict[str, date] = {}
    classes: dict[str, list[tuple[date, int]]] = {}
    for i in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[i:i + LOOKUP_CHUNK]
        session.execute(select(levy_employers.c.employer_id).where(levy_employers.c.employer_id.in_(chunk))
                        .order_by(levy_employers.c.employer_id).with_for_update())
        paid.update(session.execute(
            select(contribution_payments.c.employer_id, func.max(contribution_payments.c.paid_on))
            .where(contribution_payments.c.employer_id.in_(chunk)).group_by(contribution_payments.c.employer_id)).all())
        for r in session.execute(select(levy_employer_classes.c.employer_id, levy_employer_classes.c.effective_from,
                                        levy_employer_classes.c.risk_class)
                                 .where(levy_employer_classes.c.employer_id.in_(chunk))):
            classes.setdefault(r[0], []).append((r[1], r[2]))
    return paid, classes


def _refusal(report: BulkReport, errors: list[dict[str, str]]) -> dict[str, Any]:
    """The report's errors, each named in the request: `reports.3.lines.7.wage` (JSON), or the
    CSV row and column (`row` 9, `wage`)."""
    named = []
    for e in errors:
        if report.rows:
            parts = e["field"].split(".")
            if parts[0] == "lines" and len(parts) == 3:
                named.append({"row": report.rows[int(parts[1])], "field": parts[2], "message": e["message"]})
            else:
                named.append({"row": report.rows[0], "field": parts[0], "message": e["message"]})
        else:
            named.append({"field": f"reports.{report.index}.{e['field']}", "message": e["message"]})
    return {"report": report.index, "employer_id": report.employer_id, "period": report.period, "errors": named}


# ------------------------------------------------------------------------------------ parsing

def parse_json(doc: Any) -> list[BulkReport]:
    """`{"reports": [{employer_id, period, reported_on?, lines: [{id_number, wage}]}]}`, its shape
    checked with plain loops (the values are checked per report by check_report)."""
    if not isinstance(doc, dict) or set(doc) != {"reports"} or not isinstance(doc["reports"], list):
        raise Invalid.one("body", 'must be an object {"reports": [...]}')
    if not 0 < len(doc["reports"]) <= MAX_REPORTS_PER_REQUEST:
        raise Invalid.one("reports", f"1 to {MAX_REPORTS_PER_REQUEST} reports per request")
    out, errors = [], []
    for k, r in enumerate(doc["reports"]):
        where = f"reports.{k}"
        if not isinstance(r, dict):
            errors.append({"field": where, "message": "must be an object"})
            continue
        for key in sorted(set(r) - REPORT_KEYS):
            errors.append({"field": f"{where}.{key}", "message": "is not a field of a wage report"})
        for key in ("employer_id", "period"):
            if not isinstance(r.get(key), str):
                errors.append({"field": f"{where}.{key}", "message": "is required, a string"})
        lines = r.get("lines")
        if not isinstance(lines, list):
            errors.append({"field": f"{where}.lines", "message": "is required, a list of lines"})
        elif len(lines) > MAX_LINES_PER_REPORT:
            errors.append({"field": f"{where}.lines", "message": f"at most {MAX_LINES_PER_REPORT} lines per report"})
        elif not _plain_dicts(lines):
            for i, ln in enumerate(lines):
                if not isinstance(ln, dict) or not LINE_KEYS >= ln.keys():
                    errors.append({"field": f"{where}.lines.{i}", "message": "must be {id_number, wage}"})
        reported_on = None
        if r.get("reported_on") is not None:
            try:
                reported_on = date.fromisoformat(r["reported_on"])
            except (TypeError, ValueError):
                errors.append({"field": f"{where}.reported_on", "message": "must be a date YYYY-MM-DD"})
        if len(errors) >= 100:
            break
        out.append(BulkReport(k, r.get("employer_id"), r.get("period"), reported_on, lines))
    if errors:
        raise Invalid(errors)
    return out


def _plain_dicts(lines: list[Any]) -> bool:
    """Every line a dict with no key but id_number and wage, checked with no Python call per
    line (the loop in parse_json names the lines that are not)."""
    return set(map(type, lines)) <= {dict} and LINE_KEYS.issuperset(chain.from_iterable(lines))


def parse_csv(body: bytes) -> Iterator[BulkReport]:
    """`employer_id,period,reported_on,id_number,wage` rows, read as they are consumed (never the
    whole file in memory as rows): consecutive rows of one employer, month and day are a report
    (an empty reported_on: today). Check the header with `csv_header` first."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", newline=""))
    next(reader, None)
    current: BulkReport | None = None
    index = 0
    for n, row in enumerate(reader, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        fields = [f.strip() for f in row] + [""] * (5 - len(row))
        employer_id, period, day, id_number, wage = fields[:5]
        reported_on: Any = None
        if day:
            try:
                reported_on = date.fromisoformat(day)
            except ValueError:
                reported_on = day  # refused with its row below
        key = (employer_id, period, reported_on)
        if current is None or (current.employer_id, current.period, current.reported_on) != key \
                or len(current.lines) >= MAX_LINES_PER_REPORT:
            if current is not None:
                yield current
                index += 1
            current = BulkReport(index, employer_id, period, reported_on, [], [])
            if isinstance(reported_on, str):
                current.unreadable.append({"field": "reported_on", "message": "must be a date YYYY-MM-DD"})
        if len(row) != 5:
            current.unreadable.append({"field": f"lines.{len(current.lines)}.id_number",
                                       "message": f"the row must have 5 fields: {','.join(CSV_HEADER)}"})
        current.lines.append({"id_number": id_number, "wage": wage})
        current.rows.append(n)
    if current is not None:
        yield current


def csv_header(body: bytes) -> None:
    """The first row must be the header; the body UTF-8 throughout (checked before any write)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.one("body", "a CSV file is UTF-8 text") from None
    first = next(csv.reader(io.StringIO(text[:4096].lstrip("\ufeff"), newline="")), None)
    if first is None or [h.strip() for h in first] != CSV_HEADER:
        raise Invalid.one("body", f"a CSV of wage reports starts with the header {','.join(CSV_HEADER)}")
