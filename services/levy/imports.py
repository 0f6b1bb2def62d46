"""Going live, the levy service's kinds (MIGRATION.md): `wages` and `accounts`.

- `wages`: history for the insured wage of injuries to come (R.64), checked as a wage report's
  lines are (the month, the amount, the worker employed there that month); it assesses nothing.
  Recorded a thousand rows at a time as `WageHistoryImported`, which the claims service projects.
- `accounts`: each contribution period as the old system assessed it (not re-assessed) and what
  it was paid there (`LegacyPeriodImported`, the month's report in force). Late fees run on what
  is still outstanding from the period's own due date, under the region's policy.
The employers and workers named by their old keys are found in the projection of the enrollment
service's events (`legacy_refs`).
"""
from __future__ import annotations

import json
import re
import threading
import uuid
import weakref
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, ge, itemgetter, le
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from libs.db import driver_cursor, driver_mark
from libs.events.consumer import insert_rows
from libs.events.tables import consumer_positions
from libs.events.uow import UnitOfWork
from libs.imports.bulk import driver_moments, driver_rows
from libs.imports.rows import Row, RowRejected, Table, all_texts
from libs.imports.runner import (Accepted, AcceptedRows, Earlier, Outcome, RecordedRows, in_one_savepoint, in_savepoint,
                                 source)
from libs.money import parse_yuan, plain_yuan_fens, to_fen, yuan_str
from libs.policy.projection import policy_in_force, policy_ref
from libs.runtime.service import ServiceContext

from .domain.events import LegacyPeriodImported, PolicyRef
from .domain.model import WageHistory, WageReport, wage_history_id, wage_report_id
from .domain.rules import due_date, period_bounds, period_of, today
from .handlers import _lock_account, rebuild_postings_of
from .tables import IMPORT_TABLES, imported_wage_rows, levy_employers, levy_employments, wage_reports

LOOKUP_CHUNK = 500
SAVE_CHUNK = 100  # new histories (one event each) per append
REPORTS_PER_APPEND = 500  # new imported periods (one small event each) per append
LINES_PER_EVENT = 1_000  # a WageHistoryImported of ~150 kB: well under a Kafka message's limit
RATE_PLACES = Decimal("0.000001")
_PLAIN_MONTH = re.compile(r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])")  # what Row.month takes, 1900-2099


def _employers(session, legacy_ids: Sequence[str]) -> dict[str, Any]:  # noqa: ANN001
    """Old employer key → the enrolled employer's levy row: its ref joined to the row, one query
    per LOOKUP_CHUNK distinct keys (a wages request names each of its employers many times)."""
    refs = IMPORT_TABLES.legacy_refs
    keys = sorted(set(legacy_ids))
    found: dict[str, Any] = {}
    for i in range(0, len(keys), LOOKUP_CHUNK):
        for r in session.execute(select(refs.c.legacy_id, *levy_employers.c)
                                 .join(levy_employers, levy_employers.c.employer_id == refs.c.aggregate_id)
                                 .where(refs.c.kind == "employers", refs.c.legacy_id.in_(keys[i:i + LOOKUP_CHUNK]))):
            found[r.legacy_id] = r
    return found


class Employer(NamedTuple):
    """What a wage row's check reads of its employer's levy row (`_period`)."""

    employer_id: str
    enrolled_on: date | None
    as_of: date
    month_from: date  # the first day of the enrollment's month: no wage of a month before it


def _employer_row(key: str, employer_id: str, enrolled_on: Any, as_of: Any) -> tuple[str, Employer]:  # noqa: ANN401
    enrolled, since = _day(enrolled_on), _day(as_of)
    return key, Employer(employer_id, enrolled, since, (enrolled or since).replace(day=1))  # type: ignore[arg-type, union-attr]


def _wage_employers(session, legacy_ids: Sequence[str]) -> dict[str, Employer]:  # noqa: ANN001
    """`_employers` for the wages: only the columns a wage's check reads, on the driver (a wages
    request names hundreds of employers, thousands in a province's file ordered by worker: no
    SQLAlchemy statement compiled or row made each)."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    refs = IMPORT_TABLES.legacy_refs.name
    keys = sorted(set(legacy_ids))
    found: list[tuple] = []
    for i in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[i:i + LOOKUP_CHUNK]
        statement = (f"SELECT r.legacy_id, e.employer_id, e.enrolled_on, e.as_of FROM {refs} r "
                     f"JOIN {levy_employers.name} e ON e.employer_id = r.aggregate_id "
                     f"WHERE r.kind = {mark} AND r.legacy_id IN ({', '.join([mark] * len(chunk))})")
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement, ["employers", *chunk])
            found += cursor.fetchall()
    return dict(_employer_row(*row) for row in found)


MAX_EMPLOYERS_KEPT = 200_000  # a province has some 50,000: ~30 MB at most, then started over


class _KeptEmployers:
    """The employers wages requests found, kept for the next requests of the service's database
    (a file's chunks name the same employers again and again) while the levy's projections of
    the enrollment service's events stand still: each request reads their positions first
    (`consumer_positions`, committed with their effects) and starts over when they moved — an
    employer enrolled or changed between two chunks is read again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: weakref.WeakKeyDictionary[Any, tuple[tuple, dict[str, Employer]]] = weakref.WeakKeyDictionary()

    def find(self, ctx: ServiceContext, session, legacy_ids: Sequence[str]) -> dict[str, Employer]:  # noqa: ANN001
        mark = _positions(session, ctx.topics.of("enrollment"))  # before the rows: they are as new or newer
        with self._lock:
            kept_mark, kept = self._kept.get(ctx.engine, (None, {}))
            if kept_mark != mark or len(kept) > MAX_EMPLOYERS_KEPT:
                kept = {}
                self._kept[ctx.engine] = (mark, kept)
        keys = set(legacy_ids)
        missing = keys.difference(kept)
        if missing:
            fresh = _wage_employers(session, missing)
            with self._lock:
                kept.update(fresh)
        return {key: kept[key] for key in keys if key in kept}  # an unknown key is looked up each time


def _positions(session, topic: str) -> tuple:  # noqa: ANN001
    """Where each consumer group of this database stands on `topic`'s partitions."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    statement = (f"SELECT consumer, log_partition, next_offset FROM {consumer_positions.name} WHERE topic = {mark} "
                 "ORDER BY consumer, log_partition")
    with driver_cursor(conn, statement) as cursor:
        cursor.execute(statement, [topic])
        return tuple(map(tuple, cursor.fetchall()))


_kept_employers = _KeptEmployers()


def _employer(row: Row, employers: dict[str, Any]) -> Any:
    key = row.text("employer_legacy_id", max_len=64)
    employer = employers.get(key)  # type: ignore[arg-type]
    if employer is None:
        raise RowRejected("employer_legacy_id", f"no employer with legacy_id {key} is imported")
    return employer


def _period(row: Row, employer: Any, now: date, bounds=period_bounds) -> str:  # noqa: ANN001
    """As a wage report's month: not after the current month, not before the enrollment's."""
    period = row.month("period")
    first, _last = bounds(period)  # type: ignore[arg-type]
    enrolled_on = employer.enrolled_on or employer.as_of
    if first < enrolled_on.replace(day=1):
        raise RowRejected("period", f"is before the employer's enrollment month {period_of(enrolled_on)}")
    if first > now:
        raise RowRejected("period", f"is after the current month {period_of(now)}")
    return period  # type: ignore[return-value]


def _checked_rows(rows: Sequence[Row], check) -> dict[int, Any]:  # noqa: ANN001
    out: dict[int, Any] = {}
    for row in rows:
        try:
            out[row.number] = check(row)
        except RowRejected as exc:
            out[row.number] = exc
    return out


# -------------------------------------------------------------------------------------- wages

class Wage(NamedTuple):
    """A good row's line (a tuple: a request's lines become the event's columns by one zip)."""

    employer_id: str
    employee_id: str
    period: str
    wage_fen: int


def month_first(legacy_ids: Sequence[str]) -> list[str]:
    """Wage rows' keys as import_rows keeps them (levy_impwage15_0001): `2025-12/W1/E1` for
    `W1/E1/2025-12` (the month is a key's last seven characters). A wage file comes a month at a time
    (or a worker's months together): keyed by the worker first, a month's keys landed beside every
    earlier month's of the same workers, at random places of a B-tree of twelve million keys a
    province, each commit writing thousands of its pages; the month first, a month fills its own
    part of it."""
    return [f"{key[-7:]}/{key[:-8]}" for key in legacy_ids]


class WageRowsKept:
    """The wage rows accepted (the runner's `RowsKept` for the wages): `imported_wage_rows`, each
    row's key (month first) with the import and row that brought it and what makes its content —
    the worker key's length and the wage as given: the key is `worker/employer/period`, the period
    seven characters, so with the worker's length it gives every other column. No digest to
    compute for each row, no totals or ref kept: a row posted again with the same content has the
    same wage, its share of the totals worked out from it. A row moved from import_rows
    (levy_wagelevy21_0001) has its digest instead, compared as import_rows' were."""

    def __init__(self, kind: str, table: Table) -> None:
        self.kind = kind

    def find(self, ctx: ServiceContext, rows: Sequence[Row], stored: Sequence[str]) -> dict[str, Earlier]:
        with ctx.session_factory() as session:
            kept = _wage_rows_kept(session, stored)
        found: dict[str, Earlier] = {}
        for row, key in zip(rows, stored) if kept else ():
            before = kept.get(key)
            if before is None:
                continue
            import_id, number, worker_chars, wage, digest = before
            values = row.values
            same = digest == row.digest() if digest is not None \
                else worker_chars == len(values["employee_legacy_id"]) and wage == values["wage"]
            found[row.legacy_id] = Earlier(import_id, number, same, _wage_totals(values["wage"]) if same else None)
        return found

    def keep(self, session, import_id: str, accepted: Sequence[tuple[Row, Accepted]], alike: AcceptedRows,  # noqa: ANN001
             by_number: dict[int, Row], stored_by_number: dict[int, str]) -> None:
        numbers = [*(row.number for row, _outcome in accepted), *alike.numbers]
        values = list(map(attrgetter("values"), map(by_number.__getitem__, numbers)))
        # In the keys' order (the table is its key's B-tree: each insert lands beside the one
        # before), many rows a statement on SQLite, COPY on PostgreSQL (`insert_rows`).
        kept = sorted(zip(map(stored_by_number.__getitem__, numbers), repeat(import_id), numbers,
                          map(len, map(itemgetter("employee_legacy_id"), values)), map(itemgetter("wage"), values)))
        insert_rows(session, imported_wage_rows, _KEPT_COLUMNS, kept)


_KEPT_COLUMNS = ("legacy_id", "import_id", "row", "worker_chars", "wage")


def _wage_totals(wage: str) -> dict[str, Any]:
    """A wage row's share of its import's totals (as `WagesKind.record` counts it)."""
    return {"wage_lines": 1, "wages": yuan_str(to_fen(parse_yuan(wage)))}


def _wage_rows_kept(session, stored: Sequence[str]) -> dict[str, tuple]:  # noqa: ANN001
    """Stored wage key → (import_id, row, worker_chars, wage, digest) of those of `stored` accepted
    before: one query per LOOKUP_CHUNK keys, on the driver."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    found: dict[str, tuple] = {}
    for i in range(0, len(stored), LOOKUP_CHUNK):
        chunk = stored[i:i + LOOKUP_CHUNK]
        statement = (f'SELECT legacy_id, import_id, "row", worker_chars, wage, digest FROM {imported_wage_rows.name} '
                     f"WHERE legacy_id IN ({', '.join([mark] * len(chunk))})")
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement, list(chunk))
            for key, *rest in cursor.fetchall():
                found[key] = tuple(rest)
    return found


class ImportedWage(NamedTuple):
    """A wage row accepted before, as a refusal names it."""

    legacy_id: str
    import_id: str
    row: int


class WagesKind:
    name = "wages"
    columns = ("employee_legacy_id", "employer_legacy_id", "period", "wage")
    optional = ()
    # A request's rows (four short columns: 50,000 are ≈ 2 MB) are one commit in each database
    # they reach. The claims side's rows land among the month's as their workers' ids spread
    # (claims_legacy_wages is keyed by month, worker and employer, claims_wages20_0001): a run of
    # pages where the ids sort as the workers were imported and the file follows the workers'
    # order; with random ids each on a page of its own, so a commit writes min(rows, pages of the
    # month) pages: at a province's 1,000,000 workers a month, a page a row in a request of
    # 5,000, ≈ a third of one in a request of 50,000 (bench/bench_legacy_wages.py,
    # BENCH_LEGACY_WORKERS).
    max_rows = 50_000

    def legacy_id(self, row: Row) -> str:
        """MIGRATION.md: `employee_legacy_id/employer_legacy_id/period`. The commonest row (both
        keys given, within 64 characters, a month of this century or the last) is read without
        the checks' calls, which any other row goes through to be named its field."""
        values = row.values
        worker, employer, period = values["employee_legacy_id"], values["employer_legacy_id"], values["period"]
        if 0 < len(worker) <= 64 and 0 < len(employer) <= 64 and _PLAIN_MONTH.fullmatch(period):
            return f"{worker}/{employer}/{period}"
        parts = [row.text(c, max_len=64) for c in ("employee_legacy_id", "employer_legacy_id")]
        return "/".join([*parts, row.month("period")])  # type: ignore[list-item]

    def legacy_ids(self, table: Table) -> list[str] | None:
        """`legacy_id` of every row, a column at a time when every row is plain (the keys within
        64 characters, a file's dozen distinct months each matched once); else None."""
        workers, employers, periods = (table.columns[c] for c in ("employee_legacy_id", "employer_legacy_id", "period"))
        if not (all_texts(workers, 64) and all_texts(employers, 64)) \
                or not all(_PLAIN_MONTH.fullmatch(p) for p in set(periods)):
            return None
        return list(map("{}/{}/{}".format, workers, employers, periods))

    stored_keys = staticmethod(month_first)
    kept_rows = WageRowsKept

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        """Every row as a wage report's line is checked; a wage of a worker, employer and month
        imported already under another of the worker's old keys (a rehire) is refused as the
        same wage twice in one request is. A column at a time when every row is good
        (`_all_good`); else row by row, which names each bad row's field."""
        with ctx.session_factory() as session:
            values = list(map(attrgetter("values"), rows))
            employers = _kept_employers.find(ctx, session, list(map(itemgetter("employer_legacy_id"), values)))
            found = _workers_and_jobs(session, list(map(itemgetter("employee_legacy_id"), values)))
            imported = _imported_under_other_keys(session, rows, employers, found)
        now = today()
        bounds = lru_cache(maxsize=None)(period_bounds)  # a file's rows share a dozen months
        if not imported:
            good = _all_good(rows, employers, found, now, bounds)
            if good is not None:
                return good
        workers, jobs = found.workers, found.jobs()

        def check(row: Row) -> Wage:
            employer = _employer(row, employers)
            worker = workers.get(row["employee_legacy_id"])
            if worker is None:
                raise RowRejected("employee_legacy_id", f"no employee with legacy_id {row['employee_legacy_id']} "
                                                        "is imported")
            if worker.employer_id != employer.employer_id:
                raise RowRejected("employee_legacy_id", f"is an employment at another employer than "
                                                        f"{row['employer_legacy_id']}")
            period = _period(row, employer, now, bounds)
            wage = row.money("wage")
            first, last = bounds(period)
            employee_id = worker.aggregate_id
            if not any(hired <= last and (sep is None or sep >= first)
                       for hired, sep in jobs.get((employee_id, employer.employer_id), ())):
                raise RowRejected("period", f"the worker is not employed by {row['employer_legacy_id']} in {period}")
            if row.number in imported:
                before = imported[row.number]
                raise RowRejected("employee_legacy_id", f"this worker's wage of {period} at this employer is "
                                                        f"imported already as {before.legacy_id} "
                                                        f"(import {before.import_id}, row {before.row})")
            return Wage(employer.employer_id, employee_id, period, to_fen(wage))  # type: ignore[arg-type]

        return _checked_rows(rows, check)

    def record(self, uow: UnitOfWork, import_id: str,
               rows: Sequence[tuple[Row, Wage]]) -> dict[int, Outcome] | RecordedRows:
        """The request's rows as `WageHistoryImported` events of up to LINES_PER_EVENT lines
        each (as columns), in the file's order, whatever their employers and months: a
        province's wage history is twelve million rows, in some ten thousand events, not
        millions. The events go in one savepoint (new aggregates, one append); one that meets a
        concurrent record of the same rows rejects its rows, to be posted again."""
        out: dict[int, Outcome] = {}
        lines = list(rows)
        # as columns, each read by one map (a request's lines are thousands)
        employer_ids, employee_ids, periods, wages_fen = _columns(lines)
        if _a_wage_twice(employer_ids, employee_ids, periods):  # another old key of a worker (a rehire)
            lines = _first_of_each_key(lines, out)
            employer_ids, employee_ids, periods, wages_fen = _columns(lines)
        kept = list(map(itemgetter(0), lines))
        numbers = list(map(attrgetter("number"), kept))
        legacy_ids = list(map(attrgetter("legacy_id"), kept))
        on = today()
        histories = []
        for i in range(0, len(lines), LINES_PER_EVENT):
            batch = slice(i, i + LINES_PER_EVENT)
            history = WageHistory(wage_history_id(import_id, numbers[i]))
            history.record(import_id=import_id, employee_ids=employee_ids[batch], employer_ids=employer_ids[batch],
                           periods=periods[batch], wages_fen=wages_fen[batch], rows=numbers[batch],
                           legacy_ids=legacy_ids[batch], on=on)
            histories.append(history)

        def write() -> None:
            for i in range(0, len(histories), SAVE_CHUNK):
                uow.save_new(histories[i:i + SAVE_CHUNK])

        if not in_one_savepoint(uow, write):
            refused = RowRejected("legacy_id", "conflicts with a record made at the same moment; post the row again")
            return {**out, **{number: refused for number in numbers}}
        return RecordedRows(AcceptedRows(numbers, employee_ids, {"wage_lines": [1] * len(numbers), "wages": wages_fen},
                                         fen=frozenset({"wages"})), out)


def _a_wage_twice(employer_ids: list[str], employee_ids: list[str], periods: list[str]) -> bool:
    """Whether a worker's wage of an employer and month comes twice. Each worker once (a file
    posted a month at a time) says no by the workers alone, no tuple made a line."""
    return len(set(employee_ids)) < len(employee_ids) \
        and len(set(zip(employer_ids, employee_ids, periods))) < len(employee_ids)


def _columns(lines: list[tuple[Row, Wage]]) -> list[list]:
    """The lines' Wages as four columns, each by one map (zip(*lines) takes each line as an
    argument first: twice the work)."""
    wages = list(map(itemgetter(1), lines))
    return [list(map(itemgetter(i), wages)) for i in range(len(Wage._fields))]


def _first_of_each_key(lines: list[tuple[Row, Wage]], out: dict[int, Outcome]) -> list[tuple[Row, Wage]]:
    """The lines but the second of a worker, employer and month (another old key of the same
    worker: a rehire at the same employer), which is rejected in `out`."""
    kept: list[tuple[Row, Wage]] = []
    taken: set[tuple[str, str, str]] = set()
    for row, w in lines:
        key = (w.employee_id, w.employer_id, w.period)
        if key in taken:
            out[row.number] = RowRejected("employee_legacy_id", f"this worker's wage of {w.period} at this "
                                                                "employer is in another row of this request")
            continue
        taken.add(key)
        kept.append((row, w))
    return kept


class Ref(NamedTuple):
    """A worker's old key on the ledger: the worker, the employer of the hire it keyed, and the
    worker's one employment if it has exactly one — its employer, hired_on and `until` (its
    separation, date.max while employed); (None, None, date.max) for a worker with none, all None
    for a worker with several (`Found.several`, `Found.jobs`). One tuple a key: a wages request
    looks each of its rows' workers up once."""

    aggregate_id: str
    employer_id: str | None
    job_employer_id: str | None
    hired_on: date | None
    until: date | None


Jobs = dict[tuple[str, str], list[tuple[date, date | None]]]  # (worker, employer) → (hired_on, separated_on)


class Found(NamedTuple):
    """What `_workers_and_jobs` found for a request's worker keys."""

    keys: list[str]  # the keys asked for, each once
    # the rows found (`_refs_with_employments`: keys[i]'s) and their dates as the driver gave them → dates
    rows: list[tuple]
    days: dict[Any, date | None]
    several: set[str]  # the old keys of workers employed more than once: their employments in `jobs`
    in_order: bool  # every key found once, employed at most once: rows[i] is keys[i]'s (a go-live's wage file)

    @property
    def workers(self) -> dict[str, Ref]:
        """Old key → the worker (and its one employment), made when asked: a request whose rows'
        workers are `in_order` reads them from `rows` (`_all_good`)."""
        rows = self.rows
        # a Ref made by tuple's own constructor (a NamedTuple's is a Python call a row)
        workers = dict(zip(map(self.keys.__getitem__, map(itemgetter(0), rows)), map(tuple.__new__, repeat(Ref), zip(
            map(itemgetter(1), rows), map(itemgetter(2), rows), *self.job_columns()))))
        for key in self.several:  # its employments are left to `jobs`
            workers[key] = workers[key]._replace(job_employer_id=None, hired_on=None, until=None)
        return workers

    def job_columns(self) -> list[list]:
        """The rows' employments as columns, as a Ref holds them: job_employer_id, hired_on, until
        (date.max while employed: compared with a month's first day as a date)."""
        rows, days = self.rows, self.days
        ends = {**days, None: date.max}
        return [list(map(itemgetter(3), rows)), list(map(days.__getitem__, map(itemgetter(4), rows))),
                list(map(ends.__getitem__, map(itemgetter(5), rows)))]

    @property
    def hires(self) -> dict[tuple[str, str, date], date | None]:
        """(worker, employer, hired_on) → separated_on: a worker's employment found again under
        another of its keys is the same entry; a key with no employment (the outer join's None)
        none. Made when asked (a go-live's wage file, each worker employed once, never asks)."""
        rows, days = self.rows, self.days
        employers = list(map(itemgetter(3), rows))
        hires = dict(zip(zip(map(itemgetter(1), rows), employers, map(days.__getitem__, map(itemgetter(4), rows))),
                         map(days.__getitem__, map(itemgetter(5), rows))))
        for entry in [entry for entry in hires if entry[1] is None] if None in employers else ():
            del hires[entry]
        return hires

    def jobs(self) -> Jobs:
        """Each worker's employments by employer (the row-by-row check's, and a rehire's)."""
        jobs: Jobs = defaultdict(list)
        for (employee_id, employer_id, hired), separated in self.hires.items():
            jobs[(employee_id, employer_id)].append((hired, separated))
        return jobs

    def hired_once_by_each(self) -> bool:
        """No worker hired twice by one employer (then each worker has one key there). Every key's
        worker employed once or never (no key in `several`: a go-live's wage file) says so
        without a pair made for each of the request's employments."""
        if not self.several:
            return True
        hires = self.hires
        return len(set(map(itemgetter(0, 1), hires))) == len(hires)


def _workers_and_jobs(session, legacy_ids: Sequence[str]) -> Found:  # noqa: ANN001
    """The workers of the old worker keys and their employments: the keys (each once, in the
    order given) joined to their refs and employments in one statement, on the driver, and what
    it found looked at a column at a time (the rows of a wages request are thousands: no Python
    call a row)."""
    keys = list(dict.fromkeys(legacy_ids))
    found = _refs_with_employments(session.connection(), keys)
    # a request's employments share a few hundred dates: each read once (sqlite3 gives ISO text)
    days = {value: _day(value) for value in {*map(itemgetter(4), found), *map(itemgetter(5), found)}}
    at = list(map(itemgetter(0), found))
    in_order = at == list(range(len(keys)))
    several: set[str] = set()
    if not in_order and len(set(at)) < len(at):  # some worker has several employments
        several = {keys[i] for i, n in Counter(at).items() if n > 1}
    return Found(keys, found, days, several, in_order)


def _refs_with_employments(conn, keys: list[str]) -> list[tuple]:  # noqa: ANN001
    """(i, worker, ref's employer, employer, hired_on, separated_on) of each of the worker `keys`
    found (`keys[i]`), a row per employment (None's for a worker with none), in the keys' order:
    all of them in one statement, as one parameter (a JSON array on SQLite, an array on
    PostgreSQL), each probed in the index as given — no sort of the keys, no bound parameter or
    statement a few hundred of them. On SQLite the CROSS JOIN keeps the array the outer loop
    (its order, and no scan of the array for each ref)."""
    if conn.dialect.name == "postgresql":
        statement, params = _REFS_WITH_EMPLOYMENTS_PG, (keys,)
    else:
        statement, params = _REFS_WITH_EMPLOYMENTS_SQLITE, (json.dumps(keys),)
    with driver_cursor(conn, statement, params) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


_REFS_AND_EMPLOYMENTS = (
    f"{IMPORT_TABLES.legacy_refs.name} r ON r.kind = 'employees' AND r.legacy_id = j.value "
    f"LEFT JOIN {levy_employments.name} e ON e.employee_id = r.aggregate_id")
_REFS_WITH_EMPLOYMENTS_SQLITE = (
    "SELECT j.key, r.aggregate_id, r.employer_id, e.employer_id, e.hired_on, e.separated_on "
    f"FROM json_each(?) j CROSS JOIN {_REFS_AND_EMPLOYMENTS}")
_REFS_WITH_EMPLOYMENTS_PG = (
    "SELECT j.key - 1, r.aggregate_id, r.employer_id, e.employer_id, e.hired_on, e.separated_on "
    f"FROM unnest(%s::text[]) WITH ORDINALITY AS j(value, key) JOIN {_REFS_AND_EMPLOYMENTS} ORDER BY j.key")


def _day(value: Any) -> date | None:  # noqa: ANN401
    """A date as the driver returns it: a date (psycopg), ISO text (sqlite3), or None."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _imported_under_other_keys(session, rows: Sequence[Row], employers: dict[str, Any],  # noqa: ANN001
                               found: Found) -> dict[int, Any]:
    """Row number → the import row (import_rows) that already brought this worker's wage of the
    month at the employer under another of the worker's old keys. Only a worker hired more than
    once by the employer can have two keys there, so only their rows are looked up."""
    rehired: dict[int, tuple[Row, str, str]] = {}  # row number → (row, worker, employer)
    if found.hired_once_by_each():
        return {}  # nobody hired twice by one employer: each worker has one key there
    workers, jobs = found.workers, found.jobs()
    for row in rows:
        worker, employer = workers.get(row["employee_legacy_id"]), employers.get(row["employer_legacy_id"])
        if worker is not None and employer is not None and len(jobs.get((worker.aggregate_id,
                                                                           employer.employer_id), ())) > 1:
            rehired[row.number] = (row, worker.aggregate_id, employer.employer_id)
    if not rehired:
        return {}
    refs = IMPORT_TABLES.legacy_refs
    keys: dict[tuple[str, str], list[str]] = defaultdict(list)  # (worker, employer) → the worker's old keys there
    ids = sorted({worker for _row, worker, _employer in rehired.values()})
    for i in range(0, len(ids), LOOKUP_CHUNK):
        for r in session.execute(select(refs.c.legacy_id, refs.c.aggregate_id, refs.c.employer_id).where(
                refs.c.kind == "employees", refs.c.aggregate_id.in_(ids[i:i + LOOKUP_CHUNK]))):
            keys[(r.aggregate_id, r.employer_id)].append(r.legacy_id)
    wanted: dict[str, int] = {}  # the wage key another old key would have → the row asking
    for number, (row, worker, employer) in rehired.items():
        for other in keys[(worker, employer)]:
            if other != row["employee_legacy_id"]:
                wanted[f"{other}/{row['employer_legacy_id']}/{row['period']}"] = number
    found: dict[int, Any] = {}
    keys = sorted(wanted)
    stored = month_first(keys)
    kept = _wage_rows_kept(session, stored)
    # in the stored keys' order (a row asking for several: the first, as the index gives them)
    for stored_key, key in sorted(zip(stored, keys)):
        if stored_key in kept:
            import_id, number, *_content = kept[stored_key]
            found.setdefault(wanted[key], ImportedWage(key, import_id, number))
    return found


def _all_good(rows: Sequence[Row], employers: dict[str, Any], found: Found, now: date,
              bounds) -> dict[int, Any] | None:  # noqa: ANN001
    """The wage rows' checks a column at a time (each column read by one map and compared by
    another, the wages as one column, each month and employer judged once, the employment of a
    worker employed once compared by maps): every row's Wage, or None as soon as a row fails any
    check, for the row-by-row check to name it. Never a different verdict: the same rules, fewer
    calls."""
    values = list(map(attrgetter("values"), rows))
    fens = plain_yuan_fens(list(map(itemgetter("wage"), values)))
    if fens is None:  # a wage in another form than "8123.45", or a bad one
        return None
    chosen = list(map(employers.get, map(itemgetter("employer_legacy_id"), values)))
    worker_keys = list(map(itemgetter("employee_legacy_id"), values))
    if None in chosen:
        return None  # no such employer
    if found.in_order and len(found.keys) == len(rows):  # each row's worker once, in the rows' order
        people = found.rows  # people[i], row i's: (i, worker, ref's employer, employer, hired, separated)
        jobs = found.job_columns()
        employee_at, employer_at = 1, 2
    else:
        people = list(map(found.workers.get, worker_keys))
        if None in people:
            return None  # no such worker
        jobs = [list(map(itemgetter(i), people)) for i in (2, 3, 4)]
        employee_at, employer_at = 0, 1
    firms = list(map(itemgetter(0), chosen))
    if list(map(itemgetter(employer_at), people)) != firms:
        return None  # the worker's key is of a hire at another employer
    periods = list(map(itemgetter("period"), values))
    if not all(map(_is_month, set(periods))):
        return None  # not a month YYYY-MM
    months = {period: bounds(period) for period in set(periods)}
    if any(first > now for first, _last in months.values()):
        return None  # a month after the current one
    # A request's months are a dozen at most (a file of one month: one): the rows' months judged
    # against their earliest and latest bounds by one pass over a column (max, min), a row's own
    # month compared only when those cannot tell.
    earliest, latest = min(months.values()), max(months.values())
    firsts = lasts = None
    if max(map(itemgetter(3), chosen)) > earliest[0]:
        firsts = list(map(itemgetter(0), map(months.__getitem__, periods)))
        if not all(map(ge, firsts, map(itemgetter(3), chosen))):
            return None  # a month before its employer's enrollment month (`_period`'s rules, row by row)
    employee_ids = list(map(itemgetter(employee_at), people))
    job_employers, hired, until = jobs  # each row's employment: its worker's one
    if found.several:  # a worker employed more than once: its rows' employment in the month, if any
        several = found.jobs()
        firsts = firsts or list(map(itemgetter(0), map(months.__getitem__, periods)))
        lasts = list(map(itemgetter(1), map(months.__getitem__, periods)))
        for i in [i for i, key in enumerate(worker_keys) if key in found.several]:
            first, last = firsts[i], lasts[i]
            job_employers[i], hired[i], until[i] = next(
                ((firms[i], on, date.max if separated is None else separated)
                 for on, separated in several.get((employee_ids[i], firms[i]), ())
                 if on <= last and (separated is None or separated >= first)), (None, None, None))
    if job_employers != firms:
        return None  # employed elsewhere only (or nowhere, or not in the month)
    if max(hired) > earliest[1]:
        lasts = lasts or list(map(itemgetter(1), map(months.__getitem__, periods)))
        if not all(map(le, hired, lasts)):
            return None  # hired after the month
    if min(until) < latest[0]:  # date.max while employed
        firsts = firsts or list(map(itemgetter(0), map(months.__getitem__, periods)))
        if not all(map(ge, until, firsts)):
            return None  # separated before the month
    # Each line a Wage made by tuple's own constructor: a NamedTuple's is a Python call a row.
    return dict(zip(map(attrgetter("number"), rows),
                    map(tuple.__new__, repeat(Wage), zip(firms, employee_ids, periods, fens))))


def _is_month(period: str) -> bool:
    """Whether Row.month takes `period` (`_period` reads it so)."""
    try:
        Row(0, {"period": period}).month("period")
    except RowRejected:
        return False
    return True


# ----------------------------------------------------------------------------------- accounts

@dataclass(frozen=True)
class Period:
    employer_id: str
    region: str
    period: str
    payroll: Decimal
    contribution: Decimal
    paid: Decimal
    paid_on: date | None
    due_date: date
    late_fee_daily: Decimal
    policy: Any


class AccountsKind:
    name = "accounts"
    columns = ("legacy_id", "employer_legacy_id", "period", "payroll", "contribution", "paid", "paid_on")
    optional = ()

    def legacy_id(self, row: Row) -> str:
        return row.text("legacy_id", max_len=64)  # type: ignore[return-value]

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        versions: dict[tuple[str, date], Any] = {}
        with ctx.session_factory() as session:
            employers = _employers(session, [r["employer_legacy_id"] for r in rows])
            ids = sorted({e.employer_id for e in employers.values()})
            assessed: dict[tuple[str, str], str] = {}
            for i in range(0, len(ids), LOOKUP_CHUNK):
                for r in session.execute(select(wage_reports.c.employer_id, wage_reports.c.period,
                                                wage_reports.c.report_id)
                                         .where(wage_reports.c.employer_id.in_(ids[i:i + LOOKUP_CHUNK]))):
                    assessed[(r.employer_id, r.period)] = r.report_id
            now = today()
            bounds = lru_cache(maxsize=None)(period_bounds)  # a file's rows share a few months
            due = lru_cache(maxsize=None)(due_date)  # and a few due days

            def check(row: Row) -> Period:
                employer = _employer(row, employers)
                period = _period(row, employer, now, bounds)
                if (employer.employer_id, period) in assessed:
                    raise RowRejected("period", f"is already assessed on the ledger "
                                                f"(report {assessed[(employer.employer_id, period)]})")
                payroll = row.money("payroll")
                contribution = row.money("contribution")
                paid = row.money("paid", required=False, default=Decimal("0.00"))
                if paid > contribution:  # type: ignore[operator]
                    raise RowRejected("paid", f"is more than the contribution {yuan_str(contribution)}: what "  # type: ignore[arg-type]
                                              "was paid beyond it is a credit, not a contribution period")
                paid_on = row.day("paid_on", required=bool(paid))
                if paid_on is not None:
                    if paid_on > now:
                        raise RowRejected("paid_on", f"is in the future (today is {now.isoformat()})")
                    if employer.enrolled_on and paid_on < employer.enrolled_on:
                        raise RowRejected("paid_on", f"is before the employer's enrollment on "
                                                     f"{employer.enrolled_on.isoformat()}")
                first, _last = bounds(period)
                key = (employer.region, first)
                if key not in versions:
                    versions[key] = policy_in_force(session, employer.region, first)
                version = versions[key]
                if version is None:
                    raise RowRejected("period", f"no policy is in force in region {employer.region} "
                                                f"(nor nationally) in {period}")
                doc = version.document
                return Period(employer.employer_id, employer.region, period, payroll, contribution,  # type: ignore[arg-type]
                              paid, paid_on, due(period, doc.due_day), doc.late_fee_daily, version)  # type: ignore[arg-type]

            return _checked_rows(rows, check)

    def record(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, Period]]) -> dict[int, Outcome]:
        """Every period is a new `WageReport` aggregate: the chunk's periods (each month of an
        employer once in it) built in memory, recorded in one append and their report rows in one
        insert, in one savepoint; a chunk that meets a month assessed meanwhile (or a month twice)
        goes row by row, where the aggregate refuses it. The books once per employer, at the end."""
        session = uow.session
        on = today()
        touched: dict[str, str] = {}
        out: dict[int, Outcome] = {}

        def event(row: Row, p: Period, report_id: str) -> LegacyPeriodImported:
            return LegacyPeriodImported(
                report_id=report_id, employer_id=p.employer_id, region=p.region, period=p.period, payroll=p.payroll,
                contribution_due=p.contribution, paid=p.paid, paid_on=p.paid_on, due_date=p.due_date,
                late_fee_daily=p.late_fee_daily, recorded_on=min(p.due_date, on),
                policy_ref=PolicyRef.model_validate(policy_ref(p.policy)), source=source(import_id, self.name, row))

        def accepted(p: Period, report_id: str) -> Accepted:
            touched[p.employer_id] = p.region
            return Accepted(report_id, {"periods": 1, "contributions": yuan_str(p.contribution),
                                        "paid": yuan_str(p.paid),
                                        "outstanding_contributions": yuan_str(p.contribution - p.paid)})

        def assess(row: Row, p: Period) -> Accepted:
            _lock_account(session, p.employer_id)
            aggregate = uow.load(WageReport, wage_report_id(p.employer_id, p.period)) or WageReport(
                wage_report_id(p.employer_id, p.period))
            if aggregate.current_report_id is not None:
                raise RowRejected("period", f"is already assessed on the ledger (report {aggregate.current_report_id})")
            report_id = new_report_ids(1)[0]
            aggregate.import_legacy(event(row, p, report_id))
            [envelope] = uow.save(aggregate)
            session.execute(insert(wage_reports).values(_report_row(p, report_id, on, envelope.recorded_at)))
            return accepted(p, report_id)

        once = Counter((p.employer_id, p.period) for _row, p in rows)
        batch = [(row, p) for row, p in rows if once[(p.employer_id, p.period)] == 1]
        # Ids in the rows' order: an employer's periods recorded together fold in the order of the
        # file, as row by row (its facts are ordered by recording time, then report id).
        report_ids = new_report_ids(len(batch))
        reports: list[WageReport] = []
        for (row, p), report_id in zip(batch, report_ids):
            aggregate = WageReport(wage_report_id(p.employer_id, p.period))
            aggregate.import_legacy(event(row, p, report_id))
            reports.append(aggregate)

        def write() -> None:
            lock_accounts(session, [p.employer_id for _row, p in batch])
            envelopes = []
            for i in range(0, len(reports), REPORTS_PER_APPEND):
                envelopes += uow.save_new(reports[i:i + REPORTS_PER_APPEND])
            if envelopes:  # on the driver (insert_rows): dates as ISO text, moments as SQLAlchemy stores them
                moment = driver_moments(session)
                insert_rows(session, wage_reports, REPORT_COLUMNS, [
                    _report_values(_report_row(p, report_id, on, moment(envelope.recorded_at)))
                    for (_row, p), report_id, envelope in zip(batch, report_ids, envelopes, strict=True)])

        if in_one_savepoint(uow, write):
            out.update({row.number: accepted(p, report_id) for (row, p), report_id in zip(batch, report_ids)})
        else:
            out.update({row.number: in_savepoint(uow, lambda row=row, p=p: assess(row, p)) for row, p in batch})
        out.update({row.number: in_savepoint(uow, lambda row=row, p=p: assess(row, p)) for row, p in rows
                    if once[(p.employer_id, p.period)] > 1})
        rebuild_postings_of(session, touched)  # the books, once per employer, read together
        return out


def new_report_ids(count: int) -> list[str]:
    """`count` fresh report ids, sorted (so they can be handed out in a file's order)."""
    return sorted("lg_" + uuid.uuid4().hex[:16] for _ in range(count))


def lock_accounts(session, employer_ids: Sequence[str]) -> None:  # noqa: ANN001
    """`_lock_account` for many employers, LOOKUP_CHUNK a query, in sorted order (two imports
    never wait on each other in a cycle)."""
    ids = sorted(set(employer_ids))
    for i in range(0, len(ids), LOOKUP_CHUNK):
        session.execute(select(levy_employers.c.employer_id).where(levy_employers.c.employer_id.in_(
            ids[i:i + LOOKUP_CHUNK])).order_by(levy_employers.c.employer_id).with_for_update()).all()


REPORT_COLUMNS = tuple(c.name for c in wage_reports.columns)
_report_values = driver_rows(wage_reports, REPORT_COLUMNS)  # a `_report_row` as the driver takes it


def _report_row(p: Period, report_id: str, on: date, recorded_at: Any) -> dict[str, Any]:
    """The report in force of an imported period (levy's `wage_reports`)."""
    rate = (p.contribution / p.payroll).quantize(RATE_PLACES) if p.payroll else Decimal(0)
    return dict(
        report_id=report_id, employer_id=p.employer_id, period=p.period, region=p.region,
        payroll_fen=to_fen(p.payroll), rate=str(rate), multiplier="legacy",
        contribution_fen=to_fen(p.contribution), delta_fen=to_fen(p.contribution), due_date=p.due_date,
        late_fee_daily=str(p.late_fee_daily), correction_of=None, superseded_by=None, line_count=0,
        reported_on=min(p.due_date, on), recorded_at=recorded_at, policy_region=p.policy.region,
        policy_version=p.policy.version, legacy_paid_fen=to_fen(p.paid), legacy_paid_on=p.paid_on)


KINDS = (WagesKind(), AccountsKind())
