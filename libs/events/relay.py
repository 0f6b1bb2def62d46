"""The outbox relay: publishes committed events to the log, then marks them sent.

The outbox is the events table itself: an event is unsent while its `sent_at` is null, and the
partial index `ix_events_unsent` holds exactly those, in position order.

At-least-once: a crash after publishing and before marking sends the batch again on restart;
consumers skip what they have seen by event id. One relay per service database publishes at a
time (a PostgreSQL advisory lock), so an aggregate's events reach the log in sequence order.
"""
from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from libs.db import driver_cursor, writing

from .envelope import utc_now
from .log import FROM_STORE, EventLog, Record
from .store import sqlite_timestamp, dumps
from .tables import events

MAX_RELAY_BATCH = 5_000

_POSTGRESQL_MARK_SENT = text(
    "UPDATE events SET sent_at = :sent_at, log_partition = sent.log_partition, log_offset = sent.log_offset "
    "FROM unnest(CAST(:positions AS BIGINT[]), CAST(:partitions AS INTEGER[]), CAST(:offsets AS BIGINT[])) "
    "AS sent(position, log_partition, log_offset) WHERE events.position = sent.position")


_SQLITE_MARK_SENT = "UPDATE events SET sent_at = ?, log_partition = ?, log_offset = ? WHERE position = ?"


def envelope_json(row) -> bytes:  # noqa: ANN001 - a row of events
    """The envelope as JSON, splicing the stored payload text in rather than re-encoding it."""
    recorded_at = row.recorded_at
    head = {
        "event_id": row.event_id,
        "type": row.type,
        "schema_version": row.schema_version,
        "aggregate_type": row.aggregate_type,
        "aggregate_id": row.aggregate_id,
        "sequence": row.sequence,
        "occurred_on": row.occurred_on.isoformat(),
        "recorded_at": recorded_at.isoformat() + ("" if recorded_at.tzinfo else "Z"),
        "causation_id": row.causation_id,
        "correlation_id": row.correlation_id,
        "actor": row.actor,
    }
    encoded = dumps(head)
    return (encoded[:-1] + ',"payload":' + row.payload + "}").encode()


@lru_cache(maxsize=1024)
def record_headers(type_name: str, schema_version: int) -> tuple[tuple[str, bytes], ...]:
    """The headers of a record the relay publishes: the same few tuples for a whole log."""
    return (("type", type_name.encode()), ("schema_version", str(schema_version).encode()), FROM_STORE)


class OutboxRelay:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        log: EventLog,
        service: str,
        batch_size: int = 1_000,
        after_publish: Callable[[], None] | None = None,  # fault-injection point for tests
    ) -> None:
        assert 0 < batch_size <= MAX_RELAY_BATCH
        self.session_factory, self.log, self.batch_size = session_factory, log, batch_size
        self.lock_key = zlib.crc32(f"outbox:{service}".encode())
        self.after_publish = after_publish

    def run_once(self) -> int:
        """Publish one batch; returns how many events were sent (0 when the outbox is empty)."""
        with self.session_factory() as session:  # a cheap read first: most calls find nothing
            if session.execute(select(events.c.position).where(events.c.sent_at.is_(None)).limit(1)).first() is None:
                return 0
        with writing(self.session_factory) as session:
            if session.bind.dialect.name == "postgresql":
                got = session.execute(
                    text("select pg_try_advisory_xact_lock(:k)"), {"k": self.lock_key}
                ).scalar_one()
                if not got:
                    return 0
            rows = session.execute(
                select(events)
                .where(events.c.sent_at.is_(None))
                .order_by(events.c.position)
                .limit(self.batch_size)
            ).all()
            if not rows:
                return 0
            positions = self.log.publish(
                [Record(r.topic, r.aggregate_id.encode(), envelope_json(r), record_headers(r.type, r.schema_version))
                 for r in rows])
            if self.after_publish:
                self.after_publish()
            assert len(positions) == len(rows), (len(positions), len(rows))
            # Each row learns where the log put it, which a write's consistency token names.
            sent_at = utc_now()
            if session.bind.dialect.name == "postgresql":
                # One statement for the batch: a statement a row (as on SQLite) made the relay
                # slower than it was with an outbox table, an event's row being wide and its
                # update never HOT here (`sent_at` is in the unsent index's predicate).
                session.execute(_POSTGRESQL_MARK_SENT, {
                    "sent_at": sent_at, "positions": [r.position for r in rows],
                    "partitions": [partition for partition, _ in positions],
                    "offsets": [offset for _, offset in positions]})
            else:  # SQLite: one UPDATE executed many by the driver, each by its rowid
                sent_text = sqlite_timestamp(sent_at)
                marks = [(sent_text, partition, offset, r.position) for r, (partition, offset) in zip(rows, positions)]
                with driver_cursor(session.connection(), _SQLITE_MARK_SENT, marks) as cursor:
                    cursor.executemany(_SQLITE_MARK_SENT, marks)
            return len(rows)

    def drain(self, max_batches: int = 10_000) -> int:
        sent = 0
        for _ in range(max_batches):
            n = self.run_once()
            if n == 0:
                break
            sent += n
        return sent
