"""What the claims service projects from the log (its own and other services' events).

- `ClaimsEnrollmentProjection` (enrollment): employers, hires and separations, workers' birth
  date and sex. Facts only, each row keyed so a redelivery or a reordering changes nothing.
- `ClaimsWagesProjection` (levy): every wage report with its lines packed in its row (facts), the
  `wages` in force derived from them (a correction replaces the report it corrects), and the wage
  history a go-live imported (`claims_legacy_wages`), in force for a month no report of the
  employer covers (read so by handlers.worker_wages: written once, not copied into `wages`). A correction of a month
  a claim's insured wage used re-derives that insured wage (R.64), written as the claim's own
  event in the same transaction as the projection, so it happens exactly once.
- `ClaimsListProjection` (claims): the worklist row of each claim.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from itertools import islice
from operator import itemgetter, lt
from types import SimpleNamespace
from typing import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from libs.db import sqlite_page_cache
from libs.events.consumer import Projection, Projector, insert_new, insert_rows, rows_hash, values_by_statements
from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.events.store import dumps
from libs.events.store import EventStore
from libs.imports.bulk import (ImportedWorkers, fresh_and_rest, hires_and_ends, project_in_runs, rows_by_key, stored,
                               write_folded)
from libs.imports.projection import LegacyRefsProjection
from libs.money import parse_yuan, plain_yuan_fen, plain_yuan_fens, round_fen, to_fen
from libs.policy.projection import PoliciesProjection
from libs.runtime.clients import ClientsProjection
from libs.runtime.service import ServiceContext
from libs.pooling_tables import record_moves

from . import handlers
from .domain.model import Claim
from .tables import (
    NO_DEADLINE,
    claims,
    claims_employers,
    claims_employments,
    claims_legacy_wages,
    claims_region_moves,
    claims_separations,
    claims_wage_reports,
    claims_workers,
    wages,
    worklist_due_on,
    worklist_due_on_of,
)

MAX_LINES_PER_REPORT = 1_000_000
BULK_TYPES = frozenset({"WageReported", "WagesImported", "WageHistoryImported"})
CHUNK = 500
# Imported wage history: a batch of at least this many lines is written with a raised page cache
# (`_legacy_wages`), bounded whatever the batch; its lines go in the key's order, so a batch
# larger than the cache (a wage request of 50,000 lines) spills each page once, finished.
LEGACY_CACHE_LINES = 1_000
LEGACY_CACHE_KIB = 64 * 1024
# An imported line's fields, and the table's key (its columns in the key's order), from which the
# merge's ORDER BY and the PostgreSQL path's sort key are made: one definition of the order.
_LEGACY_LINE = ("employee_id", "period", "employer_id", "wage_fen")
_LEGACY_KEY = tuple(c.name for c in claims_legacy_wages.primary_key.columns)
assert _LEGACY_KEY[:2] == ("period", "employee_id")  # what _one_a_key_in_key_order takes for the order
# A line's key as one text in the key's order (ids hold no NUL, which sorts before any of their
# characters): a sort compares two texts by one C call where two tuples take three (bench: 3.5 →
# 1.9 µs a line of a 50,000-line batch)
_LEGACY_KEY_TEXT = "\0".join(f"{{{_LEGACY_LINE.index(c)}}}" for c in _LEGACY_KEY).format


# Imported lines as four columns in _LEGACY_LINE's order (employee_ids, periods, employer_ids,
# wages_fen): a WageHistoryImported carries them so, and a batch's are concatenated, not a tuple made
# a line.
Columns = tuple[list, list, list, list]
_COLUMNS_OF_HISTORY = ("employee_ids", "periods", "employer_ids", "wages_fen")


# SQLite: a batch of imported wage history goes through a temporary staging table, appended in
# arrival order (no index) and merged into claims_legacy_wages in the key's order by one statement:
# SQLite's sorter in place of a Python key and sort a line, the driver's binding into a bare table
# in place of the keyed one (bench/bench_legacy_wages.py, 50,000 workers a month: 4.45 → 3.3 µs a
# row). The staging rowid breaks a key's ties, so the first wage of a key is still the one kept;
# the table is emptied in the same transaction (a rollback takes its rows with it).
_STAGED = "temp.claims_legacy_wages_staged"
_STAGE_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} (employee_id TEXT NOT NULL, period TEXT NOT NULL, "
              "employer_id TEXT NOT NULL, wage_fen INTEGER NOT NULL)")
# Lines go ROWS_A_STATEMENT a statement (`values_by_statements`; bench/bench_legacy_wages.py,
# 50,000-line requests: 2.7 → 2.0 µs a line with the staging).
ROWS_A_STATEMENT = 1_000
_STAGE = f"INSERT INTO {_STAGED} ({', '.join(_LEGACY_LINE)}) VALUES "
# A batch already in the key's order with one line a key (a month's file sorted by worker, the
# workers' ids sorting as they were imported): straight into the table, no staging and no sort
# (bench/bench_legacy_wages.py, ordered ids: 2.0 → 1.45 µs a line). A key already stored keeps its
# wage, as the merge's ON CONFLICT DO NOTHING keeps it.
_INSERT = f"INSERT INTO claims_legacy_wages ({', '.join(_LEGACY_LINE)}) VALUES "
_MERGE = (f"INSERT INTO claims_legacy_wages ({', '.join(_LEGACY_LINE)}) "
          f"SELECT {', '.join(_LEGACY_LINE)} FROM {_STAGED} WHERE true "  # WHERE: the upsert's parse
          f"ORDER BY {', '.join(_LEGACY_KEY)}, rowid ON CONFLICT DO NOTHING")


def _merged_in_key_order(session: Session, columns: Columns) -> None:
    """Lines into claims_legacy_wages (SQLite), each key's first line kept: by the staging table,
    or straight in when they are in the key's order already, one a key."""
    conn = session.connection()
    if _one_a_key_in_key_order(columns):
        _insert_lines(conn, _INSERT, columns, tail=" ON CONFLICT DO NOTHING")
        return
    conn.exec_driver_sql(_STAGE_DDL)
    _insert_lines(conn, _STAGE, columns)
    conn.exec_driver_sql(_MERGE)
    conn.exec_driver_sql(f"DELETE FROM {_STAGED}")


def _one_a_key_in_key_order(columns: Columns) -> bool:
    """One month, the workers' ids rising: the key's order (period, employee_id, employer_id), and no
    key twice (each worker once), so the file's first line of a key is its only one."""
    employee_ids, periods = columns[0], columns[1]
    return bool(periods) and periods.count(periods[0]) == len(periods) \
        and all(map(lt, employee_ids, islice(employee_ids, 1, None)))


def _insert_lines(conn, head: str, columns: Columns, tail: str = "") -> None:  # noqa: ANN001 - a Connection
    """The lines by `head`, ROWS_A_STATEMENT a statement, in order: the columns interleaved into
    one list of values, line after line, by C-level slices."""
    flat: list = [None] * (len(_LEGACY_LINE) * len(columns[0]))
    for i, column in enumerate(columns):
        flat[i::len(_LEGACY_LINE)] = column
    values_by_statements(conn, head, flat, len(_LEGACY_LINE), tail=tail, per=ROWS_A_STATEMENT)


def _fen(wage: object) -> int:
    """A line's wage (a decimal string in yuan) in fen: the plain "8123.45" without a Decimal."""
    fen = plain_yuan_fen(wage)
    return fen if fen is not None else to_fen(round_fen(Decimal(str(wage))))


def _by_employee(lines: list[dict]) -> list[tuple[str, int]]:
    """A report's (employee_id, wage_fen), one per worker: a repeated worker is summed."""
    ids = list(map(itemgetter("employee_id"), lines))
    fens = plain_yuan_fens(list(map(itemgetter("wage"), lines)))
    if fens is None:  # a wage in another form than "8123.45" (or no lines)
        fens = [_fen(line["wage"]) for line in lines]
    if len(set(ids)) == len(ids):
        return list(zip(ids, fens))
    summed: dict[str, int] = {}
    for employee_id, fen in zip(ids, fens):
        summed[employee_id] = summed.get(employee_id, 0) + fen
    return list(summed.items())


def _packed(lines: list[tuple[str, int]]) -> str:
    """A report's (employee_id, wage_fen) as claims_wage_reports keeps them: one JSON text a
    report, not a row a line (no page reads a report's lines; a rebuild of its month does),
    sorted by worker."""
    return dumps(sorted(lines))


def _unpacked(text: str) -> list[tuple[str, int]]:
    return [(employee_id, fen) for employee_id, fen in json.loads(text)]


def _imported_columns(envelopes: Sequence[Envelope]) -> Columns:
    """The imported wage history of `envelopes` (WageHistoryImported, WagesImported; others
    skipped) as columns, line after line in the events' order."""
    columns: Columns = ([], [], [], [])
    for e in envelopes:
        if e.type == "WageHistoryImported":
            p = e.payload
            for column, name in zip(columns, _COLUMNS_OF_HISTORY):
                column.extend(p[name])
        elif e.type == "WagesImported":
            for column, values in zip(columns, zip(*_imported_lines(e))):
                column.extend(values)
    return columns


def _imported_lines(e: Envelope) -> list[tuple[str, str, str, int]]:
    """(employee_id, period, employer_id, wage_fen) of each line of imported wage history, in
    claims_legacy_wages' column order: a WageHistoryImported (v2, upcast) carries them as
    columns, a WagesImported names employer and month once for all."""
    p = e.payload
    if e.type == "WageHistoryImported":
        return list(zip(p["employee_ids"], p["periods"], p["employer_ids"], p["wages_fen"]))
    return [(ln["employee_id"], p["period"], p["employer_id"], _fen(ln["wage"])) for ln in p.get("lines") or ()]


def _chunks(items: list) -> list[list]:  # noqa: ANN001
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def _exists(session: Session, table, *where) -> bool:  # noqa: ANN001
    return session.execute(select(*table.primary_key.columns).where(*where).limit(1)).first() is not None


PEOPLE = frozenset({"EmployeeEnrolled", "EmployeeSeparated"})  # one run in ClaimsEnrollmentProjection._people


class ClaimsEnrollmentProjection(Projection):
    name = "enrollment"
    sources = ("enrollment",)
    tables = (claims_employers, claims_employments, claims_separations, claims_workers, claims_region_moves)

    def on_EmployerEnrolled(self, session: Session, e: Envelope) -> None:
        p = e.payload
        if _exists(session, claims_employers, claims_employers.c.employer_id == p["employer_id"]):
            return  # a change (later, by date) may already be here
        session.execute(insert(claims_employers).values(
            employer_id=p["employer_id"], region=p["region"], name=p["name"], status="active",
            as_of=date.fromisoformat(p["enrolled_on"])))

    def on_EmployerChanged(self, session: Session, e: Envelope) -> None:
        p = e.payload
        changed_on = date.fromisoformat(p["changed_on"])
        row = session.execute(select(claims_employers).where(claims_employers.c.employer_id == p["employer_id"])).first()
        values = {"region": p["region"], "name": p["name"], "status": p["status"], "as_of": changed_on}
        if row is None:
            session.execute(insert(claims_employers).values(employer_id=p["employer_id"], **values))
        elif changed_on >= row.as_of:  # the latest state by date wins, whatever the arrival order
            session.execute(update(claims_employers).where(
                claims_employers.c.employer_id == p["employer_id"]).values(**values))

    def on_EmployeeEnrolled(self, session: Session, e: Envelope) -> None:
        p = e.payload
        hired_on = date.fromisoformat(p["hired_on"])
        if not _exists(session, claims_employments, claims_employments.c.employee_id == p["employee_id"],
                       claims_employments.c.employer_id == p["employer_id"], claims_employments.c.hired_on == hired_on):
            session.execute(insert(claims_employments).values(
                employee_id=p["employee_id"], employer_id=p["employer_id"], hired_on=hired_on))
        if not _exists(session, claims_workers, claims_workers.c.employee_id == p["employee_id"]):
            session.execute(insert(claims_workers).values(
                employee_id=p["employee_id"], birth_date=date.fromisoformat(p["birth_date"]), sex=p["sex"]))

    def on_EmployeesImported(self, session: Session, e: Envelope) -> None:
        """An import's chunk of workers: each worker's EmployeeEnrolled, as columns (`_imported`)."""
        self.handle_batch(session, [e])

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """A go-live's runs of enrollments in bulk (libs.imports.bulk), the rest one by one."""
        project_in_runs(session, envelopes, {"EmployerEnrolled": self._employers, "EmployeeEnrolled": self._people,
                                             "EmployeeSeparated": self._people},
                        self.handle, self._imported, together=PEOPLE)

    def _employers(self, session: Session, run: list[Envelope]) -> None:
        fresh, rest = fresh_and_rest(run, lambda e: e.payload["employer_id"],
                                     lambda ids: stored(session, claims_employers.c.employer_id, ids))
        if fresh:  # the payload's ISO day as the driver stores a date
            insert_rows(session, claims_employers, ("employer_id", "region", "name", "status", "as_of"), [
                (p["employer_id"], p["region"], p["name"], "active", p["enrolled_on"])
                for p in (e.payload for e in fresh)])
        for e in rest:
            self.handle(session, e)

    def _employees(self, session: Session, run: list[Envelope]) -> None:
        """A worker is fresh with no worker row and no employment yet."""
        fresh, rest = fresh_and_rest(run, lambda e: e.payload["employee_id"], lambda ids: stored(
            session, claims_workers.c.employee_id, ids) | stored(session, claims_employments.c.employee_id, ids))
        if fresh:  # the payload's ISO dates as the driver stores them
            payloads = [e.payload for e in fresh]
            insert_rows(session, claims_employments, ("employee_id", "employer_id", "hired_on"),
                        [(p["employee_id"], p["employer_id"], p["hired_on"]) for p in payloads])
            insert_rows(session, claims_workers, ("employee_id", "birth_date", "sex"),
                        [(p["employee_id"], p["birth_date"], p["sex"]) for p in payloads])
        for e in rest:
            self.handle(session, e)

    def _people(self, session: Session, run: list[Envelope]) -> None:
        """A run of enrollments and separations (a go-live's workers who left: each one's
        EmployeeEnrolled and EmployeeSeparated in turn): a worker with no worker row, employment
        or separation stored yet has its rows written with the others' (the first event of a key
        names it, as one by one; none reads another), any other's events go through the
        handlers, one by one, in order."""
        if all(e.type == "EmployeeEnrolled" for e in run):
            return self._employees(session, run)
        ids = {e.payload["employee_id"] for e in run}
        busy = (stored(session, claims_workers.c.employee_id, ids) | stored(session, claims_employments.c.employee_id, ids)
                | stored(session, claims_separations.c.employee_id, ids))
        hires, ends, rest = hires_and_ends(run, busy)
        people: dict[str, tuple[str, str]] = {}  # worker → (birth_date, sex): of its first enrollment
        for p in hires.values():
            people.setdefault(p["employee_id"], (p["birth_date"], p["sex"]))
        insert_rows(session, claims_employments, ("employee_id", "employer_id", "hired_on"), list(hires))
        insert_rows(session, claims_workers, ("employee_id", "birth_date", "sex"),
                    [(employee_id, *person) for employee_id, person in people.items()])
        insert_rows(session, claims_separations, ("employee_id", "employer_id", "separated_on"), list(ends))
        for e in rest:
            self.handle(session, e)

    def _imported(self, session: Session, chunk: ImportedWorkers) -> None:
        """`_employees` for an import's chunk of workers, as columns."""
        fresh, rest = chunk.fresh_and_rest(chunk.employee_ids, lambda ids: stored(
            session, claims_workers.c.employee_id, ids) | stored(session, claims_employments.c.employee_id, ids))
        if fresh:
            insert_rows(session, claims_employments, ("employee_id", "employer_id", "hired_on"),
                        list(zip(fresh.employee_ids, fresh.employer_ids, fresh.hired_ons)))
            insert_rows(session, claims_workers, ("employee_id", "birth_date", "sex"),
                        list(zip(fresh.employee_ids, fresh.birth_dates, fresh.sexes)))
        for e in rest:
            self.handle(session, e)

    def on_EmployeeSeparated(self, session: Session, e: Envelope) -> None:
        p = e.payload
        separated_on = date.fromisoformat(p["separated_on"])
        if not _exists(session, claims_separations, claims_separations.c.employee_id == p["employee_id"],
                       claims_separations.c.employer_id == p["employer_id"],
                       claims_separations.c.separated_on == separated_on):
            session.execute(insert(claims_separations).values(
                employee_id=p["employee_id"], employer_id=p["employer_id"], separated_on=separated_on))

    def on_PoolsConsolidated(self, session: Session, e: Envelope) -> None:
        record_moves(session, claims_region_moves, e.payload)

    def reset(self, session: Session) -> None:
        for table in self.tables:
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        return rows_hash(
            session,
            select(claims_employers).order_by(claims_employers.c.employer_id),
            select(claims_employments).order_by(*claims_employments.primary_key.columns),
            select(claims_separations).order_by(*claims_separations.primary_key.columns),
            select(claims_workers).order_by(claims_workers.c.employee_id),
            select(claims_region_moves).order_by(claims_region_moves.c.region),
        )


class ClaimsWagesProjection(Projection):
    name = "wages"
    sources = ("levy",)
    tables = (claims_wage_reports, wages, claims_legacy_wages)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def on_WageReported(self, session: Session, e: Envelope) -> None:
        p = e.payload
        report_id, employer_id, period = p["report_id"], p["employer_id"], p["period"]
        lines = p.get("lines") or []
        assert len(lines) <= MAX_LINES_PER_REPORT
        if not _exists(session, claims_wage_reports, claims_wage_reports.c.report_id == report_id):
            session.execute(insert(claims_wage_reports).values(
                report_id=report_id, employer_id=employer_id, period=period,
                correction_of=p.get("correction_of"), sequence=e.sequence, lines=_packed(_by_employee(lines))))
        touched = self._rebuild(session, employer_id, period)
        if p.get("correction_of"):
            handlers.rederive_insured_wages(self.ctx, session, touched, period, e)

    def on_WagesImported(self, session: Session, e: Envelope) -> None:
        """Wage history from the old system: in force while no report of the month exists."""
        self._legacy_wages(session, _imported_columns([e]))

    def on_WageHistoryImported(self, session: Session, e: Envelope) -> None:
        self._legacy_wages(session, _imported_columns([e]))

    @staticmethod
    def _legacy_wages(session: Session, columns: Columns) -> None:
        """Imported lines (`Columns`) kept once, the first wage of a worker, employer and month staying: the wages in force
        read them for a month no report of the employer covers (handlers.worker_wages), so
        nothing else is written."""
        # A go-live's request: its rows land on as many pages of the month's part as its workers'
        # ids spread over (random ids: a page a row; ids that sort as the workers were imported: a
        # run of pages), more pages than the 2 MiB default holds, which then spills them to the
        # WAL and reads them back within the batch (bench/bench_legacy_wages.py: 15.4 against
        # 18.3 µs a row at 200,000 workers a month).
        big = len(columns[0]) >= LEGACY_CACHE_LINES
        if big and session.get_bind().dialect.name == "sqlite":  # sorted by SQLite (`_STAGED`)
            with sqlite_page_cache(session, LEGACY_CACHE_KIB, ("main", "temp")):
                _merged_in_key_order(session, columns)
            return
        lines = list(zip(*columns))
        if big:  # PostgreSQL
            # in the key's order, so each page of the month's part of the B-tree is reached once
            # and takes all its rows at once, whatever the file's order; a stable sort: the first
            # wage of a key is still the one kept
            keys = list(map(_LEGACY_KEY_TEXT, *columns))
            lines = list(map(lines.__getitem__, sorted(range(len(lines)), key=keys.__getitem__)))
        insert_new(session, claims_legacy_wages, _LEGACY_LINE, lines)

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """In bulk where the log is hot (a bulk report, an import): a run of first reports and
        imported wage history is written with multi-row inserts and each (employer, period) a
        report touches rebuilt once at the run's end; the rebuild depends on the facts alone, so this
        is what projecting them one by one gives. A correction (it re-derives claims' insured
        wages) and anything else goes one by one, in order."""
        run: list[Envelope] = []
        for e in envelopes:
            if e.type in BULK_TYPES and e.schema_version == REGISTRY.latest_version(e.type) \
                    and not e.payload.get("correction_of"):
                run.append(e)
                continue
            self._project_run(session, run)
            run = []
            self.handle(session, e)
        self._project_run(session, run)

    def _project_run(self, session: Session, run: list[Envelope]) -> None:
        if not run:
            return
        reported = [e.payload for e in run if e.type == "WageReported"]
        known: set[str] = set()
        for chunk in _chunks([p["report_id"] for p in reported]):
            known.update(session.execute(select(claims_wage_reports.c.report_id)
                                         .where(claims_wage_reports.c.report_id.in_(chunk))).scalars())
        reports = []
        fresh: dict[str, list[tuple[str, int]]] = {}  # the lines of each report just kept
        for e in run:
            p = e.payload
            if e.type == "WageReported":
                if p["report_id"] in known:
                    continue
                known.add(p["report_id"])
                assert len(p.get("lines") or ()) <= MAX_LINES_PER_REPORT
                fresh[p["report_id"]] = lines = _by_employee(p.get("lines") or ())
                reports.append({"report_id": p["report_id"], "employer_id": p["employer_id"], "period": p["period"],
                                "correction_of": None, "sequence": e.sequence, "lines": _packed(lines)})
        if reports:
            session.execute(insert(claims_wage_reports), reports)
        self._legacy_wages(session, _imported_columns(run))
        self._rebuild_many(session, sorted({(e.payload["employer_id"], e.payload["period"])
                                            for e in run if e.type == "WageReported"}), fresh)

    @staticmethod
    def _rebuild_many(session: Session, keys: list[tuple[str, str]],
                      fresh: dict[str, list[tuple[str, int]]] | None = None) -> None:
        """_rebuild for many (employer, period) at once, a few queries per period; the lines of
        each report in force written in one go (`fresh`: lines the caller has at hand)."""
        fresh = fresh or {}
        by_period: dict[str, list[str]] = {}
        for employer_id, period in keys:
            by_period.setdefault(period, []).append(employer_id)
        r = claims_wage_reports.c
        for period, employer_ids in sorted(by_period.items()):
            for chunk in _chunks(employer_ids):
                found: dict[str, list] = {e: [] for e in chunk}
                for row in session.execute(select(r.report_id, r.employer_id, r.correction_of, r.sequence).where(
                        r.period == period, r.employer_id.in_(chunk))):
                    found[row.employer_id].append(row)
                current: dict[str, str] = {}
                for employer_id, reports in found.items():
                    corrected = {x.correction_of for x in reports if x.correction_of}
                    tips = sorted((x for x in reports if x.report_id not in corrected),
                                  key=lambda x: (x.sequence, x.report_id))
                    if tips:
                        current[tips[-1].report_id] = employer_id
                session.execute(delete(wages).where(wages.c.period == period, wages.c.employer_id.in_(chunk)))
                stored = [report_id for report_id in sorted(current) if report_id not in fresh]
                lines = {report_id: _unpacked(text) for report_id, text in session.execute(
                    select(r.report_id, r.lines).where(r.report_id.in_(stored)))} if stored else {}
                insert_rows(session, wages, ("employee_id", "period", "employer_id", "wage_fen", "report_id"), [
                    (employee_id, period, employer_id, fen, report_id)
                    for report_id, employer_id in sorted(current.items())
                    for employee_id, fen in (fresh[report_id] if report_id in fresh else lines[report_id])])

    @staticmethod
    def _rebuild(session: Session, employer_id: str, period: str) -> set[str]:
        """The wages in force for one employer and period: the lines of the report no other report
        corrects (the latest by sequence if there are several). Returns every worker touched."""
        reports = session.execute(select(claims_wage_reports).where(
            claims_wage_reports.c.employer_id == employer_id, claims_wage_reports.c.period == period)).all()
        corrected = {r.correction_of for r in reports if r.correction_of}
        tips = sorted((r for r in reports if r.report_id not in corrected), key=lambda r: (r.sequence, r.report_id))
        before = set(session.execute(select(wages.c.employee_id).where(
            wages.c.employer_id == employer_id, wages.c.period == period)).scalars())
        session.execute(delete(wages).where(wages.c.employer_id == employer_id, wages.c.period == period))
        current, rows = (tips[-1].report_id, _unpacked(tips[-1].lines)) if tips else (None, [])
        if rows:
            session.execute(insert(wages), [
                {"employee_id": employee_id, "period": period, "employer_id": employer_id,
                 "wage_fen": fen, "report_id": current} for employee_id, fen in rows])
        return before | {employee_id for employee_id, _fen in rows}

    def reset(self, session: Session) -> None:
        for table in (claims_wage_reports, claims_legacy_wages, wages):
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        return rows_hash(
            session,
            select(claims_wage_reports).order_by(claims_wage_reports.c.report_id),
            select(claims_legacy_wages).order_by(*claims_legacy_wages.primary_key.columns),
            select(wages).order_by(*wages.primary_key.columns),
        )


class ClaimsListProjection(Projection):
    """The worklist row of each claim, mirroring the aggregate's state transitions.

    A batch (a go-live's thousands of claims, each a handful of events) is folded in memory: its
    claims' rows read in one query a chunk, each event applied to its claim's row as one by one
    (the same handlers, the same order), each row written once at the end."""

    name = "claims"
    sources = ("claims",)
    tables = (claims,)
    _rows: dict[str, dict] | None = None  # the batch's rows, while one is folded

    def handle_batch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        before = rows_by_key(session, claims, [e.aggregate_id for e in envelopes])
        self._rows = {claim_id: dict(row) for claim_id, row in before.items()}
        try:
            for envelope in envelopes:
                self.handle(session, envelope)
            rows = self._rows
        finally:
            self._rows = None
        write_folded(session, claims, before, rows)

    def handle(self, session: Session, envelope: Envelope) -> None:
        if envelope.type == "InjuryApplied":
            return super().handle(session, envelope)
        if self._rows is not None:
            held = self._rows.get(envelope.aggregate_id)
            row = SimpleNamespace(**held) if held is not None else None
        else:
            row = session.execute(select(claims.c.sequence, claims.c.status, claims.c.died).where(
                claims.c.claim_id == envelope.aggregate_id)).first()
        if row is None or envelope.sequence <= row.sequence:
            return  # already projected (events of one claim arrive in order)
        self._row = row
        super().handle(session, envelope)
        if self._rows is not None:
            held = self._rows[envelope.aggregate_id]
            held.update(sequence=envelope.sequence)
            held.update(worklist_due_on=worklist_due_on_of(held))
            return
        session.execute(update(claims).where(claims.c.claim_id == envelope.aggregate_id).values(
            sequence=envelope.sequence, worklist_due_on=worklist_due_on()))

    def _set(self, session: Session, e: Envelope, **values) -> None:  # noqa: ANN003
        if self._rows is not None:
            self._rows[e.aggregate_id].update(values)
            return
        session.execute(update(claims).where(claims.c.claim_id == e.aggregate_id).values(**values))

    def on_InjuryApplied(self, session: Session, e: Envelope) -> None:
        p = e.payload
        if self._rows is not None and e.aggregate_id in self._rows:
            return
        if self._rows is None and _exists(session, claims, claims.c.claim_id == e.aggregate_id):
            return
        due = p.get("decision_due_on")
        row = dict(
            claim_id=e.aggregate_id, employer_id=p["employer_id"], employee_id=p["employee_id"], region=p["region"],
            kind=p["kind"], occurred_on=date.fromisoformat(p["occurred_on"]),
            applied_on=date.fromisoformat(p["applied_on"]), status="applied",
            decision_due_on=date.fromisoformat(due) if due else None, appraisal_due_on=None, insured_wage_fen=None,
            grade=None, died=False, sequence=e.sequence, worklist_due_on=date.fromisoformat(due) if due else NO_DEADLINE)
        if self._rows is not None:
            self._rows[e.aggregate_id] = row
        else:
            session.execute(insert(claims).values(**row))

    def on_InjuryRecognized(self, session: Session, e: Envelope) -> None:
        due = e.payload.get("appraisal_due_on")
        died = self._row.died
        self._set(session, e, status="deceased" if died else e.payload["decision"], decision_due_on=None,
                  appraisal_due_on=date.fromisoformat(due) if due and not died else None)

    def on_InjuryRejected(self, session: Session, e: Envelope) -> None:
        self._set(session, e, status="rejected", decision_due_on=None)

    def on_InsuredWageDetermined(self, session: Session, e: Envelope) -> None:
        self._set(session, e, insured_wage_fen=to_fen(parse_yuan(e.payload["insured_wage"])))

    def on_TreatmentLeaveGranted(self, session: Session, e: Envelope) -> None:
        due = e.payload.get("appraisal_due_on")
        self._set(session, e, status="on_treatment_leave", appraisal_due_on=date.fromisoformat(due) if due else None)

    def on_GradeAssigned(self, session: Session, e: Envelope) -> None:
        self._set(session, e, status="appraised", grade=e.payload["grade"], appraisal_due_on=None)

    def on_EmploymentTerminated(self, session: Session, e: Envelope) -> None:
        self._set(session, e, status="terminated")

    def on_WorkerDied(self, session: Session, e: Envelope) -> None:
        status = self._row.status if self._row.status == "applied" else "deceased"
        self._set(session, e, status=status, died=True, appraisal_due_on=None)

    def on_ClaimClosed(self, session: Session, e: Envelope) -> None:
        self._set(session, e, status="closed", decision_due_on=None, appraisal_due_on=None)

    def on_AppealDecided(self, session: Session, e: Envelope) -> None:
        """A decision that replaces another moves the state by the claim's whole history (a
        restored recognition returns to where its history stands): the aggregate as of this event."""
        if e.payload["outcome"] == "upheld":
            return
        history = [x for x in EventStore(session, "claims").read_aggregate(e.aggregate_id) if x.sequence <= e.sequence]
        claim = Claim.rehydrate(e.aggregate_id, history)
        appraisal_open = claim.status in ("recognized", "deemed", "on_treatment_leave")
        self._set(session, e, status=claim.status, grade=claim.grade,
                  appraisal_due_on=claim.appraisal_due_on if appraisal_open else None)

    def reset(self, session: Session) -> None:
        session.execute(delete(claims))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(claims).order_by(claims.c.claim_id))


def build_projectors(ctx: ServiceContext) -> list[Projector]:
    from .documents.projection import DocumentsProjection

    return [ClientsProjection(), PoliciesProjection(), ClaimsEnrollmentProjection(), ClaimsWagesProjection(ctx),
            ClaimsListProjection(), DocumentsProjection(),
            LegacyRefsProjection(("enrollment",))]

