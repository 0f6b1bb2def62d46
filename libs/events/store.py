"""The event store: one SQLAlchemy code path for SQLite and PostgreSQL.

`append` writes an aggregate's new events in the caller's transaction, so the events and the
read-model changes of one command commit together (or not at all). The events table is the
outbox too: each event's row names its topic and stays unsent (`sent_at` null, in the relay's
partial index) until the relay has published it — one row written an event.
"""
from __future__ import annotations

import json
import uuid
from time import time_ns
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, NamedTuple, NoReturn, Sequence

from pydantic_core import to_json
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.db import DriverTransaction, driver_connection, driver_error

from .envelope import (Envelope, envelope_of, new_event_id_and_text, new_event_ids, new_event_ids_and_texts,
                       trusted_envelope, utc_now)
from .tables import events

MAX_APPEND_BATCH = 10_000
MAX_READ_BATCH = 50_000
READ_IDS = 500  # aggregates a query of `read_aggregates` reads (an IN list of that many ids)


class ConcurrencyConflict(Exception):
    """The aggregate moved on since the caller read it (the API answers 409)."""

    def __init__(self, aggregate_id: str, expected: int, actual: int | None = None) -> None:
        self.aggregate_id, self.expected, self.actual = aggregate_id, expected, actual
        found = "a newer version" if actual is None else f"version {actual}"
        super().__init__(f"aggregate {aggregate_id} is at {found}, not {expected}")


class NewEvent(NamedTuple):
    """An event to append (immutable: a tuple, made per event on every save)."""

    type: str
    schema_version: int
    payload: dict[str, Any]  # JSON-safe: Decimals already strings
    occurred_on: date


@dataclass(frozen=True)
class Context:
    """Who acts and why: copied onto every event a command writes."""

    actor: str
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None


def dumps(payload: dict[str, Any]) -> str:
    """Compact JSON, UTF-8 as is: the same text as `json.dumps(payload, separators=(",", ":"),
    ensure_ascii=False)` for the JSON-safe dicts we store, written by pydantic-core (several
    times faster than the json module's Python layer, which builds an encoder per call)."""
    return to_json(payload).decode()


class EventStore:
    """Reads and appends on a Session, a Core Connection or a DriverTransaction (the unit of
    work's: appends go through its driver cursor, reads make its Connection)."""

    def __init__(self, session: Session | Connection | DriverTransaction, topic: str) -> None:
        self.session = session
        self.topic = topic

    def _connection(self) -> Connection | DriverTransaction:
        s = self.session
        return s.connection() if isinstance(s, Session) else s

    def current_version(self, aggregate_id: str) -> int:
        stmt = select(func.max(events.c.sequence)).where(events.c.aggregate_id == aggregate_id)
        return self.session.execute(stmt).scalar_one() or 0

    def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        expected_version: int,
        new_events: Sequence[NewEvent],
        context: Context,
        floor: int = 0,
    ) -> list[Envelope]:
        """Append after `expected_version`: the events (each its own outbox entry) in one
        statement on PostgreSQL (one round trip), one executemany on SQLite. A stale
        version (the unique constraint) or a gap (`expected_version` ahead of the stored one)
        raises ConcurrencyConflict. `floor`: the versions the aggregate has from an event of
        another stream (`Aggregate.base_version`: a worker an import's chunk enrolled), its own
        stream starting after them."""
        return append_events(self._connection(), self.topic, aggregate_type, aggregate_id, expected_version,
                             new_events, context, floor)

    def append_new(
        self,
        aggregate_type: str,
        streams: Sequence[tuple[str, Sequence[NewEvent]]],
        context: Context,
    ) -> list[Envelope]:
        """The first events of many new aggregates (a go-live's thousand workers) in one go: one
        statement on PostgreSQL, one executemany on SQLite. An aggregate
        that has events already (the unique constraint) raises ConcurrencyConflict."""
        total = sum(len(new) for _id, new in streams)
        assert all(new for _id, new in streams) and 0 < total <= MAX_APPEND_BATCH, "append 1..MAX_APPEND_BATCH events"
        recorded_at = utc_now()
        ids = iter(new_event_ids(total))
        causation_id, correlation_id, actor = context.causation_id, context.correlation_id, context.actor
        envelopes = [
            envelope_of({
                "event_id": next(ids), "type": e.type, "schema_version": e.schema_version,
                "aggregate_type": aggregate_type, "aggregate_id": aggregate_id, "sequence": i,
                "occurred_on": e.occurred_on, "recorded_at": recorded_at, "causation_id": causation_id,
                "correlation_id": correlation_id, "actor": actor, "payload": e.payload})
            for aggregate_id, new in streams for i, e in enumerate(new, start=1)
        ]
        conn = self._connection()
        if conn.dialect.name == "postgresql":
            written = _append_new_postgresql(conn, self.topic, envelopes)
        else:
            written = _append_new_sqlite(conn, self.topic, envelopes)
        if written != len(envelopes):
            raise ConcurrencyConflict(envelopes[0].aggregate_id, 0)
        return envelopes

    def read_aggregate(self, aggregate_id: str, after_sequence: int = 0) -> list[Envelope]:
        stmt = (
            select(events)
            .where(events.c.aggregate_id == aggregate_id, events.c.sequence > after_sequence)
            .order_by(events.c.sequence)
        )
        found = [row_to_envelope(r) for r in self.session.execute(stmt)]
        assert all(e.sequence == after_sequence + i for i, e in enumerate(found, 1)), "gap"
        return found

    def read_aggregates(self, aggregate_ids: Sequence[str]) -> dict[str, list[Envelope]]:
        """`read_aggregate` of many aggregates (a go-live's chunk of claims), a query per
        READ_IDS of them, not one each; an aggregate without events is not in the answer."""
        found: dict[str, list[Envelope]] = {}
        ids = sorted(set(aggregate_ids))
        for i in range(0, len(ids), READ_IDS):
            stmt = (select(events).where(events.c.aggregate_id.in_(ids[i:i + READ_IDS]))
                    .order_by(events.c.aggregate_id, events.c.sequence))
            for r in self.session.execute(stmt):
                found.setdefault(r.aggregate_id, []).append(row_to_envelope(r))
        assert all(e.sequence == i for history in found.values() for i, e in enumerate(history, 1)), "gap"
        return found

    def read_after(self, position: int, limit: int = 1000) -> list[tuple[int, Envelope]]:
        """Everything after a global position, in order, at most `limit` events."""
        limit = min(limit, MAX_READ_BATCH)
        stmt = select(events).where(events.c.position > position).order_by(events.c.position)
        return [(r.position, row_to_envelope(r)) for r in self.session.execute(stmt.limit(limit))]


def append_events(conn: Connection | DriverTransaction, topic: str, aggregate_type: str, aggregate_id: str,
                  expected_version: int, new_events: Sequence[NewEvent], context: Context,
                  floor: int = 0) -> list[Envelope]:
    """EventStore.append on a connection (or the unit of work's DriverTransaction, whose saves
    call it directly: no EventStore to go through on every save)."""
    assert 0 < len(new_events) <= MAX_APPEND_BATCH, "append 1..MAX_APPEND_BATCH events"
    append = _append_postgresql if conn.dialect.name == "postgresql" else _append_sqlite
    return append(conn, topic, aggregate_type, aggregate_id, expected_version, new_events, context, floor)


_COLUMNS = ("event_id", "aggregate_type", "aggregate_id", "sequence", "type", "schema_version", "occurred_on",
            "recorded_at", "causation_id", "correlation_id", "actor", "payload", "topic")

_SQLITE_VERSION = "SELECT max(sequence) FROM events WHERE aggregate_id = ?"
# The optional columns last, written as NULL in the statement when absent: sqlite3 looks for an
# adapter of every None it binds (a failed attribute lookup that formats an AttributeError's
# message, ≈ 3,000 instructions a None), most of an append's binding.
_SQLITE_OPTIONAL = ("causation_id", "correlation_id")
_SQLITE_REQUIRED = tuple(c for c in _COLUMNS if c not in _SQLITE_OPTIONAL)
_SQLITE_INSERTS = {
    (causation, correlation): f"INSERT INTO events ({', '.join(_SQLITE_REQUIRED + _SQLITE_OPTIONAL)}) VALUES "
    f"({', '.join('?' * len(_SQLITE_REQUIRED))}, {'?' if causation else 'NULL'}, {'?' if correlation else 'NULL'})"
    for causation in (False, True) for correlation in (False, True)}


def _sqlite_insert(causation_text: str | None, correlation_id: str | None) -> tuple[str, tuple[str, ...]]:
    """The insert of an event's row for a context: the statement, and the optional columns' values that
    follow the required ones in each row (those present: the absent are NULL in the statement)."""
    if causation_text is None:
        if correlation_id is None:
            return _SQLITE_INSERTS[(False, False)], ()
        return _SQLITE_INSERTS[(False, True)], (correlation_id,)
    if correlation_id is None:
        return _SQLITE_INSERTS[(True, False)], (causation_text,)
    return _SQLITE_INSERTS[(True, True)], (causation_text, correlation_id)

# One statement, whatever the number of events: the per-event columns travel as one JSON array of
# objects (one text parameter, whatever the number of events), and the version check is a condition
# of the same statement (no row is written past a gap). JSON, not one array parameter per column:
# psycopg dumped an array element by element in Python, most of a batch's CPU; the document is one
# call of pydantic-core. Each payload is a `json` field, whose text PostgreSQL keeps as written: the
# stored text is exactly `dumps(payload)`. The statements go through `libs.pg_statement` (their
# parameters $1…, as texts, cast where the server cannot tell their type).
_POSTGRESQL_EVENTS = """ROWS FROM (json_to_recordset($1::json) AS (event_id varchar, aggregate_id varchar,
     sequence int, type varchar, schema_version int, occurred_on date, payload json))
     WITH ORDINALITY AS e(event_id, aggregate_id, sequence, type, schema_version, occurred_on, payload, n)"""
# One aggregate's events: its id is a parameter of the statement ($3), not a field of every
# entry (a sixth of the document's text that the client wrote and the server parsed for nothing).
_POSTGRESQL_STREAM_EVENTS = """ROWS FROM (json_to_recordset($1::json) AS (event_id varchar,
     sequence int, type varchar, schema_version int, occurred_on date, payload json))
     WITH ORDINALITY AS e(event_id, sequence, type, schema_version, occurred_on, payload, n)"""
_POSTGRESQL_APPEND = f"""
INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, type, schema_version, occurred_on,
                    recorded_at, causation_id, correlation_id, actor, payload, topic)
SELECT e.event_id, $2::varchar, $3::varchar, e.sequence, e.type, e.schema_version, e.occurred_on,
       $4::timestamptz, $5::varchar, $6::varchar, $7::varchar, e.payload::text, $8::varchar
FROM {_POSTGRESQL_STREAM_EVENTS}
WHERE coalesce((SELECT max(sequence) FROM events WHERE aggregate_id = $3::varchar), $9::int) = $10::int
ORDER BY e.n
""".encode()


# One event (most commands' append): its columns as the statement's parameters, no document of one.
# A new aggregate's first event needs no version check: the unique constraint refuses a taken
# sequence 1, and no gap can come before it.
_POSTGRESQL_APPEND_ONE = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join(f'${i}' for i in range(1, 14))})").encode()
_POSTGRESQL_APPEND_ONE_AFTER = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}) SELECT $1::varchar, $2::varchar, $3::varchar, $4::int, $5::varchar, "
    "$6::int, $7::date, $8::timestamptz, $9::varchar, $10::varchar, $11::varchar, $12::text, $13::varchar "
    "WHERE coalesce((SELECT max(sequence) FROM events WHERE aggregate_id = $3::varchar), $14::int) = $15::int"
).encode()


def _append_postgresql(conn: Connection | DriverTransaction, topic: str, aggregate_type: str, aggregate_id: str,
                       expected: int, new_events: Sequence[NewEvent], context: Context, floor: int = 0) -> list[Envelope]:
    """One event as plain values, many as one JSON document (`_POSTGRESQL_APPEND`); the envelopes and
    the document's entries made in one pass, as on SQLite. A conflict: nothing written."""
    recorded_at = utc_now()
    causation_id, correlation_id, actor = context.causation_id, context.correlation_id, context.actor
    causation_text = str(causation_id) if causation_id else None
    envelopes: list[Envelope] = []
    entries: list[dict[str, Any]] = []
    add_envelope, add_entry = envelopes.append, entries.append
    sequence = expected
    for event_id, (type_, schema_version, payload, occurred_on) in zip(new_event_ids(len(new_events)), new_events):
        sequence += 1
        add_envelope(envelope_of({  # every field spelled out: the envelope as stored
            "event_id": event_id, "type": type_, "schema_version": schema_version, "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id, "sequence": sequence, "occurred_on": occurred_on, "recorded_at": recorded_at,
            "causation_id": causation_id, "correlation_id": correlation_id, "actor": actor, "payload": payload}))
        # The id itself: pydantic-core writes its text (str(event_id) is Python formatting, a tenth of the batch's CPU).
        add_entry({"event_id": event_id, "sequence": sequence, "type": type_, "schema_version": schema_version,
                   "occurred_on": occurred_on, "payload": payload})
    if len(entries) == 1:
        e = entries[0]
        values: list[str | None] = [
            str(e["event_id"]), aggregate_type, aggregate_id, str(sequence), e["type"], str(e["schema_version"]),
            e["occurred_on"].isoformat(), recorded_at.isoformat(), causation_text, correlation_id, actor,
            dumps(e["payload"]), topic]
        if expected == floor:
            statement = _POSTGRESQL_APPEND_ONE
        else:
            statement = _POSTGRESQL_APPEND_ONE_AFTER
            values += (str(floor), str(expected))
    else:
        statement = _POSTGRESQL_APPEND
        values = [to_json(entries).decode(), aggregate_type, aggregate_id, recorded_at.isoformat(), causation_text,
                  correlation_id, actor, topic, str(floor), str(expected)]
    count = len(envelopes)

    def write(run: Callable[..., int]) -> None:
        try:
            written = run(conn, statement, values, "append events")
        except IntegrityError as exc:  # another transaction took the sequence
            raise ConcurrencyConflict(aggregate_id, expected) from exc
        if written != count:  # the version check refused them
            raise ConcurrencyConflict(aggregate_id, expected)

    # A unit of work that only appends sends its append with its COMMIT (a conflict is raised
    # from the commit then, nothing written); else the append runs now.
    if type(conn) is not DriverTransaction or not conn.defer(write):
        from libs.pg_statement import execute_write  # psycopg: not imported by an embedded runtime

        write(execute_write)
    return envelopes


def _append_sqlite(conn: Connection | DriverTransaction, topic: str, aggregate_type: str, aggregate_id: str,
                   expected: int, new_events: Sequence[NewEvent], context: Context, floor: int = 0) -> list[Envelope]:
    """The envelopes and the driver's rows made in one pass (an append's whole cost on SQLite is
    small enough that a second walk over the events shows); one event (most commands') without
    the lists and the loop."""
    global _day
    recorded_at, stamp = recorded_now()
    causation_id, correlation_id, actor = context.causation_id, context.correlation_id, context.actor
    statement, optional = _sqlite_insert(str(causation_id) if causation_id else None, correlation_id)
    if len(new_events) == 1:
        type_, schema_version, payload, occurred_on = new_events[0]
        event_id, event_text = new_event_id_and_text()
        sequence = expected + 1
        envelopes = [envelope_of({  # every field spelled out: the envelope as stored
            "event_id": event_id, "type": type_, "schema_version": schema_version, "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id, "sequence": sequence, "occurred_on": occurred_on, "recorded_at": recorded_at,
            "causation_id": causation_id, "correlation_id": correlation_id, "actor": actor, "payload": payload})]
        day, day_text = _day
        if occurred_on != day:  # most appends are of the day the one before was
            day_text = occurred_on.isoformat()
            _day = (occurred_on, day_text)
        rows: Any = (event_text, aggregate_type, aggregate_id, sequence, type_, schema_version, day_text, stamp, actor,
                     dumps(payload), topic) + optional
    else:
        envelopes, rows = [], []
        add_envelope, add_row = envelopes.append, rows.append
        sequence = expected
        day, day_text = None, ""  # a save's events mostly share a day: its text made once
        for (event_id, event_text), (type_, schema_version, payload, occurred_on) in zip(
                new_event_ids_and_texts(len(new_events)), new_events):
            sequence += 1
            if occurred_on != day:
                day, day_text = occurred_on, occurred_on.isoformat()
            add_envelope(envelope_of({
                "event_id": event_id, "type": type_, "schema_version": schema_version,
                "aggregate_type": aggregate_type, "aggregate_id": aggregate_id, "sequence": sequence,
                "occurred_on": occurred_on, "recorded_at": recorded_at, "causation_id": causation_id,
                "correlation_id": correlation_id, "actor": actor, "payload": payload}))
            add_row((event_text, aggregate_type, aggregate_id, sequence, type_, schema_version, day_text, stamp, actor,
                     dumps(payload), topic) + optional)
    # The unit of work's cursor (its transaction's statements), else the driver's connection's.
    driver = conn.cursor if type(conn) is DriverTransaction else driver_connection(conn)
    try:
        if expected > floor:
            # The unique constraint refuses a taken sequence; this refuses a gap.
            actual = driver.execute(_SQLITE_VERSION, (aggregate_id,)).fetchone()[0] or floor
            if actual != expected:
                raise ConcurrencyConflict(aggregate_id, expected, actual)
        if type(rows) is tuple:
            driver.execute(statement, rows)
        else:
            driver.executemany(statement, rows)
    except conn.dialect.loaded_dbapi.Error as exc:
        _raise_append_error(conn, exc, aggregate_id, expected, rows if type(rows) is list else [rows])
    return envelopes


def _raise_append_error(conn: Connection | DriverTransaction, exc: Exception, aggregate_id: str, expected: int,
                        rows: list[tuple]) -> NoReturn:
    """A driver's error raised as SQLAlchemy's; a taken sequence (the unique constraint) as the
    conflict it is."""
    error = driver_error(conn, exc, "append events", rows)
    if isinstance(error, IntegrityError):
        raise ConcurrencyConflict(aggregate_id, expected) from error
    raise error from exc


# The day of the last one-event SQLite append and its text (`date.isoformat` formats it anew each
# call, ≈ 3,000 instructions).
_day: tuple[date | None, str] = (None, "")
# The last second `recorded_now` saw: its number (Unix seconds), its fields and its text.
_second: tuple[int, tuple[int, ...], str] = (-1, (), "")
_UTC = timezone.utc


def recorded_now() -> tuple[datetime, str]:
    """`utc_now()` and its `sqlite_timestamp`, for a cost several times smaller: the clock read
    once (as `datetime.now` reads it, microseconds floored) and the date and time to the second
    made and formatted once a second (`isoformat` was the costliest Python of a one-event append)."""
    global _second
    second, micro = divmod(time_ns() // 1000, 1_000_000)
    seen, fields, text = _second
    if second != seen:
        moment = datetime.fromtimestamp(second, _UTC)
        fields = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        text = moment.isoformat(" ")[:19]
        _second = (second, fields, text)
    # %-formatting: cheaper than an f-string's format spec.
    return datetime(*fields, micro, _UTC), "%s.%06d" % (text, micro)


def sqlite_timestamp(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime writes and reads back (UTC, zone dropped)."""
    if moment.tzinfo is not timezone.utc:  # utc_now's already is
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(" ", "microseconds")[:-6]  # less "+00:00": no naive copy to make


# append_new's statement: _POSTGRESQL_APPEND with the aggregate per event; new aggregates only,
# so the unique (aggregate_id, sequence) is the whole version check.
_POSTGRESQL_APPEND_NEW = f"""
INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, type, schema_version, occurred_on,
                    recorded_at, causation_id, correlation_id, actor, payload, topic)
SELECT e.event_id, $2::varchar, e.aggregate_id, e.sequence, e.type, e.schema_version, e.occurred_on,
       $3::timestamptz, $4::varchar, $5::varchar, $6::varchar, e.payload::text, $7::varchar
FROM {_POSTGRESQL_EVENTS}
ORDER BY e.n
""".encode()


def _postgresql_events(envelopes: list[Envelope]) -> str:
    """The per-event columns of an append as the JSON document `_POSTGRESQL_EVENTS` reads."""
    return to_json([{"event_id": str(e.event_id), "aggregate_id": e.aggregate_id, "sequence": e.sequence,
                     "type": e.type, "schema_version": e.schema_version, "occurred_on": e.occurred_on,
                     "payload": e.payload} for e in envelopes]).decode()


def _append_new_postgresql(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope]) -> int:
    first = envelopes[0]
    values = [_postgresql_events(envelopes), first.aggregate_type, first.recorded_at.isoformat(),
              str(first.causation_id) if first.causation_id else None, first.correlation_id, first.actor, topic]
    from libs.pg_statement import execute_write

    try:
        return execute_write(conn, _POSTGRESQL_APPEND_NEW, values, "append new streams")
    except IntegrityError as exc:  # one of them has events already
        raise ConcurrencyConflict(first.aggregate_id, 0) from exc


def _append_new_sqlite(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope]) -> int:
    first = envelopes[0]
    recorded_at = sqlite_timestamp(first.recorded_at)
    statement, optional = _sqlite_insert(str(first.causation_id) if first.causation_id else None,
                                         first.correlation_id)
    rows = [(str(e.event_id), e.aggregate_type, e.aggregate_id, e.sequence, e.type, e.schema_version,
             e.occurred_on.isoformat(), recorded_at, e.actor, dumps(e.payload), topic) + optional
            for e in envelopes]
    try:
        driver_connection(conn).executemany(statement, rows)
        return len(rows)
    except conn.dialect.loaded_dbapi.Error as exc:
        _raise_append_error(conn, exc, first.aggregate_id, 0, rows)


def row_to_envelope(row: Any) -> Envelope:
    """Rows come from our own store, already validated on the way in: construct, don't re-check."""
    recorded_at = row.recorded_at
    if recorded_at.tzinfo is None:  # SQLite drops the zone; everything we write is UTC
        recorded_at = recorded_at.replace(tzinfo=timezone.utc)
    return trusted_envelope(
        event_id=uuid.UUID(row.event_id),
        type=row.type,
        schema_version=row.schema_version,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        sequence=row.sequence,
        occurred_on=row.occurred_on,
        recorded_at=recorded_at,
        causation_id=uuid.UUID(row.causation_id) if row.causation_id else None,
        correlation_id=row.correlation_id,
        actor=row.actor,
        payload=json.loads(row.payload),
    )
