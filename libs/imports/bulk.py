"""Projecting a go-live's flood of enrollment events in bulk, with the rows one by one would give.

An import of a million workers is a million `EmployeeEnrolled` in a row on the log. A projection
keyed by the worker (or the employer, or the payee) can write a contiguous run of them with
multi-row inserts when each event's key is *fresh*: named once in the run and absent from its
tables, so inserting is exactly what its handler would do. Every other event of the run (a key
already stored, or named twice) goes through the handler, one by one, in order; the handlers of
different keys touch different rows, so the two parts never see each other's writes.

An import records its new workers a thousand to an `EmployeesImported` (enrollment's event, its
workers as columns): every consumer of `EmployeeEnrolled` reads it as its workers' enrollments,
`each_worker`, the very envelopes the per-worker path would have logged; a consumer that writes
a chunk's rows at once takes it as columns instead (`ImportedWorkers`, `project_in_runs`'s
`workers`), each worker its row in each column, the same rows as from the envelopes.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Date, Table, UniqueConstraint, bindparam, insert, select, update
from sqlalchemy.orm import Session

from libs.db import driver_cursor
from libs.events.envelope import Envelope, envelope_of, uuid_of
from libs.events.registry import REGISTRY

LOOKUP_CHUNK = 500
RANGE_PROBE_KEYS = 16  # fewer keys: their own lookups, about as cheap as a range's probe
IMPORTED_WORKERS = "EmployeesImported"
ENROLLED = "EmployeeEnrolled"
ENROLLED_VERSION = 2  # the EmployeeEnrolled an EmployeesImported stands for (docs/events.md)

Run = Callable[[Session, list[Envelope]], None]


def project_in_runs(session: Session, envelopes: Sequence[Envelope], bulk: dict[str, Run],
                    one: Callable[[Session, Envelope], None],
                    workers: Callable[[Session, ImportedWorkers], None] | None = None,
                    together: frozenset[str] = frozenset(), handled: frozenset[str] | None = None) -> None:
    """Contiguous runs of one type in `bulk` (at its latest schema version: no upcast) to its run
    handler; everything else to `one`, in the log's order. With `workers`, an import's chunk of
    workers goes to it as columns (`ImportedWorkers`), in its place; without, its workers'
    enrollments are a run of EmployeeEnrolled (`each_worker`). The types in `together` (one
    handler in `bulk` for them all) make one run in any order: a go-live's workers who left come
    as each one's EmployeeEnrolled and EmployeeSeparated in turn. With `handled` (the types `one`
    does anything with), an event of another type is passed over without ending a run: `one`
    would do nothing with it."""
    if workers is None:
        envelopes = each_worker(envelopes)
    run: list[Envelope] = []
    for e in envelopes:
        if e.type == IMPORTED_WORKERS and workers is not None:
            if run:
                bulk[run[0].type](session, run)
                run = []
            workers(session, ImportedWorkers.of(e))
            continue
        if handled is not None and e.type not in handled:
            continue
        if e.type in bulk and e.schema_version == REGISTRY.latest_version(e.type):
            if run and run[0].type != e.type and not (run[0].type in together and e.type in together):
                bulk[run[0].type](session, run)
                run = []
            run.append(e)
            continue
        if run:
            bulk[run[0].type](session, run)
            run = []
        one(session, e)
    if run:
        bulk[run[0].type](session, run)


def handled_types(projection: object) -> frozenset[str]:
    """The event types a projection that dispatches by `on_<Type>` does anything with."""
    return _handled_types(type(projection))


@lru_cache(maxsize=64)
def _handled_types(cls: type) -> frozenset[str]:  # once a class, not once a batch (dir() walks the MRO)
    return frozenset(name[3:] for name in dir(cls) if name.startswith("on_"))


def each_worker(envelopes: Sequence[Envelope]) -> Sequence[Envelope]:
    """The batch with each EmployeesImported replaced by its workers' EmployeeEnrolled, in its
    place and in its workers' order (a batch without one: the batch itself)."""
    if not any(e.type == IMPORTED_WORKERS for e in envelopes):
        return envelopes
    out: list[Envelope] = []
    for e in envelopes:
        if e.type == IMPORTED_WORKERS:
            out.extend(enrollments(e))
        else:
            out.append(e)
    return out


# EmployeesImported's columns, as in its payload: the one list its event (services/enrollment/domain/events.py)
# is declared and recorded by (tests/imports/test_imported_workers.py holds them together) and read by here
WORKER_COLUMNS = ("employee_ids", "employer_ids", "id_numbers", "names", "birth_dates", "sexes", "hired_ons",
                  "bank_codes", "account_nos", "holders", "rows", "legacy_ids")


def enrollments(e: Envelope) -> list[Envelope]:
    """An EmployeesImported as its workers' EmployeeEnrolled (v2): each the worker's first event
    (aggregate `worker`, the worker's id, sequence 1), on its hiring day, its `source` the row,
    its id the chunk's with the row's number in its last bits (`worker_event_id`: the same at
    every reading, a replay's or another consumer's), the rest of the envelope the chunk's."""
    return _enrollments(e, e.payload)


def _enrollments(e: Envelope, p: dict[str, Any]) -> list[Envelope]:
    """`enrollments` of the workers in the columns `p` (the chunk's payload, or some of its rows)."""
    chunk_id, recorded_at = e.event_id.int, e.recorded_at
    causation_id, correlation_id, actor = e.causation_id, e.correlation_id, e.actor
    import_id = p["import_id"]
    days: dict[str, date] = {}  # a chunk's workers share a few hiring days
    out = []
    for (employee_id, employer_id, id_number, name, birth_date, sex, hired_on, bank_code, account_no, holder, row,
         legacy_id) in zip(*(p[c] for c in WORKER_COLUMNS)):
        account = None if bank_code is None else {"bank_code": bank_code, "account_no": account_no, "holder": holder}
        out.append(envelope_of({
            "event_id": worker_event_id(chunk_id, row), "type": ENROLLED, "schema_version": ENROLLED_VERSION,
            "aggregate_type": "worker", "aggregate_id": employee_id, "sequence": 1,
            "occurred_on": days.get(hired_on) or days.setdefault(hired_on, date.fromisoformat(hired_on)),
            "recorded_at": recorded_at, "causation_id": causation_id,
            "correlation_id": correlation_id, "actor": actor, "payload": {
                "employee_id": employee_id, "employer_id": employer_id, "id_number": id_number, "name": name,
                "birth_date": birth_date, "sex": sex, "hired_on": hired_on, "bank_account": account,
                "source": {"import_id": import_id, "kind": "employees", "row": row, "legacy_id": legacy_id}}}))
    return out


class ImportedWorkers:
    """An import's chunk of workers (an EmployeesImported) as columns, for a consumer that writes
    a chunk's rows at once: worker i is the i-th of each column, as its EmployeeEnrolled has it
    (ISO dates as text, no bank account: None in its three columns); `enrollments` gives the
    envelopes themselves, for the handler of the rows that are not fresh."""

    __slots__ = ("envelope", "columns", "employee_ids", "employer_ids", "id_numbers", "names", "birth_dates",
                 "sexes", "hired_ons", "bank_codes", "account_nos", "holders", "rows", "legacy_ids")

    def __init__(self, envelope: Envelope, columns: dict[str, list[Any]]) -> None:
        self.envelope, self.columns = envelope, columns
        (self.employee_ids, self.employer_ids, self.id_numbers, self.names, self.birth_dates, self.sexes,
         self.hired_ons, self.bank_codes, self.account_nos, self.holders, self.rows,
         self.legacy_ids) = (columns[c] for c in WORKER_COLUMNS)

    @classmethod
    def of(cls, envelope: Envelope) -> "ImportedWorkers":
        return cls(envelope, {c: envelope.payload[c] for c in WORKER_COLUMNS})

    def __len__(self) -> int:
        return len(self.employee_ids)

    def event_ids(self) -> list[str]:
        """Each worker's enrollment's event id as text (`str(worker_event_id(...))`): the row
        changes only the id's last 64 bits, so the text's first three groups are the chunk's."""
        chunk_id = self.envelope.event_id
        head, low = str(chunk_id)[:19], chunk_id.int & 0xFFFF_FFFF_FFFF_FFFF
        return [f"{head}{(low ^ row) >> 48:04x}-{(low ^ row) & 0xFFFF_FFFF_FFFF:012x}" for row in self.rows]

    def enrollments(self) -> list[Envelope]:
        """These workers' EmployeeEnrolled, in their order (`enrollments`)."""
        return _enrollments(self.envelope, {**self.envelope.payload, **self.columns})

    def only(self, keep: Sequence[int]) -> "ImportedWorkers":
        """The workers at the positions `keep`, in that order."""
        return ImportedWorkers(self.envelope, {c: [values[i] for i in keep] for c, values in self.columns.items()})

    def fresh_and_rest(self, keys: Sequence[Any], taken: Callable[[list[Any]], set[Any]],
                       ) -> tuple["ImportedWorkers", list[Envelope]]:
        """`fresh_and_rest` as columns: the workers whose key (`keys`, one a worker) is once in
        the chunk and not `taken` in the tables, and the others' enrollments, each in order."""
        if not keys:
            return self, []
        distinct = len(set(keys)) == len(keys)
        counts = None if distinct else Counter(keys)
        busy = taken(list(keys) if distinct else [k for k, n in counts.items() if n == 1])  # type: ignore[union-attr]
        if distinct and not busy:
            return self, []
        fresh = [i for i, k in enumerate(keys) if (distinct or counts[k] == 1) and k not in busy]  # type: ignore[index]
        kept = set(fresh)
        return self.only(fresh), self.only([i for i in range(len(keys)) if i not in kept]).enrollments()


def worker_event_id(chunk_id: int, row: int) -> uuid.UUID:
    """The id of the row's worker's enrollment in a chunk whose event id is `chunk_id` (its
    number): the chunk's id with the row's number XORed into its 62 random bits — a UUIDv7 still
    (version and variant untouched), one per row of the chunk, and as unlikely to meet another
    event's id as two random ids are."""
    assert 0 < row < 1 << 62
    return uuid_of(chunk_id ^ row)


def stored(session: Session, column: Column, keys: Iterable[Any]) -> set[Any]:
    """Which of `keys` have a row in `column`'s table: text keys in one statement on the driver
    (the keys as one parameter: a JSON list on SQLite, an array on PostgreSQL), any others
    LOOKUP_CHUNK at a time through SQLAlchemy. Text keys of a column an index leads with are
    first looked for as a range on SQLite (`_none_between`): a chunk of new workers' time-ordered
    ids, whose span no stored key falls in, is answered by one probe, not a probe a key. (SQLite
    orders text by its UTF-8 bytes, as Python orders `str`; a PostgreSQL database's collation may
    not, so there each key is looked up.)"""
    distinct = set(keys)
    if not distinct:
        return set()
    if set(map(type, distinct)) == {str}:  # in any order: the statement reads them as a set
        if len(distinct) >= RANGE_PROBE_KEYS and session.get_bind().dialect.name == "sqlite" \
                and _leads_an_index(column) and _none_between(session, column, min(distinct), max(distinct)):
            return set()
        return {row[0] for row in _driver_rows(session, column, (column,), list(distinct), distinct=True)}
    keys = sorted(distinct)
    found: set[Any] = set()
    for i in range(0, len(keys), LOOKUP_CHUNK):
        found.update(session.execute(select(column).where(column.in_(keys[i:i + LOOKUP_CHUNK]))
                                     .distinct()).scalars())
    return found


@lru_cache(maxsize=256)
def _leads_an_index(column: Column) -> bool:
    """Whether `column` is the first column of its table's primary key, or of one of its indexes
    or unique constraints: a range of it is then found in its B-tree, not by a scan."""
    table = column.table
    firsts = [list(table.primary_key.columns)[:1], *(list(i.columns)[:1] for i in table.indexes),
              *(list(c.columns)[:1] for c in table.constraints if isinstance(c, UniqueConstraint))]
    return any(first and first[0] is column for first in firsts)


def _none_between(session: Session, column: Column, low: str, high: str) -> bool:
    """No row of `column`'s table has a key from `low` to `high` (both included): one probe of
    the index `column` leads (SQLite)."""
    conn = session.connection()
    statement = f'SELECT 1 FROM "{column.table.name}" WHERE "{column.name}" BETWEEN ? AND ? LIMIT 1'
    with driver_cursor(conn, statement, (low, high)) as cursor:
        cursor.execute(statement, (low, high))
        return cursor.fetchone() is None


def stored_values(session: Session, column: Column, value: Column, keys: Iterable[str]) -> dict[str, Any]:
    """`value` of the rows of its table whose text key `column` is among `keys`, by key (one row
    a key: a unique column), in one statement on the driver as `stored`: a chunk's thousands of
    keys without a bound parameter each. Values as the driver returns them: for text columns."""
    keys = sorted(set(keys))
    return dict(_driver_rows(session, column, (column, value), keys)) if keys else {}


def _driver_rows(session: Session, key: Column, columns: Sequence[Column], keys: list[str],
                 distinct: bool = False) -> list[tuple]:
    """`columns` of the rows whose text `key` is among `keys`, the keys as one parameter."""
    conn = session.connection()
    names = ", ".join(f'"{c.name}"' for c in columns)
    name, table, what = key.name, key.table.name, "DISTINCT " if distinct else ""
    if conn.dialect.name == "postgresql":
        statement, params = f'SELECT {what}{names} FROM "{table}" WHERE "{name}" = ANY(%s)', (keys,)
    else:
        statement = f'SELECT {what}{names} FROM "{table}" WHERE "{name}" IN (SELECT value FROM json_each(?))'
        params = (json.dumps(keys),)
    with driver_cursor(conn, statement, params) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def hires_and_ends(run: Sequence[Envelope], busy: set[str]) -> tuple[
        dict[tuple[str, str, str], dict[str, Any]], dict[tuple[str, str, str], None], list[Envelope]]:
    """A run of enrollments and separations split for a bulk write: each new worker's hires
    (worker, employer, hired_on) → the payload of the first enrollment that names it, its
    separations (worker, employer, separated_on), both in the run's order; and the events of the
    workers in `busy` (something of theirs stored already), left for the handlers one by one."""
    hires: dict[tuple[str, str, str], dict[str, Any]] = {}
    ends: dict[tuple[str, str, str], None] = {}
    rest: list[Envelope] = []
    for e in run:
        p = e.payload
        if p["employee_id"] in busy:
            rest.append(e)
        elif e.type == "EmployeeEnrolled":
            hires.setdefault((p["employee_id"], p["employer_id"], p["hired_on"]), p)
        else:
            ends.setdefault((p["employee_id"], p["employer_id"], p["separated_on"]))
    return hires, ends, rest


def fresh_and_rest(run: Sequence[Envelope], key: Callable[[Envelope], Any],
                   taken: Callable[[list[Any]], set[Any]]) -> tuple[list[Envelope], list[Envelope]]:
    """The run split into the events whose key is fresh (once in the run, not `taken` in the
    tables) and the rest, each part in the run's order."""
    counts = Counter(key(e) for e in run)
    once = [k for k, n in counts.items() if n == 1]
    busy = taken(once) if once else set()
    fresh, rest = [], []
    for e in run:
        k = key(e)
        (fresh if counts[k] == 1 and k not in busy else rest).append(e)
    return fresh, rest


def rows_by_key(session: Session, table: Table, keys: Sequence[Any]) -> dict[Any, dict]:
    """The rows of `table` (one-column primary key) whose key is among `keys`, each as a dict,
    read LOOKUP_CHUNK keys at a query: a batch's rows to fold in memory."""
    (key,) = table.primary_key.columns
    keys = sorted(set(keys))
    rows: dict[Any, dict] = {}
    for i in range(0, len(keys), LOOKUP_CHUNK):
        for r in session.execute(select(table).where(key.in_(keys[i:i + LOOKUP_CHUNK]))):
            rows[r._mapping[key.name]] = dict(r._mapping)
    return rows


def write_folded(session: Session, table: Table, before: dict[Any, dict], after: dict[Any, dict]) -> None:
    """A batch folded in memory written back once: the rows `before` lacked inserted, the rows
    that changed updated, one statement each."""
    (key,) = table.primary_key.columns
    new = [row for k, row in after.items() if k not in before]
    changed = [{f"v_{name}": value for name, value in row.items()} for k, row in after.items()
               if k in before and row != before[k]]
    if new:
        session.execute(insert(table), new)
    if changed:
        session.execute(update(table).where(key == bindparam(f"v_{key.name}")).values(
            {c.name: bindparam(f"v_{c.name}") for c in table.columns if c.name != key.name}), changed)


def driver_moments(session: Session) -> Callable[[datetime], datetime | str]:
    """How a moment goes to the driver for a DateTime column (`insert_rows`): on SQLite the text
    SQLAlchemy writes (its fields as they are, the zone dropped), on PostgreSQL itself."""
    if session.get_bind().dialect.name == "sqlite":
        return lambda moment: _sqlite_moment(moment, moment.utcoffset())
    return lambda moment: moment


def driver_rows(table: Table, columns: Sequence[str]) -> Callable[[dict[str, Any]], tuple]:
    """How a row (a dict by column name) goes to the driver (`insert_rows`), in `columns`' order: the
    days of `table`'s Date columns as ISO text (what SQLAlchemy writes on SQLite, what COPY reads on
    PostgreSQL), the other values as they are (moments: `driver_moments`)."""
    days = frozenset(c for c in columns if isinstance(table.c[c].type, Date))
    return lambda row: tuple(row[c].isoformat() if c in days and row[c] is not None else row[c] for c in columns)


@lru_cache(maxsize=64)  # a batch's events mostly share their append's moment (keyed with its offset:
def _sqlite_moment(moment: datetime, _offset: object) -> str:  # equal moments in other zones are other text)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")
