"""The outbox relay: publishes committed events to the log, then marks them sent.

The outbox is the events table itself: an event is unsent while its `sent_at` is null. On
PostgreSQL the partial index `ix_events_unsent` holds exactly those, in position order. SQLite
has no such index (core v6): its one writer at a time makes position order commit order (a
position is taken under the write lock, and events are never deleted), and the relay sends in
that order and marks a batch in one transaction, so the sent events are always a prefix of the
table; the relay reads on from the last one it sent (found once, from the end of the table).

At-least-once: a crash after publishing and before marking sends the batch again on restart;
consumers skip what they have seen by event id. One relay per service database publishes at a
time (a PostgreSQL advisory lock), so an aggregate's events reach the log in sequence order.
"""
from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Callable

from sqlalchemy import Select, func, select, text
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


def last_sent_position(session: Session) -> int:
    """SQLite: the position of the last event sent (0: none), read from the end of the table back
    over the unsent ones (the sent ones are a prefix, see above)."""
    return session.execute(select(events.c.position).where(events.c.sent_at.is_not(None))
                           .order_by(events.c.position.desc()).limit(1)).scalar() or 0


def unsent_count(session: Session) -> int:
    """Events committed but not yet published to the log (on SQLite, the ones after the last
    sent: no index to count them in)."""
    count = select(func.count()).select_from(events).where(events.c.sent_at.is_(None))
    if session.bind.dialect.name == "sqlite":
        count = count.where(events.c.position > last_sent_position(session))
    return session.execute(count).scalar_one()


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
        # SQLite: every event at or before this position is sent (None: not looked up yet).
        # Another relay on the same file only moves the truth ahead of it, never behind.
        self.sent_through: int | None = None

    def _unsent(self, session: Session) -> Select:
        """The unsent events in position order: by the partial index on PostgreSQL, after the
        last sent position on SQLite (a rowid range; `sent_at` still checked, for rows another
        relay on the same file sent meanwhile)."""
        unsent = select(events).where(events.c.sent_at.is_(None))
        if session.bind.dialect.name == "sqlite":
            if self.sent_through is None:
                self.sent_through = last_sent_position(session)
            unsent = unsent.where(events.c.position > self.sent_through)
        return unsent.order_by(events.c.position)

    def run_once(self) -> int:
        """Publish one batch; returns how many events were sent (0 when the outbox is empty)."""
        with self.session_factory() as session:  # a cheap read first: most calls find nothing
            if session.execute(self._unsent(session).with_only_columns(events.c.position).limit(1)).first() is None:
                return 0
        sent = self._publish_batch()
        if sent:
            self.sent_through = sent[-1]  # committed
        return len(sent)

    def _publish_batch(self) -> list[int]:
        """One batch published and marked sent, in one write transaction; the positions sent."""
        with writing(self.session_factory) as session:
            if session.bind.dialect.name == "postgresql":
                got = session.execute(
                    text("select pg_try_advisory_xact_lock(:k)"), {"k": self.lock_key}
                ).scalar_one()
                if not got:
                    return []
            rows = session.execute(self._unsent(session).limit(self.batch_size)).all()
            if not rows:
                return []
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
            return [r.position for r in rows]

    def drain(self, max_batches: int = 10_000) -> int:
        sent = 0
        for _ in range(max_batches):
            n = self.run_once()
            if n == 0:
                break
            sent += n
        return sent
