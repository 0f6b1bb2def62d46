"""The event store: one SQLAlchemy code path for SQLite and PostgreSQL.

`append` writes an aggregate's new events in the caller's transaction, so the events and the
read-model changes of one command commit together (or not at all). The events table is the
outbox too: each event's row names its topic and stays unsent (`sent_at` null, in the relay's
partial index) until the relay has published it — one row written an event.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timezone
from typing import Any, Sequence

from pydantic_core import to_json
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.db import DriverTransaction, driver_cursor

from .envelope import Envelope, new_event_id, trusted_envelope, utc_now
from .tables import events

MAX_APPEND_BATCH = 10_000
MAX_READ_BATCH = 50_000


class ConcurrencyConflict(Exception):
    """The aggregate moved on since the caller read it (the API answers 409)."""

    def __init__(self, aggregate_id: str, expected: int, actual: int | None = None) -> None:
        self.aggregate_id, self.expected, self.actual = aggregate_id, expected, actual
        found = "a newer version" if actual is None else f"version {actual}"
        super().__init__(f"aggregate {aggregate_id} is at {found}, not {expected}")


@dataclass(frozen=True)
class NewEvent:
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
    ) -> list[Envelope]:
        """Append after `expected_version`: the events (each its own outbox entry) in one
        statement on PostgreSQL (one round trip), one executemany on SQLite. A stale
        version (the unique constraint) or a gap (`expected_version` ahead of the stored one)
        raises ConcurrencyConflict."""
        assert 0 < len(new_events) <= MAX_APPEND_BATCH, "append 1..MAX_APPEND_BATCH events"
        recorded_at = utc_now()
        envelopes = [
            trusted_envelope(
                event_id=new_event_id(),
                type=e.type,
                schema_version=e.schema_version,
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                sequence=expected_version + i,
                occurred_on=e.occurred_on,
                recorded_at=recorded_at,
                causation_id=context.causation_id,
                correlation_id=context.correlation_id,
                actor=context.actor,
                payload=e.payload,
            )
            for i, e in enumerate(new_events, start=1)
        ]
        conn = self._connection()
        if conn.dialect.name == "postgresql":
            written = _append_postgresql(conn, self.topic, envelopes, expected_version)
        else:
            written = _append_sqlite(conn, self.topic, envelopes, expected_version)
        if written != len(envelopes):
            raise ConcurrencyConflict(aggregate_id, expected_version)
        return envelopes

    def append_new(
        self,
        aggregate_type: str,
        streams: Sequence[tuple[str, Sequence[NewEvent]]],
        context: Context,
    ) -> list[Envelope]:
        """The first events of many new aggregates (a go-live's thousand workers) in one go: one
        statement on PostgreSQL, one executemany on SQLite. An aggregate
        that has events already (the unique constraint) raises ConcurrencyConflict."""
        count = sum(len(new) for _id, new in streams)
        assert all(new for _id, new in streams) and 0 < count <= MAX_APPEND_BATCH, "append 1..MAX_APPEND_BATCH events"
        recorded_at = utc_now()
        envelopes = [
            trusted_envelope(
                event_id=new_event_id(), type=e.type, schema_version=e.schema_version, aggregate_type=aggregate_type,
                aggregate_id=aggregate_id, sequence=i, occurred_on=e.occurred_on, recorded_at=recorded_at,
                causation_id=context.causation_id, correlation_id=context.correlation_id, actor=context.actor,
                payload=e.payload)
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

    def read_after(self, position: int, limit: int = 1000) -> list[tuple[int, Envelope]]:
        """Everything after a global position, in order, at most `limit` events."""
        limit = min(limit, MAX_READ_BATCH)
        stmt = select(events).where(events.c.position > position).order_by(events.c.position)
        return [(r.position, row_to_envelope(r)) for r in self.session.execute(stmt.limit(limit))]


_COLUMNS = ("event_id", "aggregate_type", "aggregate_id", "sequence", "type", "schema_version", "occurred_on",
            "recorded_at", "causation_id", "correlation_id", "actor", "payload", "topic")

_SQLITE_VERSION = "SELECT max(sequence) FROM events WHERE aggregate_id = ?"
_SQLITE_EVENTS = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"

# One statement, whatever the number of events: the per-event columns travel as arrays (so the
# server prepares it once), and the version check is a condition of the same statement (no row
# is written past a gap). The arrays go in binary (`%(…)b`): in text, psycopg escapes every
# element with a regular expression (the JSON payloads' quotes), a third of a batch's CPU.
_POSTGRESQL_APPEND = """
INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, type, schema_version, occurred_on,
                    recorded_at, causation_id, correlation_id, actor, payload, topic)
SELECT e.event_id, %(aggregate_type)s::varchar, %(aggregate_id)s::varchar, %(expected)s::int + e.n, e.type,
       e.schema_version, e.occurred_on, %(recorded_at)s::timestamptz, %(causation_id)s::varchar,
       %(correlation_id)s::varchar, %(actor)s::varchar, e.payload, %(topic)s::varchar
FROM unnest(%(event_ids)b::varchar[], %(types)b::varchar[], %(versions)b::int[], %(dates)b::date[],
            %(payloads)b::text[]) WITH ORDINALITY AS e(event_id, type, schema_version, occurred_on, payload, n)
WHERE coalesce((SELECT max(sequence) FROM events WHERE aggregate_id = %(aggregate_id)s::varchar), 0)
      = %(expected)s::int
ORDER BY e.n
"""


def _append_postgresql(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope], expected: int) -> int:
    """Returns how many events were written (0: the version check refused them)."""
    first = envelopes[0]
    params = {
        "aggregate_type": first.aggregate_type, "aggregate_id": first.aggregate_id, "expected": expected,
        "recorded_at": first.recorded_at, "causation_id": str(first.causation_id) if first.causation_id else None,
        "correlation_id": first.correlation_id, "actor": first.actor, "topic": topic,
        "event_ids": [str(e.event_id) for e in envelopes], "types": [e.type for e in envelopes],
        "versions": [e.schema_version for e in envelopes], "dates": [e.occurred_on for e in envelopes],
        "payloads": [dumps(e.payload) for e in envelopes],
    }
    try:
        with driver_cursor(conn, "append events", params) as cursor:
            # Pipelined: when the append opens the transaction, its BEGIN travels with it.
            with cursor.connection.pipeline():
                cursor.execute(_POSTGRESQL_APPEND, params)
            return cursor.rowcount
    except IntegrityError as exc:  # another transaction took the sequence
        raise ConcurrencyConflict(first.aggregate_id, expected) from exc


def _append_sqlite(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope], expected: int) -> int:
    first = envelopes[0]
    # The text forms SQLAlchemy's SQLite Date/DateTime read back (UTC, zone dropped).
    recorded_at = first.recorded_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    causation_id = str(first.causation_id) if first.causation_id else None
    head = (first.aggregate_type, first.aggregate_id)
    rows = [(str(e.event_id), *head, e.sequence, e.type, e.schema_version, e.occurred_on.isoformat(), recorded_at,
             causation_id, e.correlation_id, e.actor, dumps(e.payload), topic) for e in envelopes]
    try:
        with driver_cursor(conn, "append events", rows) as cursor:
            if expected > 0:
                # The unique constraint refuses a taken sequence; this refuses a gap.
                actual = cursor.execute(_SQLITE_VERSION, (first.aggregate_id,)).fetchone()[0] or 0
                if actual != expected:
                    raise ConcurrencyConflict(first.aggregate_id, expected, actual)
            cursor.executemany(_SQLITE_EVENTS, rows)
            return len(rows)
    except IntegrityError as exc:
        raise ConcurrencyConflict(first.aggregate_id, expected) from exc


# append_new's statement: _POSTGRESQL_APPEND with the aggregate and the sequence per event; new
# aggregates only, so the unique (aggregate_id, sequence) is the whole version check.
_POSTGRESQL_APPEND_NEW = """
INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, type, schema_version, occurred_on,
                    recorded_at, causation_id, correlation_id, actor, payload, topic)
SELECT e.event_id, %(aggregate_type)s::varchar, e.aggregate_id, e.sequence, e.type, e.schema_version,
       e.occurred_on, %(recorded_at)s::timestamptz, %(causation_id)s::varchar, %(correlation_id)s::varchar,
       %(actor)s::varchar, e.payload, %(topic)s::varchar
FROM unnest(%(event_ids)b::varchar[], %(aggregate_ids)b::varchar[], %(sequences)b::int[], %(types)b::varchar[],
            %(versions)b::int[], %(dates)b::date[], %(payloads)b::text[])
     WITH ORDINALITY AS e(event_id, aggregate_id, sequence, type, schema_version, occurred_on, payload, n)
ORDER BY e.n
"""


def _append_new_postgresql(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope]) -> int:
    first = envelopes[0]
    params = {
        "aggregate_type": first.aggregate_type, "recorded_at": first.recorded_at,
        "causation_id": str(first.causation_id) if first.causation_id else None,
        "correlation_id": first.correlation_id, "actor": first.actor, "topic": topic,
        "event_ids": [str(e.event_id) for e in envelopes], "aggregate_ids": [e.aggregate_id for e in envelopes],
        "sequences": [e.sequence for e in envelopes], "types": [e.type for e in envelopes],
        "versions": [e.schema_version for e in envelopes], "dates": [e.occurred_on for e in envelopes],
        "payloads": [dumps(e.payload) for e in envelopes],
    }
    try:
        with driver_cursor(conn, "append new streams", params) as cursor:
            with cursor.connection.pipeline():
                cursor.execute(_POSTGRESQL_APPEND_NEW, params)
            return cursor.rowcount
    except IntegrityError as exc:  # one of them has events already
        raise ConcurrencyConflict(first.aggregate_id, 0) from exc


def _append_new_sqlite(conn: Connection | DriverTransaction, topic: str, envelopes: list[Envelope]) -> int:
    first = envelopes[0]
    recorded_at = first.recorded_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    causation_id = str(first.causation_id) if first.causation_id else None
    rows = [(str(e.event_id), e.aggregate_type, e.aggregate_id, e.sequence, e.type, e.schema_version,
             e.occurred_on.isoformat(), recorded_at, causation_id, e.correlation_id, e.actor, dumps(e.payload), topic)
            for e in envelopes]
    try:
        with driver_cursor(conn, "append new streams", rows) as cursor:
            cursor.executemany(_SQLITE_EVENTS, rows)
            return len(rows)
    except IntegrityError as exc:
        raise ConcurrencyConflict(first.aggregate_id, 0) from exc


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
