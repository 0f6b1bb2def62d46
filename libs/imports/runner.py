"""Running one import request: the rows of one kind, checked, recorded, summed up.

Each kind (a service's `imports.py`) says how a row is checked and recorded; this module does
what every kind shares:
1. rows keyed by `legacy_id`: a row already imported with the same content is skipped, with other
   content rejected; a key twice in one request rejects the second;
2. the kind checks the new rows (as the REST route would) and records the good ones as ordinary
   events in ONE transaction, each row in a savepoint, so a bad row never stops the others;
3. the rows accepted are remembered (`import_rows`, or where the kind keeps them: `Kind.kept_rows`,
   the wages' own table) in that transaction, and the summary of the import (counts, the first
   errors, the totals) with them.
A dry run does all of it and rolls the transaction back: it records nothing but its summary.
A file posted in chunks is one import: each chunk names the import (`import_id`) and its first
row's number, and the summary adds up.
"""
from __future__ import annotations

import json
import uuid
from itertools import repeat
from operator import attrgetter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from libs.collector import collector_paused
from libs.db import driver_cursor, driver_mark, writing
from libs.events.consumer import insert_rows
from libs.events.source import Source
from libs.events.store import ConcurrencyConflict
from libs.events.uow import UnitOfWork
from libs.money import yuan_str
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, invalid, not_found

from .rows import MAX_ROWS_PER_REQUEST, Row, RowRejected, Table, read_table
from .tables import TABLES

MAX_ERRORS_KEPT = 1_000
_SORTED = json.JSONEncoder(sort_keys=True)  # json.dumps(..., sort_keys=True), one encoder for a file's rows
_JSON_TEXT = json.encoder.encode_basestring_ascii  # a string as json.dumps writes it
LOOKUP_CHUNK = 500
KINDS = ("employers", "employees", "wages", "accounts", "claims", "dependents")  # the order to import them in
T = TypeVar("T")
Totals = dict[str, Any]  # flat: "a/b/c" → an int (a count) or a yuan string (an amount)


@dataclass
class Accepted:
    """A row recorded: what it created and its share of the import's totals."""

    ref_id: str | None
    totals: Totals = field(default_factory=dict)


Outcome = Accepted | RowRejected


class AcceptedRows(NamedTuple):
    """Rows recorded alike, as columns (a wages request's thousands): no outcome, totals or
    digest made each row — the runner remembers and sums them a column at a time."""

    numbers: Sequence[int]
    ref_ids: Sequence[str | None]
    totals: dict[str, Sequence[int]]  # each row's share: a count, or an amount in fen if its key is in `fen`
    fen: frozenset[str] = frozenset()  # the keys of `totals` that are amounts (yuan strings in the summary)


class RecordedRows(NamedTuple):
    """What `Kind.record` may answer in place of an outcome by row: the rows accepted as
    columns, and the others' outcomes by row number."""

    accepted: AcceptedRows
    others: dict[int, Outcome]


class Kind(Protocol):
    """One kind of import file, owned by one service."""

    name: str
    columns: tuple[str, ...]  # the columns every file has
    optional: tuple[str, ...]  # columns a file may have

    def legacy_id(self, row: Row) -> str:
        """The row's key in the old system (most kinds: its `legacy_id` column)."""

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        """Every row checked as the REST route would check it, before the transaction: the
        prepared command of each good row, a RowRejected for each bad one (by row number)."""

    def record(self, uow: UnitOfWork, import_id: str,
               rows: Sequence[tuple[Row, Any]]) -> dict[int, Outcome] | RecordedRows:
        """Record the checked rows in the transaction `uow`: each row its events and read
        models, in a savepoint (`each_in_savepoint`), or rejected if its aggregate refuses."""

    # optional: def legacy_ids(self, table: Table) -> list[str] | None — every row's key read a
    # column at a time (None: some row needs `legacy_id`'s checks, which name its field)
    # optional: def stored_keys(self, legacy_ids: Sequence[str]) -> list[str] — each key as
    # import_rows keeps it, so a file's rows land together in its B-tree (the wages: the month
    # first); one key, one stored key
    # optional: max_rows: int — the rows one request takes, if not MAX_ROWS_PER_REQUEST (the
    # wages: small rows, and each request's commit amortized over more of them)
    # optional: kept_rows: Callable[[str, Table], RowsKept] — where the kind keeps the rows it
    # accepted, if not import_rows (`ImportRows`; the wages: a table of their own)


class Earlier(NamedTuple):
    """A row's key accepted by an earlier request: where, whether with the same content (a row
    skipped; else rejected), and the row's share of the totals (when the same)."""

    import_id: str
    row: int
    same: bool
    totals: Totals | None


class RowsKept(Protocol):
    """The rows a kind accepted (what makes a file posted twice record nothing twice), for one
    request: made of the kind's name and the request's table."""

    def find(self, ctx: ServiceContext, rows: Sequence[Row], stored: Sequence[str]) -> dict[str, Earlier]:
        """Those of `rows` (keyed, `stored`: their keys as kept) accepted before, by legacy_id."""

    def keep(self, session, import_id: str, accepted: Sequence[tuple[Row, Accepted]], alike: AcceptedRows,  # noqa: ANN001
             by_number: dict[int, Row], stored_by_number: dict[int, str]) -> None:
        """The rows accepted by this request (`accepted` by outcome, `alike` as columns), in its
        transaction."""


class ImportRows:
    """Every kind's rows kept in import_rows (but a kind's own `kept_rows`): each with the digest
    of its columns, what it created and its share of the totals."""

    def __init__(self, kind: str, table: Table) -> None:
        self.kind = kind
        self.digests = dict(zip(table.numbers, table.digests()))

    def find(self, ctx: ServiceContext, rows: Sequence[Row], stored: Sequence[str]) -> dict[str, Earlier]:
        known = _imported(ctx, self.kind, list(map(attrgetter("legacy_id"), rows)), list(stored))
        found: dict[str, Earlier] = {}
        for row in rows if known else ():
            before = known.get(row.legacy_id)
            if before is not None:
                same = before.digest == self.digests[row.number]
                found[row.legacy_id] = Earlier(before.import_id, before.row, same,
                                               json.loads(before.totals_json) if same else None)
        return found

    def keep(self, session, import_id: str, accepted: Sequence[tuple[Row, Accepted]], alike: AcceptedRows,  # noqa: ANN001
             by_number: dict[int, Row], stored_by_number: dict[int, str]) -> None:
        digests = self.digests
        _remember(session, [(self.kind, stored_by_number[r.number], digests[r.number], import_id, r.number,
                             o.ref_id, totals_json(o.totals)) for r, o in accepted])
        _remember(session, list(zip(
            repeat(self.kind), map(stored_by_number.__getitem__, alike.numbers),
            map(digests.__getitem__, alike.numbers), repeat(import_id), alike.numbers, alike.ref_ids,
            totals_jsons(alike))))


def source(import_id: str, kind: str, row: Row) -> Source:
    return Source(import_id=import_id, kind=kind, row=row.number, legacy_id=row.legacy_id)


def new_import_id(kind: str) -> str:
    """`imp_<kind>_<hex>`: the gateway routes `GET /v1/imports/{import_id}` by the kind in it."""
    return f"imp_{kind}_{uuid.uuid4().hex[:16]}"


def in_savepoint(uow: UnitOfWork, record: Callable[[], T], on_failure: Callable[[], None] = lambda: None) -> T | RowRejected:
    """One row's writes in a savepoint: on a refusal they are undone (and the events it appended
    forgotten), the transaction goes on with the next row."""
    mark = len(uow.recorded)
    try:
        with uow.session.begin_nested():
            return record()
    except RowRejected as exc:
        failed: RowRejected = exc
    except (IntegrityError, ConcurrencyConflict):
        failed = RowRejected("legacy_id", "conflicts with a record made at the same moment; post the row again")
    del uow.recorded[mark:]
    on_failure()
    return failed


def in_one_savepoint(uow: UnitOfWork, write: Callable[[], None]) -> bool:
    """Many rows' writes in one savepoint (a chunk's new aggregates in bulk): False, with the
    writes undone, when a concurrent record got there first (the caller then goes row by row)."""
    mark = len(uow.recorded)
    try:
        with uow.session.begin_nested():
            write()
        return True
    except (IntegrityError, ConcurrencyConflict):
        del uow.recorded[mark:]
        return False


# ---- one request ----------------------------------------------------------------------------

def run_import(ctx: ServiceContext, actor: Principal | str, kind: Kind, body: bytes, *, dry_run: bool,
               import_id: str | None, first_row: int) -> dict[str, Any]:
    """One request, the collector paused (libs.collector): its thousands of rows' objects live
    until it commits, and walking them finds nothing to free."""
    with collector_paused():
        return _run_import(ctx, actor, kind, body, dry_run=dry_run, import_id=import_id, first_row=first_row)


def _run_import(ctx: ServiceContext, actor: Principal | str, kind: Kind, body: bytes, *, dry_run: bool,
                import_id: str | None, first_row: int) -> dict[str, Any]:
    table = read_table(body, kind.columns, kind.optional, first_row, getattr(kind, "max_rows", MAX_ROWS_PER_REQUEST))
    client_id = actor.client_id if isinstance(actor, Principal) else actor
    summary = _summary_to_continue(ctx, kind.name, import_id, dry_run) if import_id else None
    import_id = import_id or new_import_id(kind.name)
    outcomes: dict[int, Outcome | None] = {}  # None: skipped, the same content is on the ledger
    totals: list[Totals] = []

    rows = table.rows()
    fresh = _keyed(kind, table, rows, outcomes)
    kept: RowsKept = getattr(kind, "kept_rows", ImportRows)(kind.name, table)
    keys = list(map(attrgetter("legacy_id"), fresh))
    stored_keys = getattr(kind, "stored_keys", None)
    stored = stored_keys(keys) if stored_keys is not None else keys  # as the rows are kept
    known = kept.find(ctx, fresh, stored)
    new = fresh if not known else []
    for row in fresh if known else ():
        before = known.get(row.legacy_id)
        if before is None:
            new.append(row)
        elif before.same:
            outcomes[row.number] = None
            totals.append(before.totals)  # type: ignore[arg-type]
        else:
            outcomes[row.number] = RowRejected("legacy_id", f"{row.legacy_id} was imported with other content "
                                                            f"(import {before.import_id}, row {before.row})")
    checked = kind.check(ctx, new)
    numbers = list(map(attrgetter("number"), new))
    verdicts = list(map(checked.__getitem__, numbers))  # each verdict looked at once, by maps when all are good
    refused = {n: c for n, c in zip(numbers, verdicts) if isinstance(c, RowRejected)} \
        if any(map(isinstance, verdicts, repeat(RowRejected))) else {}
    good = list(zip(new, verdicts)) if not refused else [(r, c) for r, c in zip(new, verdicts) if r.number not in refused]
    good_numbers = set(numbers).difference(refused)
    outcomes.update(refused)

    by_number = dict(zip(numbers, new))  # keyed: legacy_id set
    stored_by_number = dict(zip(map(attrgetter("number"), fresh), stored))
    try:
        with ctx.uow(actor) as uow:
            recorded = kind.record(uow, import_id, good) if good else {}
            alike = AcceptedRows((), (), {})
            if isinstance(recorded, RecordedRows):
                alike, recorded = recorded.accepted, recorded.others
            assert recorded.keys() | set(alike.numbers) == good_numbers \
                and len(recorded) + len(alike.numbers) == len(good), "every checked row has one outcome"
            outcomes.update(recorded)
            accepted = [(by_number[n], o) for n, o in recorded.items() if isinstance(o, Accepted)]
            if (accepted or alike.numbers) and not dry_run:
                kept.keep(uow.session, import_id, accepted, alike, by_number, stored_by_number)
            totals += [o.totals for _, o in accepted]
            totals.append(column_totals(alike))
            doc = _merged(summary, kind.name, import_id, dry_run, client_id, len(table.numbers), outcomes,
                          len(alike.numbers), totals)
            if dry_run:
                raise _DryRun
            _store(uow.session, doc, new=summary is None)
    except _DryRun:
        with writing(ctx.session_factory) as session:
            _store(session, doc, new=summary is None)
    return view(doc)


def _keyed(kind: Kind, table: Table, rows: list[Row], outcomes: dict[int, Outcome | None]) -> list[Row]:
    """The rows with a good key, each row's `legacy_id` set; a row with a problem, a bad key or
    a key twice in the request rejected (in `outcomes`). Every key read a column at a time when
    the kind can (`legacy_ids`) and no row has a problem or a key of another row."""
    bulk = getattr(kind, "legacy_ids", None)
    keys = bulk(table) if bulk is not None and not table.problems else None
    if keys is not None and len(set(keys)) == len(keys):
        for row, key in zip(rows, keys):
            row.legacy_id = key
        return rows
    fresh: list[Row] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row.problem is not None:
            outcomes[row.number] = row.problem
            continue
        try:
            key = keys[i] if keys is not None else kind.legacy_id(row)
        except RowRejected as exc:
            outcomes[row.number] = exc
            continue
        if key in seen:
            outcomes[row.number] = RowRejected("legacy_id", f"{key} is also in row {seen[key]} of this request")
            continue
        seen[key] = row.number
        row.legacy_id = key
        fresh.append(row)
    return fresh


def totals_jsons(rows: AcceptedRows) -> list[str]:
    """totals_json of each of `rows`' totals: the keys written once into a format string, the
    values a column at a time (counts as ints, amounts in fen as yuan strings)."""
    keys = sorted(rows.totals)
    if not keys:
        return ["{}"] * len(rows.numbers)
    template = "{{" + ", ".join(_JSON_TEXT(k).replace("{", "{{").replace("}", "}}") + (': "{}"' if k in rows.fen else ": {}")
                               for k in keys) + "}}"
    columns = [_yuan_strs(rows.totals[k]) if k in rows.fen else rows.totals[k] for k in keys]
    return list(map(template.format, *columns))


def _yuan_strs(fens: Sequence[int]) -> list[str]:
    """yuan_str of each amount in fen, without a call each when none is negative."""
    if fens and min(fens) >= 0:
        return [f"{fen // 100}.{fen % 100:02d}" for fen in fens]
    return list(map(yuan_str, fens))


def column_totals(rows: AcceptedRows) -> Totals:
    """`rows`' totals summed, a column at a time (amounts summed in fen)."""
    return {k: yuan_str(sum(vs)) if k in rows.fen else sum(vs) for k, vs in rows.totals.items()}


def totals_json(totals: Totals) -> str:
    """json.dumps(totals, sort_keys=True), for the flat totals of a row (counts and yuan strings)
    written without an encoder made each row; anything else by the encoder."""
    parts = []
    for key, value in sorted(totals.items()):
        kind = type(value)
        if type(key) is not str or (kind is not int and kind is not str):
            return _SORTED.encode(totals)  # a bool, a fraction, a nested value: as json writes it
        parts.append(f"{_JSON_TEXT(key)}: {value if kind is int else _JSON_TEXT(value)}")
    return "{" + ", ".join(parts) + "}"


def _remember(session, rows: list[tuple]) -> None:  # noqa: ANN001
    """The accepted rows' keys (import_rows) on the driver (`insert_rows`: many rows a statement
    on SQLite, COPY on PostgreSQL): a wages file is millions of rows, no object each."""
    insert_rows(session, TABLES.import_rows, _REMEMBERED, rows)


_REMEMBERED = ("kind", "legacy_id", "digest", "import_id", "row", "ref_id", "totals_json")


class _DryRun(Exception):
    """Leave the transaction by rolling it back: a dry run records nothing."""


def _summary_to_continue(ctx: ServiceContext, kind: str, import_id: str, dry_run: bool) -> dict[str, Any]:
    with ctx.session_factory() as session:
        row = session.execute(select(TABLES.imports).where(TABLES.imports.c.import_id == import_id)).first()
    if row is None or row.kind != kind:
        raise invalid("query.import_id", f"no import {import_id} of {kind} to continue")
    if row.dry_run != dry_run:
        raise conflict(f"import {import_id} is {'a dry run' if row.dry_run else 'not a dry run'}: "
                       "continue it the same way")
    return _doc(row)


class ImportedRow(NamedTuple):
    """A row an import recorded already (import_rows)."""

    legacy_id: str
    digest: str
    import_id: str
    row: int
    totals_json: str


def imported_rows(session, kind: str, keys: Sequence[str],  # noqa: ANN001
                  stored: Sequence[str] | None = None) -> dict[str, ImportedRow]:
    """legacy_id → its row in import_rows, for those of `keys` there: one query per LOOKUP_CHUNK
    keys, on the driver (a wages request asks for thousands: no SQLAlchemy IN-list compiled).
    `stored`: each key as import_rows keeps it, when the kind keeps them in another form
    (Kind.stored_keys)."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    given = dict(zip(stored, keys)) if stored is not None and stored is not keys else None  # stored → legacy_id
    stored = stored if stored is not None else keys
    found: dict[str, ImportedRow] = {}
    for i in range(0, len(stored), LOOKUP_CHUNK):
        chunk = stored[i:i + LOOKUP_CHUNK]
        statement = (f'SELECT legacy_id, digest, import_id, "row", totals_json FROM {TABLES.import_rows.name} '
                     f"WHERE kind = {mark} AND legacy_id IN ({', '.join([mark] * len(chunk))})")
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement, [kind, *chunk])
            for r in cursor.fetchall():
                key = given[r[0]] if given is not None else r[0]
                found[key] = ImportedRow(key, *r[1:])
    return found


def _imported(ctx: ServiceContext, kind: str, keys: list[str], stored: list[str]) -> dict[str, ImportedRow]:
    with ctx.session_factory() as session:
        return imported_rows(session, kind, keys, stored)


# ---- the summary ----------------------------------------------------------------------------

def _merged(before: dict[str, Any] | None, kind: str, import_id: str, dry_run: bool, actor: str, rows: int,
            outcomes: dict[int, Outcome | None], accepted_alike: int, totals: list[Totals]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    doc = before or {"import_id": import_id, "kind": kind, "dry_run": dry_run, "actor": actor, "created_at": now,
                     "rows": 0, "accepted": 0, "skipped": 0, "rejected": 0, "errors": [], "totals": {}}
    errors = [{"row": n, "field": o.field, "message": o.message}
              for n, o in sorted(outcomes.items()) if isinstance(o, RowRejected)]
    doc["rows"] += rows
    doc["accepted"] += accepted_alike + sum(isinstance(o, Accepted) for o in outcomes.values())
    doc["skipped"] += sum(o is None for o in outcomes.values())
    doc["rejected"] += len(errors)
    doc["errors"] = (doc["errors"] + errors)[:MAX_ERRORS_KEPT]
    doc["totals"] = add_totals(doc["totals"], *totals)
    doc["updated_at"] = now
    assert doc["accepted"] + doc["skipped"] + doc["rejected"] == doc["rows"], "every row has one outcome"
    return doc


def add_totals(*parts: Totals) -> Totals:
    """The parts summed key by key: counts as ints, amounts (yuan strings) as Decimals, each
    key's values added at once (a request's parts are thousands of rows')."""
    values: dict[str, list] = {}
    for part in parts:
        for key, value in part.items():
            values.setdefault(key, []).append(value)
    return {key: yuan_str(sum(map(Decimal, vs), Decimal(0))) if isinstance(vs[0], str) else sum(vs)
            for key, vs in values.items()}


def _store(session, doc: dict[str, Any], new: bool) -> None:  # noqa: ANN001
    values = {"kind": doc["kind"], "dry_run": doc["dry_run"], "actor": doc["actor"], "created_at": doc["created_at"],
              "updated_at": doc["updated_at"], "rows": doc["rows"], "accepted": doc["accepted"],
              "skipped": doc["skipped"], "rejected": doc["rejected"],
              "errors_json": json.dumps(doc["errors"], ensure_ascii=False),
              "totals_json": json.dumps(doc["totals"], sort_keys=True)}
    t = TABLES.imports
    if new:
        session.execute(insert(t).values(import_id=doc["import_id"], **values))
    else:
        session.execute(update(t).where(t.c.import_id == doc["import_id"]).values(**values))


def _doc(row: Any) -> dict[str, Any]:
    return {"import_id": row.import_id, "kind": row.kind, "dry_run": row.dry_run, "actor": row.actor,
            "created_at": row.created_at, "updated_at": row.updated_at, "rows": row.rows, "accepted": row.accepted,
            "skipped": row.skipped, "rejected": row.rejected, "errors": json.loads(row.errors_json),
            "totals": json.loads(row.totals_json)}


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """The summary as API.md gives it; `totals` nested by the parts of their keys."""
    nested: dict[str, Any] = {}
    for key, value in sorted(doc["totals"].items()):
        *path, last = key.split("/")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return {"import_id": doc["import_id"], "kind": doc["kind"], "dry_run": doc["dry_run"], "rows": doc["rows"],
            "accepted": doc["accepted"], "skipped": doc["skipped"], "rejected": doc["rejected"],
            "errors": doc["errors"], "errors_shown": len(doc["errors"]), "totals": nested,
            "created_at": _iso(doc["created_at"]), "updated_at": _iso(doc["updated_at"])}


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def find_summary(session_factories: Sequence[Any], import_id: str) -> dict[str, Any]:
    """`GET /v1/imports/{import_id}`: the summary, from whichever database of this process holds it."""
    from sqlalchemy import inspect

    for sessions in session_factories:
        with sessions() as session:
            if not inspect(session.connection()).has_table(TABLES.imports.name):
                continue
            row = session.execute(select(TABLES.imports).where(TABLES.imports.c.import_id == import_id)).first()
        if row is not None:
            return view(_doc(row))
    raise not_found("import", import_id)
