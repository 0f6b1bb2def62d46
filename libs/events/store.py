"""The event store: one SQLAlchemy code path for SQLite and PostgreSQL.

`append` writes an aggregate's new events and their outbox rows in the caller's transaction,
so the events and the read-model changes of one command commit together (or not at all).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timezone
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.db import driver_mark

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
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class EventStore:
    def __init__(self, session: Session, topic: str) -> None:
        self.session = session
        self.topic = topic

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
        """Append after `expected_version`; a stale version raises ConcurrencyConflict."""
        assert 0 < len(new_events) <= MAX_APPEND_BATCH, "append 1..MAX_APPEND_BATCH events"
        if expected_version > 0:
            # The unique constraint refuses a taken sequence; this check refuses a gap.
            actual = self.current_version(aggregate_id)
            if actual != expected_version:
                raise ConcurrencyConflict(aggregate_id, expected_version, actual)
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
        conn = self.session.connection()
        sql = _sql_for(conn.dialect.name)
        try:
            sqlite = conn.dialect.name == "sqlite"
            conn.exec_driver_sql(sql.insert_events, [_to_params(env, sqlite) for env in envelopes])
        except IntegrityError as exc:
            raise ConcurrencyConflict(aggregate_id, expected_version) from exc
        # The outbox rows in the same transaction, with no round trip for the new positions.
        conn.exec_driver_sql(
            sql.insert_outbox, (self.topic, aggregate_id, expected_version + 1, expected_version + len(envelopes))
        )
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


@dataclass(frozen=True)
class _Sql:
    insert_events: str
    insert_outbox: str


_COLUMNS = ("event_id", "aggregate_type", "aggregate_id", "sequence", "type", "schema_version", "occurred_on",
            "recorded_at", "causation_id", "correlation_id", "actor", "payload")


@lru_cache(maxsize=4)
def _sql_for(dialect: str) -> _Sql:
    """The append is the hottest write path: plain SQL in the driver's own parameter style."""
    mark = driver_mark(dialect)
    return _Sql(
        insert_events=f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))})",
        insert_outbox=(f"INSERT INTO outbox (position, topic) SELECT position, {mark} FROM events "
                       f"WHERE aggregate_id = {mark} AND sequence BETWEEN {mark} AND {mark}"),
    )


def _to_params(env: Envelope, sqlite: bool) -> tuple:
    occurred_on, recorded_at = env.occurred_on, env.recorded_at
    if sqlite:  # the text forms SQLAlchemy's SQLite Date/DateTime read back (UTC, zone dropped)
        occurred_on = occurred_on.isoformat()
        recorded_at = recorded_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return (
        str(env.event_id), env.aggregate_type, env.aggregate_id, env.sequence, env.type, env.schema_version,
        occurred_on, recorded_at, str(env.causation_id) if env.causation_id else None,
        env.correlation_id, env.actor, dumps(env.payload),
    )


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
