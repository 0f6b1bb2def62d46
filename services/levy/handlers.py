"""One function per levy command or query: (ctx, actor, input) -> result. No HTTP here.

Every check runs before the first write: a refused request records nothing. The wage report,
its wage history rows, the payment and the employer's contribution postings are written in the
transaction of their event.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timezone
from decimal import Decimal
from itertools import repeat
from operator import attrgetter
from typing import Any, Iterable, Sequence

from pydantic import BaseModel
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from libs.db import driver_cursor, driver_mark
from libs.events.consumer import insert_rows
from libs.events.envelope import utc_now
from libs.events.store import row_to_envelope
from libs.events.tables import events
from libs.money import NotMoney, from_fen, parse_yuan, plain_yuan_fen, plain_yuan_fens, round_fen, to_fen, yuan_str
from libs.policy.projection import policy_in_force, policy_ref
from libs.pooling import Window, windows
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal

from . import accrual, books, coverage, pooling
from .classes import classes_of, segments_of
from .domain import ledger
from .domain.account import FEES_FIRST, Account, Assessment, Payment, fold
from .domain.events import Allocation, PolicyRef, RateFigures, WageLine
from .domain.model import EmployerAccount, WageReport, account_id, wage_report_id
from .domain.rules import (
    AVERAGE_RATE_PLACES,
    clamp_multiplier,
    due_date,
    frequency_per_mille,
    loss_ratio,
    parse_period,
    period_bounds,
    period_of,
    rate_in_force,
    review_years,
    today,
)
from .tables import (
    contribution_payments,
    levy_employers,
    levy_employments,
    levy_injuries,
    levy_payout_lines,
    levy_payouts,
    levy_recognitions,
    postings,
    rate_adjustments,
    wage_history,
    wage_reports,
)

Actor = Principal | str
MAX_LINES_PER_REPORT = 50_000
MAX_ERRORS = 100
MAX_ID_NUMBER_LEN = 18
MAX_EMPLOYERS_PER_REVIEW = 100_000
ZERO = Decimal("0.00")


class Invalid(Exception):
    """Bad input: 422 naming each field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]))
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> "Invalid":
        return cls([{"field": field, "message": message}])


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


# ---------------------------------------------------------------------------------- lookups

def _employer(ctx: ServiceContext, employer_id: str) -> Any:
    if not isinstance(employer_id, str) or not 0 < len(employer_id) <= 64:
        return None
    return ctx.await_projection(lambda s: s.execute(
        select(levy_employers).where(levy_employers.c.employer_id == employer_id)).first())


def _require_employer(ctx: ServiceContext, employer_id: str, field: str = "employer_id") -> Any:
    employer = _employer(ctx, employer_id)
    if employer is None:
        raise Invalid.one(field, f"no employer {employer_id} is enrolled")
    return employer


def _policy(session: Session, region: str, on: date, field: str) -> Any:
    version = policy_in_force(session, region, on)
    if version is None:
        raise Invalid.one(field, f"no policy is in force in region {region} (nor nationally) on {on.isoformat()}")
    return version


def _multiplier(session: Session, employer_id: str, year: int) -> Decimal:
    """The floating step of a year: the rate review's, else a migrated employer's step as the old
    system set it, else 1.00."""
    row = session.execute(select(rate_adjustments.c.multiplier).where(
        rate_adjustments.c.employer_id == employer_id, rate_adjustments.c.year == year)).first()
    if row is not None:
        return Decimal(row.multiplier)
    legacy = session.execute(select(levy_employers.c.legacy_multiplier).where(
        levy_employers.c.employer_id == employer_id)).scalar()
    return Decimal(legacy) if legacy else Decimal("1.00")


def _ref(version: Any) -> PolicyRef:
    return PolicyRef.model_validate(policy_ref(version))


# ------------------------------------------------------------------------------ wage reports

@dataclass(frozen=True)
class ReportedLine:
    id_number: str
    wage: str


def report_wages(ctx: ServiceContext, actor: Actor, employer_id: str, period: str,
                 lines: Sequence[Any], reported_on: date | None = None) -> dict[str, Any]:
    """A month's wages of an employer (a second report of the same month is a correction).

    `lines` are dicts (JSON) or ReportedLine (CSV) with `id_number` and `wage`; validated with
    plain loops, no object per line beyond the event's. `reported_on` is the day the agency
    received the report (default today): not in the future, not before the month began, and not
    before a report or payment the account already holds (what is recorded stays true).
    The bulk route (services/levy/bulk.py) runs the same two stages for many reports at once.
    """
    checked = check_report(ctx, OneByOne(ctx), employer_id, period, lines, reported_on)
    with ctx.uow(actor) as uow:
        _lock_account(uow.session, employer_id)
        writes = ReportWrites(uow.session)
        answer = record_report(uow, checked, _last_paid_on(uow.session, employer_id), writes)
        writes.flush()
        rebuild_postings(uow.session, employer_id, checked.employer.region)
    return answer


@dataclass(frozen=True)
class CheckedReport:
    """A report that passed every check made before its transaction."""

    employer: Any
    period: str
    first: date
    on: date
    employee_ids: list[str]
    wages_fen: list[int]
    region: str  # where the month belongs: the employer's region, or the pool it moved into (pooling.py)
    version: Any
    multiplier: Decimal

    @property
    def employer_id(self) -> str:
        return self.employer.employer_id


class OneByOne:
    """What a report's checks read, one query at a time (the ordinary route). The bulk route
    reads the same facts for a batch of reports at once (bulk.BatchLookups)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def employer(self, employer_id: str) -> Any:
        return _employer(self.ctx, employer_id)

    def employments(self, employer_id: str, wanted: set[str]) -> dict[str, list[tuple[str, date, date | None]]]:
        by_id = self.ctx.await_projection(lambda s: (lambda m: m if wanted <= m.keys() else None)(
            _employments(s, [employer_id])[employer_id]))
        if by_id is None:
            with self.ctx.session_factory() as s:
                by_id = _employments(s, [employer_id])[employer_id]
        return by_id

    def employed(self, employer_id: str, ids: list[str], first: date, last: date) -> dict[str, str]:
        """ID number → employee_id of each worker employed there in the month."""
        return employed_in_month(self.employments(employer_id, set(ids)), first, last)

    def policy_and_multiplier(self, employer: Any, first: date) -> tuple[str, Any, Decimal]:
        """The region the month belongs to, its policy in force and the year's floating step."""
        with self.ctx.session_factory() as s:
            region = pooling.region_of(s, employer.region, first)  # a consolidated pool's month: the new region's
            return region, _policy(s, region, first, "period"), _multiplier(s, employer.employer_id, first.year)

    def classes(self, session: Session, employer: Any) -> list[tuple[date, int]]:
        return classes_of(session, employer.employer_id, employer.risk_class)


def _employments(session: Session, employer_ids: Sequence[str]) -> dict[str, dict[str, list[tuple[str, date, date | None]]]]:
    """employer → ID number → (employee_id, hired_on, separated_on) of each employment there.
    On the driver: a batch of reports reads a row per worker, no SQLAlchemy row each."""
    found: dict[str, dict[str, list[tuple[str, date, date | None]]]] = {e: {} for e in employer_ids}
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    days: dict[Any, date | None] = {None: None}
    statement = ("SELECT employer_id, id_number, employee_id, hired_on, separated_on FROM levy_employments "
                 f"WHERE employer_id IN ({', '.join([mark] * len(employer_ids))})")
    with driver_cursor(conn, statement, tuple(employer_ids)) as cursor:
        cursor.execute(statement, tuple(employer_ids))
        for employer_id, id_number, employee_id, hired, left in cursor:
            hired_on = days.get(hired)
            if hired_on is None:  # SQLite gives the ISO text, PostgreSQL a date
                hired_on = days[hired] = date.fromisoformat(hired) if isinstance(hired, str) else hired
            left_on = days.get(left)
            if left_on is None and left is not None:
                left_on = days[left] = date.fromisoformat(left) if isinstance(left, str) else left
            jobs = found[employer_id]
            if id_number in jobs:
                jobs[id_number].append((employee_id, hired_on, left_on))
            else:
                jobs[id_number] = [(employee_id, hired_on, left_on)]
    return found


def employed_in_month(by_id: dict[str, list[tuple[str, date, date | None]]], first: date,
                      last: date) -> dict[str, str]:
    """ID number → employee_id of its first employment holding a day from `first` to `last`
    (hired by the last day, not separated before the first): whom a line of the month names."""
    out: dict[str, str] = {}
    for id_number, jobs in by_id.items():
        for employee_id, hired, sep in jobs:
            if hired <= last and (sep is None or sep >= first):
                out[id_number] = employee_id
                break
    return out


def _employed_in_months(session: Session, months: dict[tuple[date, date], Sequence[str]]
                        ) -> dict[tuple[str, date], dict[str, str]]:
    """employed_in_month for many employers and months, (employer, first day) → ID number →
    employee_id, the month's bounds a condition of the query: a row per worker employed then,
    three texts each (no dates to read), the first of an ID number's rows kept, as
    employed_in_month keeps its first employment."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    sqlite = conn.dialect.name == "sqlite"  # SQLite keeps dates as ISO text, which compares as dates
    found: dict[tuple[str, date], dict[str, str]] = {}
    for (first, last), employer_ids in months.items():
        mine = {e: found.setdefault((e, first), {}) for e in employer_ids}
        statement = ("SELECT employer_id, id_number, employee_id FROM levy_employments "
                     f"WHERE employer_id IN ({', '.join([mark] * len(employer_ids))}) AND hired_on <= {mark} "
                     f"AND (separated_on IS NULL OR separated_on >= {mark})")
        params = (*employer_ids, *((last.isoformat(), first.isoformat()) if sqlite else (last, first)))
        with driver_cursor(conn, statement, params) as cursor:
            cursor.execute(statement, params)
            for employer_id, id_number, employee_id in cursor:
                workers = mine[employer_id]
                if id_number not in workers:
                    workers[id_number] = employee_id
    return found


def check_report(ctx: ServiceContext, lookups: Any, employer_id: str, period: str, lines: Sequence[Any],
                 reported_on: date | None) -> CheckedReport:
    """Every check of a report that needs no transaction: the month, the day, the lines, who
    works there that month, the policy in force. Raises Invalid naming each field."""
    try:
        parse_period(period)
    except ValueError as exc:
        raise Invalid.one("period", str(exc)) from None
    if len(lines) > MAX_LINES_PER_REPORT:
        raise Invalid.one("lines", f"at most {MAX_LINES_PER_REPORT} lines per report, got {len(lines)}")
    if not lines:
        raise Invalid.one("lines", "a report has at least one line")
    employer = lookups.employer(employer_id)
    if employer is None:
        raise Invalid.one("employer_id", f"no employer {employer_id} is enrolled")
    first, last = period_bounds(period)
    enrolled_on = employer.enrolled_on or employer.as_of
    now = today()
    if first < enrolled_on.replace(day=1):
        raise Invalid.one("period", f"is before the employer's enrollment month {period_of(enrolled_on)}")
    if first > now:
        raise Invalid.one("period", f"is after the current month {period_of(now)}")
    on = now if reported_on is None else reported_on
    if on > now:
        raise Invalid.one("reported_on", f"is in the future (today is {now.isoformat()})")
    if on < first:
        raise Invalid.one("reported_on", f"is before the month {period} began")

    # 1. the lines, as plain values (integer fen): a column at a time when every line is in
    # the commonest form, else line by line (which names each problem)
    ids, wages_fen = _plain_lines(lines) or _lines_one_by_one(lines)

    # 2. who works there that month (waiting a bounded time for hires still on their way): a
    # column mapped when every line names one, else line by line naming each who does not
    employee_ids = list(map(lookups.employed(employer_id, ids, first, last).get, ids))
    if None in employee_ids:
        employee_ids = _employees_one_by_one(lookups.employments(employer_id, set(ids)), ids, employer_id, period,
                                             first, last)

    # 3. the policy in force and the year's floating step
    region, version, multiplier = lookups.policy_and_multiplier(employer, first)
    return CheckedReport(employer, period, first, on, employee_ids, wages_fen, region, version, multiplier)


def _employees_one_by_one(by_id: dict[str, list[tuple[str, date, date | None]]], ids: list[str], employer_id: str,
                          period: str, first: date, last: date) -> list[str]:
    """The employee of each line, every worker not employed in the month named (Invalid)."""
    errors: list[dict[str, str]] = []
    employee_ids: list[str] = []
    for i, id_number in enumerate(ids):
        # employed_in_month, inlined over the month's bounds: this loop runs once per line
        jobs = by_id.get(id_number, ())
        employee_id = None
        for e, hired, sep in jobs:
            if hired <= last and (sep is None or sep >= first):
                employee_id = e
                break
        if employee_id is None:
            known = bool(jobs)
            errors.append({"field": f"lines.{i}.id_number", "message":
                           f"this worker is not employed by {employer_id} in {period}" if known else
                           f"no worker with this ID number is enrolled at {employer_id}"})
            if len(errors) >= MAX_ERRORS:
                break
        employee_ids.append(employee_id)  # type: ignore[arg-type]
    if errors:
        raise Invalid(errors)
    return employee_ids


def _plain_lines(lines: Sequence[Any]) -> tuple[list[str], list[int]] | None:
    """The ID numbers and fen of lines that all pass the line checks in the commonest form:
    each ID number a string of 1 to MAX_ID_NUMBER_LEN characters named once, each wage
    "8123.45". Checked a column at a time, with no Python call per line; None for anything
    else (an error, a wage such as "3000"), which _lines_one_by_one reads and names."""
    try:
        if type(lines[0]) is dict:  # JSON and CSV lines; a line that is no dict: TypeError
            ids, wages = list(map(dict.get, lines, repeat("id_number"))), list(map(dict.get, lines, repeat("wage")))
        else:
            ids, wages = list(map(_ID_NUMBER, lines)), list(map(_WAGE, lines))
        "".join(ids)  # every ID number a string, else TypeError
    except (TypeError, AttributeError):
        return None
    if min(map(len, ids)) == 0 or max(map(len, ids)) > MAX_ID_NUMBER_LEN or len(set(ids)) != len(ids):
        return None
    fens = plain_yuan_fens(wages)
    return None if fens is None else (ids, fens)


_ID_NUMBER, _WAGE = attrgetter("id_number"), attrgetter("wage")


def _lines_one_by_one(lines: Sequence[Any]) -> tuple[list[str], list[int]]:
    """The line checks, one line at a time: every problem named (up to MAX_ERRORS)."""
    errors: list[dict[str, str]] = []
    ids: list[str] = []
    wages_fen: list[int] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(lines):
        if isinstance(line, dict):
            id_number, wage = line.get("id_number"), line.get("wage")
        else:
            id_number, wage = line.id_number, line.wage
        if not isinstance(id_number, str) or not 0 < len(id_number) <= MAX_ID_NUMBER_LEN:
            errors.append({"field": f"lines.{i}.id_number", "message": "must be an 18-character ID number"})
        elif id_number in seen:
            errors.append({"field": f"lines.{i}.id_number",
                           "message": f"is reported twice in this report (also line {seen[id_number]})"})
        else:
            seen[id_number] = i
        fen = plain_yuan_fen(wage)
        if fen is None:  # any other form, the long way (wage_fen)
            try:
                fen = to_fen(parse_yuan(wage))
            except NotMoney as exc:
                errors.append({"field": f"lines.{i}.wage", "message": str(exc)})
                fen = 0
        ids.append(id_number)  # type: ignore[arg-type]
        wages_fen.append(fen)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise Invalid(errors)
    return ids, wages_fen


def wage_fen(wage: Any) -> int:
    """A wage in integer fen, as parse_yuan checks it: the common "8123.45" without a Decimal."""
    fen = plain_yuan_fen(wage)
    return fen if fen is not None else to_fen(parse_yuan(wage))


def _yuan(fen: int) -> Decimal:
    """Integer fen (not negative) as the Decimal yuan parse_yuan gives ("8123.45", "0.00"): the
    point moved, no text between."""
    return Decimal(fen).scaleb(-2)


def _yuans(wages_fen: Sequence[int]) -> Iterable[Decimal]:
    """_yuan of each, mapped in C (a report's lines)."""
    return map(Decimal.scaleb, map(Decimal, wages_fen), repeat(-2))


def load_aggregates(session: Session, cls: type[Any], ids: Sequence[str], chunk: int = 500) -> dict[str, Any]:
    """uow.load of many aggregates of one kind (None: no events yet), their events read together."""
    history: dict[str, list[Any]] = {i: [] for i in ids}
    for i in range(0, len(ids), chunk):
        for r in session.execute(select(events).where(events.c.aggregate_id.in_(ids[i:i + chunk]))
                                 .order_by(events.c.aggregate_id, events.c.sequence)):
            history[r.aggregate_id].append(row_to_envelope(r))
    return {i: cls.rehydrate(i, h) if h else None for i, h in history.items()}


def _last_paid_on(session: Session, employer_id: str) -> date | None:
    return session.execute(select(func.max(contribution_payments.c.paid_on)).where(
        contribution_payments.c.employer_id == employer_id)).scalar_one()


class ReportWrites:
    """The read-model rows of the reports of one transaction, written together (multi-row)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reports: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[str, str, str, str, int]] = []

    def supersede(self, report_id: str, by: str) -> None:
        if report_id in self.reports:
            self.reports[report_id]["superseded_by"] = by
        else:
            self.session.execute(update(wage_reports).where(wage_reports.c.report_id == report_id)
                                 .values(superseded_by=by))

    def flush(self) -> None:
        if self.reports:
            self.session.execute(insert(wage_reports), list(self.reports.values()))
        insert_rows(self.session, wage_history, ("report_id", "employee_id", "period", "employer_id", "wage_fen"),
                    self.history)  # COPY on PostgreSQL
        self.reports, self.history = {}, []


def record_report(uow: Any, c: CheckedReport, last_paid_on: date | None, writes: ReportWrites,
                  classes: list[tuple[date, int]] | None = None,
                  aggregates: dict[str, WageReport | None] | None = None) -> dict[str, Any]:
    """In the transaction (the employer's account locked): the checks against what the account
    holds, the assessment, its event and outbox row; its read-model rows go to `writes`. The
    caller rebuilds the employer's postings once its reports are written. `aggregates`: the
    month's WageReport as the caller already read it in this transaction (kept up to date)."""
    employer_id, period, on = c.employer_id, c.period, c.on
    key = wage_report_id(employer_id, period)
    if aggregates is not None and key in aggregates:
        aggregate = aggregates[key] or WageReport(key)
    else:
        aggregate = uow.load(WageReport, key) or WageReport(key)
    for earlier, what in ((aggregate.last_reported_on, "the last report of this month"),
                          (last_paid_on, "the employer's last payment")):
        if earlier is not None and on < earlier:
            raise Invalid.one("reported_on", f"is before {what}, on {earlier.isoformat()}")
    doc = c.version.document
    due = due_date(period, doc.due_day)
    report_id = "wr_" + uuid.uuid4().hex[:16]
    payroll_fen = sum(c.wages_fen)
    # the class of each day of the month (a class change is charged from its effective date)
    if classes is None:
        classes = classes_of(uow.session, employer_id, c.employer.risk_class)
    segments = segments_of(classes, c.employer.risk_class, period, doc, c.multiplier)
    event = aggregate.report(
        report_id=report_id, employer_id=employer_id, region=c.region, period=period,
        lines=tuple(map(_wage_line, c.employee_ids, _yuans(c.wages_fen))), payroll=from_fen(payroll_fen),
        segments=segments, multiplier=c.multiplier, due_date=due, late_fee_daily=doc.late_fee_daily,
        policy_ref=_ref(c.version), on=on)
    rate = event.rate
    [envelope] = uow.save(aggregate)
    if aggregates is not None:
        aggregates[key] = aggregate
    if event.correction_of:
        writes.supersede(event.correction_of, report_id)
    writes.reports[report_id] = dict(
        report_id=report_id, employer_id=employer_id, period=period, region=c.region,
        payroll_fen=payroll_fen, rate=str(rate), multiplier=str(c.multiplier),
        contribution_fen=to_fen(event.contribution_due), delta_fen=to_fen(event.delta_due), due_date=due,
        late_fee_daily=str(doc.late_fee_daily), correction_of=event.correction_of, superseded_by=None,
        line_count=len(c.employee_ids), reported_on=on, recorded_at=envelope.recorded_at,
        policy_region=c.version.region, policy_version=c.version.version, legacy_paid_fen=None, legacy_paid_on=None)
    writes.history.extend(zip(repeat(report_id), c.employee_ids, repeat(period), repeat(employer_id), c.wages_fen))
    return {"report_id": report_id, "employer_id": employer_id, "period": period, "payroll": yuan_str(payroll_fen),
            "rate": str(rate), "multiplier": str(c.multiplier), "contribution_due": yuan_str(event.contribution_due),
            "due_date": due.isoformat(), "delta_due": yuan_str(event.delta_due),
            "correction_of": event.correction_of, "lines": len(c.employee_ids), "reported_on": on.isoformat(),
            "policy_ref": policy_ref(c.version)}


_LINE_FIELDS = frozenset(WageLine.model_fields)
_NEW_LINE = WageLine.__new__
# pydantic's slots, set through their descriptors (a model's own __setattr__ validates)
_SET_DICT = object.__setattr__
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def _wage_line(employee_id: str, wage: Decimal) -> WageLine:
    """A line from values this handler has just checked: no second validation (50,000 a report)."""
    line = _NEW_LINE(WageLine)
    _SET_DICT(line, "__dict__", {"employee_id": employee_id, "wage": wage})
    _SET_FIELDS(line, _LINE_FIELDS)
    _SET_EXTRA(line, None)
    _SET_PRIVATE(line, None)
    return line


# -------------------------------------------------------------------------- account and books

def _facts(session: Session, employer_id: str) -> tuple[list[Assessment], list[Payment]]:
    return _facts_of(session, [employer_id])[employer_id]


def _facts_of(session: Session, employer_ids: Sequence[str]) -> dict[str, tuple[list[Assessment], list[Payment]]]:
    """Each employer's assessments and payments (the facts its account folds), a query per kind."""
    out: dict[str, tuple[list[Assessment], list[Payment]]] = {e: ([], []) for e in employer_ids}
    for r in session.execute(select(wage_reports).where(wage_reports.c.employer_id.in_(employer_ids))):
        out[r.employer_id][0].append(Assessment(
            on=r.reported_on, order=f"{_stamp(r.recorded_at)}|{r.report_id}", report_id=r.report_id,
            period=r.period, delta_fen=r.delta_fen, due_date=r.due_date, late_fee_daily=Decimal(r.late_fee_daily),
            settled_fen=r.legacy_paid_fen or 0, settled_on=r.legacy_paid_on))
    for r in session.execute(select(contribution_payments).where(
            contribution_payments.c.employer_id.in_(employer_ids))):
        out[r.employer_id][1].append(Payment(
            on=r.paid_on, order=f"{_stamp(r.recorded_at)}|{r.payment_id}", payment_id=r.payment_id,
            amount_fen=r.amount_fen, allocation=r.allocation))
    return out


def _stamp(recorded_at: Any) -> str:
    """The order of facts recorded on one day: their UTC recording time (SQLite hands it back
    without a zone, PostgreSQL in the session's zone)."""
    if recorded_at.tzinfo is not None:
        recorded_at = recorded_at.astimezone(timezone.utc)
    return recorded_at.replace(tzinfo=None).isoformat(timespec="microseconds")


def _lock_account(session: Session, employer_id: str) -> None:
    """Commands on one employer's account take turns: each re-folds all the account's facts and
    replaces its postings, so two at once on PostgreSQL (READ COMMITTED) could each miss the
    other's movement. A row lock on the employer serializes them (SQLite's write lock already does)."""
    session.execute(select(levy_employers.c.employer_id)
                    .where(levy_employers.c.employer_id == employer_id).with_for_update())


def rebuild_postings(session: Session, employer_id: str, region: str, account: Account | None = None) -> None:
    """The employer's contribution postings, from the fold of all its facts (replaced whole)."""
    if account is None:
        rebuild_postings_of(session, {employer_id: region})
    else:
        _replace_postings(session, {employer_id: (region, account)})


def rebuild_postings_of(session: Session, regions: dict[str, str], chunk: int = 500) -> None:
    """rebuild_postings for many employers (employer → region), their facts read together."""
    ids = sorted(regions)
    for i in range(0, len(ids), chunk):
        facts = _facts_of(session, ids[i:i + chunk])
        _replace_postings(session, {e: (regions[e], fold(*facts[e])) for e in ids[i:i + chunk]})


def _replace_postings(session: Session, accounts: dict[str, tuple[str, Account]]) -> None:
    rows = [{"entry_id": e.entry_id, "kind": e.kind, "account": ln.account, "debit_fen": ln.debit_fen,
             "credit_fen": ln.credit_fen, "posted_on": e.posted_on, "source": "levy", "region": region,
             "employer_id": employer_id, "run_id": None, "ref": employer_id}
            for employer_id, (region, account) in accounts.items()
            for e in ledger.entries_for_movements(account.movements) for ln in e.lines]
    books.replace(session, (postings.c.source == "levy", postings.c.ref.in_(list(accounts))), rows)
    accrual.record_spans(session, {employer_id: region for employer_id, (region, _a) in accounts.items()}, rows)


def pay_contribution(ctx: ServiceContext, actor: Actor, employer_id: str, amount_text: Any,
                     paid_on: date) -> dict[str, Any]:
    try:
        amount = parse_yuan(amount_text)
    except NotMoney as exc:
        raise Invalid.one("amount", str(exc)) from None
    if amount <= 0:
        raise Invalid.one("amount", "must be greater than 0")
    now = today()
    if paid_on > now:
        raise Invalid.one("paid_on", f"is in the future (today is {now.isoformat()})")
    employer = _require_employer(ctx, employer_id)
    if employer.enrolled_on and paid_on < employer.enrolled_on:
        raise Invalid.one("paid_on", f"is before the employer's enrollment on {employer.enrolled_on.isoformat()}")
    payment_id = "cp_" + uuid.uuid4().hex[:16]
    with ctx.uow(actor) as uow:
        session = uow.session
        _lock_account(session, employer_id)
        region = pooling.region_of(session, employer.region, paid_on)
        version = _policy(session, region, paid_on, "paid_on")
        allocation = getattr(version.document, "payment_allocation", FEES_FIRST)
        account = uow.load(EmployerAccount, account_id(employer_id)) or EmployerAccount(account_id(employer_id))
        if account.last_paid_on is not None and paid_on < account.last_paid_on:
            raise Invalid.one("paid_on", f"is before the last payment recorded, on {account.last_paid_on.isoformat()}")
        assessments, payments = _facts(session, employer_id)
        recorded_at = _now_stamp()
        new = Payment(on=paid_on, order=f"{recorded_at}|{payment_id}", payment_id=payment_id,
                      amount_fen=to_fen(amount), allocation=allocation)
        folded = fold(assessments, [*payments, new])
        at_payment = fold(assessments, [*payments, new], on=paid_on)
        taken, left = folded.allocations[payment_id]
        event = account.pay(
            payment_id=payment_id, employer_id=employer_id, region=region, amount=amount, paid_on=paid_on,
            allocations=tuple(Allocation(period=t.period, late_fee=from_fen(t.late_fee_fen),
                                         contribution=from_fen(t.contribution_fen)) for t in taken),
            credit=from_fen(left), credit_balance=from_fen(at_payment.credit_fen), payment_allocation=allocation)
        [envelope] = uow.save(account)
        session.execute(insert(contribution_payments).values(
            payment_id=payment_id, employer_id=employer_id, region=region, amount_fen=to_fen(amount),
            paid_on=paid_on, allocation=allocation, recorded_at=envelope.recorded_at))
        # the order key written must be the one folded: re-fold from what is stored
        rebuild_postings(session, employer_id, employer.region)
    return {"payment_id": payment_id, "employer_id": employer_id, "amount": yuan_str(amount),
            "paid_on": paid_on.isoformat(),
            "allocations": [{"period": a.period, "late_fee": yuan_str(a.late_fee),
                             "contribution": yuan_str(a.contribution)} for a in event.allocations],
            "credit": yuan_str(event.credit), "credit_balance": yuan_str(event.credit_balance),
            "balance": yuan_str(at_payment.balance_fen)}


def _now_stamp() -> str:
    return _stamp(utc_now())


def account_view(ctx: ServiceContext, employer_id: str, on: date) -> dict[str, Any]:
    employer = _employer(ctx, employer_id)
    if employer is None:
        raise NotFound(f"employer {employer_id} does not exist")
    with ctx.session_factory() as session:
        account = fold(*_facts(session, employer_id), on=on)
        region = pooling.region_of(session, employer.region, on)
        version = policy_in_force(session, region, on)
        history = session.execute(select(rate_adjustments).where(
            rate_adjustments.c.employer_id == employer_id, rate_adjustments.c.adjusted_on <= on)
            .order_by(rate_adjustments.c.year)).all()
        reports = {r.period: r for r in session.execute(select(wage_reports).where(
            wage_reports.c.employer_id == employer_id, wage_reports.c.reported_on <= on)
            .order_by(wage_reports.c.reported_on, wage_reports.c.recorded_at))}
    multiplier = next((Decimal(h.multiplier) for h in history if h.year == on.year), Decimal("1.00"))
    rate = str(rate_in_force(version.document.base_rate(employer.risk_class), multiplier)) if version else None
    periods = []
    for key in sorted(account.periods):
        p = account.periods[key]
        r = reports.get(key)
        periods.append({
            "period": key, "due_date": p.due_date.isoformat(), "report_id": r.report_id if r else None,
            "payroll": yuan_str(r.payroll_fen) if r else None, "rate": r.rate if r else None,
            "contribution": yuan_str(p.due_fen), "paid": yuan_str(p.paid_fen),
            "outstanding": yuan_str(p.contribution_owed_fen), "late_fee": yuan_str(p.fee_assessed_fen),
            "late_fee_paid": yuan_str(p.fee_paid_fen), "late_fee_outstanding": yuan_str(p.fee_owed_fen),
            "days_overdue": max(0, (on - p.due_date).days) if p.contribution_owed_fen > 0 else 0})
    return {
        "employer_id": employer_id, "on": on.isoformat(), "region": region, "enrolled_region": employer.region,
        "risk_class": employer.risk_class, "assessed": yuan_str(account.assessed_fen),
        "paid": yuan_str(account.received_fen), "arrears": yuan_str(account.arrears_fen),
        "late_fees": yuan_str(account.late_fees_fen), "late_fees_outstanding": yuan_str(account.late_fees_owed_fen),
        "balance": yuan_str(account.balance_fen), "credit": yuan_str(account.credit_fen), "rate": rate,
        "multiplier": str(multiplier),
        "rate_history": [{"year": h.year, "risk_class": h.risk_class, "base_rate": h.base_rate,
                          "multiplier": h.multiplier, "rate": h.rate, "adjusted_on": h.adjusted_on.isoformat(),
                          "figures": json.loads(h.figures)} for h in history],
        "periods": periods,
    }


# ------------------------------------------------------------------------------ rate review

def review_rates(ctx: ServiceContext, actor: Actor, region: str, year: int) -> dict[str, Any]:
    """人社部发〔2015〕71号: each active employer's floating step for `year`, from its experience
    over the policy's look-back years before it: claims paid by the fund against contributions
    assessed (loss ratio), and recognized injuries per thousand insured workers."""
    now = today()
    if not 2000 <= year <= now.year + 1:
        raise Invalid.one("year", f"must be between 2000 and {now.year + 1}")
    starts = date(year, 1, 1)
    with ctx.session_factory() as session:
        known = pooling.moves(session)
        gone = known.get(region)
        if gone is not None and gone.effective_from <= starts:
            raise Invalid.one("region", f"pool {region} belongs to {gone.into_region} from "
                                        f"{gone.effective_from.isoformat()}: review {gone.into_region}")
        version = _policy(session, region, starts, "year")
        doc = version.document
        first_year, last_year = review_years(year, doc.rate_review.lookback_years)
        window = (date(first_year, 1, 1), date(last_year, 12, 31))
        first_period, last_period = f"{first_year:04d}-01", f"{last_year:04d}-12"
        # the employers that belong to the region on the year's first day (a pool consolidated
        # into it by then brings its own), each with its whole look-back, whichever pool it was in
        belongs = pooling.employers_of(region, starts, known)
        employers = session.execute(select(levy_employers).where(belongs, levy_employers.c.status == "active")
            .order_by(levy_employers.c.employer_id).limit(MAX_EMPLOYERS_PER_REVIEW)).all()
        ids = [e.employer_id for e in employers]
        current = and_(wage_reports.c.superseded_by.is_(None), wage_reports.c.period >= first_period,
                       wage_reports.c.period <= last_period, belongs)
        of_employer = levy_employers.c.employer_id == wage_reports.c.employer_id
        contributions = dict(session.execute(
            select(wage_reports.c.employer_id, func.sum(wage_reports.c.contribution_fen))
            .select_from(wage_reports.join(levy_employers, of_employer))
            .where(current).group_by(wage_reports.c.employer_id)).all())
        workers = dict(session.execute(
            select(wage_reports.c.employer_id, func.count(func.distinct(wage_history.c.employee_id)))
            .select_from(wage_reports.join(levy_employers, of_employer)
                         .join(wage_history, wage_history.c.report_id == wage_reports.c.report_id))
            .where(current).group_by(wage_reports.c.employer_id)).all())
        claims_cost = dict(session.execute(
            select(levy_payout_lines.c.employer_id, func.sum(levy_payout_lines.c.amount_fen))
            .select_from(levy_payout_lines.join(levy_payouts, levy_payouts.c.payout_id == levy_payout_lines.c.payout_id))
            .where(levy_payouts.c.settled_on.between(*window), levy_payouts.c.rejected_on.is_(None),
                   levy_payout_lines.c.employer_id.in_(ids))
            .group_by(levy_payout_lines.c.employer_id)).all()) if ids else {}
        injuries = dict(session.execute(
            select(levy_injuries.c.employer_id, func.count())
            .select_from(levy_injuries.join(levy_recognitions, levy_recognitions.c.claim_id == levy_injuries.c.claim_id))
            .where(levy_recognitions.c.recognized.is_(True), levy_injuries.c.occurred_on.between(*window),
                   levy_injuries.c.employer_id.in_(ids))
            .group_by(levy_injuries.c.employer_id)).all()) if ids else {}

    decisions, skipped = [], []
    with ctx.uow(actor) as uow:
        for employer in employers:
            eid = employer.employer_id
            contributions_fen = int(contributions.get(eid) or 0)
            if contributions_fen <= 0:
                skipped.append({"employer_id": eid, "reason": f"no contributions assessed in {first_year}–{last_year}"})
                continue
            cost_fen = int(claims_cost.get(eid) or 0)
            n_injuries, n_workers = int(injuries.get(eid) or 0), int(workers.get(eid) or 0)
            ratio = loss_ratio(from_fen(cost_fen), from_fen(contributions_fen))
            frequency = frequency_per_mille(n_injuries, n_workers)
            wanted = doc.rate_review.step_for(ratio, frequency).multiplier
            multiplier = clamp_multiplier(wanted, doc.allowed_multipliers(employer.risk_class))
            base_rate = doc.base_rate(employer.risk_class)
            figures = RateFigures(contributions=from_fen(contributions_fen), claims_cost=from_fen(cost_fen),
                                  loss_ratio=ratio, injuries=n_injuries, workers=n_workers,
                                  frequency_per_mille=frequency)
            account = uow.load(EmployerAccount, account_id(eid)) or EmployerAccount(account_id(eid))
            event = account.adjust_rate(employer_id=eid, year=year, risk_class=employer.risk_class,
                                        base_rate=base_rate, multiplier=multiplier, wanted_multiplier=wanted,
                                        figures=figures, policy_ref=_ref(version), lookback=(first_year, last_year),
                                        on=now)
            if event is not None:
                [envelope] = uow.save(account)
                uow.session.execute(delete(rate_adjustments).where(
                    rate_adjustments.c.employer_id == eid, rate_adjustments.c.year == year))
                uow.session.execute(insert(rate_adjustments).values(
                    employer_id=eid, year=year, risk_class=employer.risk_class, base_rate=str(base_rate),
                    multiplier=str(multiplier), rate=str(event.rate),
                    figures=json.dumps(figures.model_dump(mode="json"), sort_keys=True), adjusted_on=now,
                    event_id=str(envelope.event_id)))
            decided = account.rates[year]
            decisions.append({
                "employer_id": eid, "year": year, "risk_class": employer.risk_class, "base_rate": str(base_rate),
                "wanted_multiplier": str(wanted), "multiplier": str(decided.multiplier), "rate": str(decided.rate),
                "figures": figures.model_dump(mode="json"), "recorded": event is not None})
    return {"region": region, "year": year, "lookback": {"from": first_year, "to": last_year},
            "policy_ref": policy_ref(version), "decisions": decisions, "skipped": skipped}


# ---------------------------------------------------------------------------- fund statement

def _in_region(session: Session, region: str):  # noqa: ANN202 - a SQL condition
    """A region's postings: recorded under it (or under a pool consolidated into it) on the days
    they belong to it (services/levy/pooling.py)."""
    return pooling.in_region(region, pooling.moves(session))


COLLECTION_KINDS = ("payment", "credit_applied", "credit_released")  # what settles a contribution


def contributions_collected(session: Session, region: str, start: date, end: date,
                            pools_of_day: date | None = None) -> int:
    """Fen of contributions collected in `region` from `start` to `end` (both included), by
    payment date: the statement's `contributions_collected`. With `pools_of_day` (the prevention
    cap's basis), those of every pool that belongs to `region` on that day, on whichever day: a
    pool consolidated into it brings its income."""
    known = pooling.moves(session)
    spans = (windows(region, known) if pools_of_day is None
             else [Window(source, None, None) for source in pooling.pools_on(region, pools_of_day, known)])
    book = books.sums(session, spans, start, end, accounts=(ledger.CONTRIBUTIONS_RECEIVABLE,), kinds=COLLECTION_KINDS)
    return sum(c - d for d, c in book.values())


def _plus(*books: dict[tuple[str, str], tuple[int, int]]) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for book in books:
        for key, (d, c) in book.items():
            d0, c0 = out.get(key, (0, 0))
            out[key] = (d0 + d, c0 + c)
    return out


def _ratio(numerator_fen: int, denominator_fen: int, places: Decimal) -> str | None:
    if denominator_fen == 0:
        return None
    return str((Decimal(numerator_fen) / Decimal(denominator_fen)).quantize(places))


@dataclass(frozen=True)
class StatementFigures:
    """What a fund statement of a region and range is made of (the view is `statement_view`)."""
    total_debit: int  # the whole book's
    total_credit: int
    within: books.Book  # (kind, account) → (debit, credit) of the range, carry-overs included
    to_date: books.Book  # the same through its last day
    carry_overs: list  # pooling.CarryOver of the region, whatever their date
    version: Any  # noqa: ANN401 - the PolicyVersion in force on the last day, or None
    insured: int
    employers: int
    payroll_fen: int  # of the periods the range touches
    assessed_by_period_fen: int
    fees: accrual.LateFees
    prevention_years: list[dict[str, Any]]


def fund_statement(ctx: ServiceContext, region: str, start: date, end: date) -> dict[str, Any]:
    """RULES.md "The fund": income and expenditure of a region between two days (both included),
    from the postings; the books must balance. (By month, in one pass: statement_months.py.)"""
    if end < start:
        raise Invalid.one("to", f"is before from ({start.isoformat()})")
    with ctx.session_factory() as session:
        total_debit, total_credit = books.whole_book(session)
        assert total_debit == total_credit, "the fund's books do not balance"
        known = pooling.moves(session)
        spans = windows(region, known)
        within = _plus(books.sums(session, spans, start, end),
                       pooling.carried_lines(session, region, known, start, end))
        to_date = _plus(books.sums(session, spans, None, end),
                        pooling.carried_lines(session, region, known, None, end))
        carry_overs = pooling.carry_overs(session, region, known)
        belongs = pooling.employers_of(region, end, known)
        version = policy_in_force(session, region, end)
        sources = pooling.pools_on(region, end, known)
        # one recorded region: its count by day; several: a worker under two is counted once
        insured = coverage.insured_on(session, sources, end) if len(sources) <= 1 else \
            insured_under_several(session, belongs, end)
        employers = session.execute(select(func.count()).select_from(levy_employers).where(
            belongs, levy_employers.c.status == "active",
            or_(levy_employers.c.enrolled_on.is_(None), levy_employers.c.enrolled_on <= end))).scalar_one()
        payroll_fen, assessed_by_period_fen = session.execute(
            select(func.coalesce(func.sum(wage_reports.c.payroll_fen), 0),
                   func.coalesce(func.sum(wage_reports.c.contribution_fen), 0))
            .where(pooling.reports_in(region, known), wage_reports.c.superseded_by.is_(None),
                   wage_reports.c.period >= period_of(start), wage_reports.c.period <= period_of(end))).one()
        fees = accrual.late_fees_by_windows(session, region, known, start, end,
                                 lambda employer_id, day: fold(*_facts(session, employer_id), on=day))
        from .prevention import statement_years  # prevention.py builds on this module's queries

        prevention_years = statement_years(session, region, start, end)
    return statement_view(region, start, end, StatementFigures(
        int(total_debit), int(total_credit), within, to_date, carry_overs, version, int(insured), int(employers),
        int(payroll_fen), int(assessed_by_period_fen), fees, prevention_years))


def insured_under_several(session: Session, belongs: Any, day: date) -> int:  # noqa: ANN401 - a SQL condition
    """Workers insured on `day` by the employers `belongs` selects, each counted once."""
    return int(session.execute(
        select(func.count(func.distinct(levy_employments.c.employee_id)))
        .select_from(levy_employments.join(levy_employers,
                                           levy_employers.c.employer_id == levy_employments.c.employer_id))
        .where(belongs, levy_employments.c.hired_on <= day,
               or_(levy_employments.c.separated_on.is_(None), levy_employments.c.separated_on >= day))).scalar_one())


def statement_view(region: str, start: date, end: date, f: StatementFigures) -> dict[str, Any]:
    """The statement of `region` from `start` to `end` from its figures."""
    total_debit, total_credit, within, to_date, version = f.total_debit, f.total_credit, f.within, f.to_date, f.version
    carry_overs, payroll_fen, assessed_by_period_fen, fees = f.carry_overs, f.payroll_fen, f.assessed_by_period_fen, f.fees

    def net(book: dict[tuple[str, str], tuple[int, int]], account: str, kinds: Iterable[str] | None = None,
            credit_normal: bool = True) -> int:
        total = 0
        for (kind, acct), (d, c) in book.items():
            if acct == account and (kinds is None or kind in kinds):
                total += (c - d) if credit_normal else (d - c)
        return total

    assessed = net(within, ledger.CONTRIBUTION_INCOME)
    collected = net(within, ledger.CONTRIBUTIONS_RECEIVABLE, ("payment", "credit_applied", "credit_released"))
    late_fees = net(within, ledger.LATE_FEE_INCOME)
    late_fees_collected = net(within, ledger.LATE_FEE_RECEIVABLE, ("payment", "credit_applied"))
    families = sorted({a.split(":", 1)[1] for (_k, a) in (*within, *to_date) if a.startswith("benefits_expense:")}
                      | set(ledger.BENEFIT_FAMILIES))
    expenditure = {f: net(within, ledger.benefits_expense(f), credit_normal=False) for f in families}
    prevention_spent = net(within, ledger.PREVENTION_EXPENSE, credit_normal=False)
    # RULES.md "Appeals, reversals and recovery": benefits paid and not owed are a receivable; the
    # expenditure is net of them until written off (a loss), so it stays what the fund gave away.
    overpaid = net(within, ledger.OVERPAYMENTS_RECOGNIZED)
    written_off = net(within, ledger.OVERPAYMENTS_WRITTEN_OFF, credit_normal=False)
    recovered = -net(within, ledger.OVERPAYMENTS_RECEIVABLE, ("benefit", "benefit_reversal", "overpayment_recovery"),
                     credit_normal=False)
    spent = sum(expenditure.values()) + prevention_spent - overpaid + written_off
    received = net(within, ledger.CASH, ("payment",), credit_normal=False)
    balance = net(to_date, ledger.CASH, credit_normal=False)
    region_debits = sum(d for d, _c in within.values())
    region_credits = sum(c for _d, c in within.values())
    assert region_debits == region_credits, f"the books of {region} do not balance"
    prevention_share = version.document.prevention_share if version else Decimal(0)
    control = version.document.average_rate_control if version else None
    average = (Decimal(assessed_by_period_fen) / Decimal(payroll_fen)).quantize(AVERAGE_RATE_PLACES) \
        if payroll_fen else None
    return {
        "region": region, "from": start.isoformat(), "to": end.isoformat(),
        "policy_ref": policy_ref(version) if version else None,
        "income": {"contributions_assessed": yuan_str(assessed), "contributions_collected": yuan_str(collected),
                   "late_fees": yuan_str(late_fees), "late_fees_collected": yuan_str(late_fees_collected),
                   # SIL.86: every day's fee, booked (when paid) or not yet; and what is owed at `to`
                   "late_fees_accrued": yuan_str(fees.accrued_fen),
                   "late_fees_outstanding": yuan_str(fees.outstanding_fen),
                   "cash_received": yuan_str(received)},
        "collection_rate": _ratio(collected, assessed, Decimal("0.0001")),
        "expenditure": {"by_family": {f: yuan_str(v) for f, v in expenditure.items()},
                        "prevention": yuan_str(prevention_spent), "overpayments_recognized": yuan_str(-overpaid),
                        "overpayments_written_off": yuan_str(written_off), "total": yuan_str(spent)},
        # the receivable of overpayments: recognized, recovered from payouts and written off within
        # the period, and what is outstanding at `to`
        "overpayments": {"recognized": yuan_str(overpaid), "recovered": yuan_str(recovered),
                         "written_off": yuan_str(written_off),
                         "outstanding": yuan_str(net(to_date, ledger.OVERPAYMENTS_RECEIVABLE, credit_normal=False))},
        "prevention_share": {"share": str(prevention_share),
                             "amount": yuan_str(round_fen(from_fen(assessed) * prevention_share))},
        # each year's cap (prevention_share × the year before's contributions collected), budgets, spending
        "prevention": {"spent": yuan_str(prevention_spent), "years": f.prevention_years},
        "surplus": yuan_str(received - spent),
        "balance": yuan_str(balance),
        "coverage": {"insured_workers": f.insured, "employers": f.employers},
        "average_rate": {"payroll": yuan_str(int(payroll_fen)), "contributions": yuan_str(int(assessed_by_period_fen)),
                         "effective": str(average) if average is not None else None,
                         "control": str(control) if control is not None else None,
                         "exceeds_control": bool(average is not None and control is not None and average > control)},
        # pooling moves up: the balances this region handed over or took over, on the date
        "carried_over": [{"consolidation_id": c.move.consolidation_id, "from_region": c.move.region,
                          "into_region": c.move.into_region, "effective_from": c.move.effective_from.isoformat(),
                          "direction": "out" if c.move.region == region else "in",
                          "balances": {a: yuan_str(n) for a, n in sorted(c.balances.items())}}
                         for c in carry_overs if start <= c.move.effective_from <= end],
        "books_balanced": total_debit == total_credit and region_debits == region_credits,
        "postings": {"debits": yuan_str(int(total_debit)), "credits": yuan_str(int(total_credit))},
    }


# ------------------------------------------------------------------------- pooling moves up

def consolidation_view(ctx: ServiceContext, consolidation_id: str) -> dict[str, Any]:
    """What a consolidation moved and the balances it carried over (services/levy/pooling.py),
    waiting a bounded time for one recorded a moment ago."""
    from .tables import levy_consolidations

    ctx.await_projection(lambda s: s.execute(select(levy_consolidations.c.consolidation_id).where(
        levy_consolidations.c.consolidation_id == consolidation_id)).first())
    with ctx.session_factory() as session:
        view = pooling.consolidation_view(
            session, consolidation_id, lambda employer_id, day: fold(*_facts(session, employer_id), on=day))
    if view is None:
        raise NotFound(f"consolidation {consolidation_id} does not exist")
    return view
