"""Consumers: projections fed from the log, idempotent by event id, with a dead-letter topic.

For each batch: the handler's effects and the processed event ids commit in one database
transaction; the log offsets are committed after it. A crash between the two redelivers the
batch, and the processed ids make the second delivery a no-op.

Idempotence is by event id, not by log position: the same event can sit at more than one place
in the log (the relay publishes a batch again after dying between publishing and marking it sent;
an event can be published again by hand), and only its id tells a later copy from a new event.
The group's position per partition (`consumer_positions`) is committed with the effects too, but
for reads that wait for a write, not to skip records. The ids cost little in the usual case: a
batch's ids go in as a plain bulk insert (`mark_processed`), and only a batch that meets an id
already there takes the statement that tells which are new.

A dead-lettered event can be redriven after a fix (`redrive`): applied through the same path, in
one transaction with the dead letter's mark, so it takes effect once however often it is redriven.
A runner can be paused (`paused`) while a shadow rebuild of its projection swaps in
(libs/events/shadow.py): in this process by its turn lock, in every process of the group (on
PostgreSQL) by an advisory lock each batch takes shared and the swap exclusive.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain
from typing import Callable, Iterator, Protocol, Sequence

from sqlalchemy import Connection, Table, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from libs.collector import collector_paused
from libs.db import driver_cursor, driver_mark, writing

from .decode import Poison, decode_batch, event_id_of, validate
from .envelope import Envelope, utc_now
from .log import EventLog, LogConsumer, Record, next_offsets
from .registry import REGISTRY
from .tables import consumer_positions, dead_letters, processed_events

log = logging.getLogger(__name__)

# The most records a batch holds, a batch being one database transaction (the distributed runtime's
# consumers and a replay run at it): each transaction ends in a WAL flush and a round of per-batch
# bookkeeping, which on a busy machine were much of a Kafka replay's time: fewer, bigger ones
# (bench/results/spine_projection_paired_kreplay17.json). The Kafka poll takes as many (CONSUMER_TUNING).
MAX_BATCH = 20_000
MAX_ATTEMPTS = 3
# Poll-ahead (ConsumerRunner.run_once): only for batches this big, where the database's write
# takes long enough to hide the next fetch (a lone event goes straight through, no thread hop);
# the slices in which the poll ahead waits for records, checking whether the write is done.
POLL_AHEAD_MIN_RECORDS = 500
POLL_AHEAD_SLICE_MS = 10


class Projector(Protocol):
    """What a service declares to consume: a name (its consumer group) and the topics' services."""

    name: str
    sources: Sequence[str]  # service names whose topics it reads

    def handle(self, session: Session, envelope: Envelope) -> None: ...

    def reset(self, session: Session) -> None:
        """Empty the projection's tables, for a replay from the start of the log."""

    def state_hash(self, session: Session) -> str: ...


class Projection:
    """Base for projectors: dispatch by event type to `on_<Type>(session, envelope)` methods."""

    name: str = ""
    sources: Sequence[str] = ()
    # The tables this projection alone writes (exactly those `reset` empties): a shadow rebuild
    # builds copies of them and swaps their rows in. Empty: the projection cannot be replayed
    # online (it shares a table with commands or another projection).
    tables: Sequence[Table] = ()
    # The events it applies a transaction at least (the runtime's `max_batch` where that is more):
    # a projection whose batch writes at random places of big indexes dirties fewer pages an event
    # in bigger batches. 0: the runtime's.
    min_batch: int = 0

    def handle(self, session: Session, envelope: Envelope) -> None:
        handler = getattr(self, f"on_{envelope.type}", None)
        if handler is not None:
            if REGISTRY.knows(envelope.type):
                envelope = REGISTRY.upcast(envelope)
            handler(session, envelope)

    def handle_batch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        """Project a batch (in order). Override to write in bulk where a projection is hot."""
        for envelope in envelopes:
            self.handle(session, envelope)

    def handled_types(self) -> frozenset[str] | None:
        """The event types this projection does anything with: those of its `on_<Type>` methods
        when it dispatches as this base does; None (any) when it handles events its own way."""
        cls = type(self)
        if cls.handle is not Projection.handle or cls.handle_batch is not Projection.handle_batch:
            return None
        return frozenset(name[3:] for name in dir(cls) if name.startswith("on_"))

    def reset(self, session: Session) -> None:
        raise NotImplementedError

    def state_hash(self, session: Session) -> str:
        raise NotImplementedError


def rows_hash(session: Session, *queries) -> str:  # noqa: ANN002 - SQLAlchemy selects
    """A projection's `state_hash`: SHA-256 over the rows of ordered queries (replay tests)."""
    digest = hashlib.sha256()
    for query in queries:
        digest.update(repr([tuple(r) for r in session.execute(query)]).encode())
    return digest.hexdigest()


# SQLite: rows a statement (their values bound at once, the statement stepped once for them all:
# about 0.8 µs a row less than a statement a row), within SQLite's 32,766 variables
SQLITE_ROWS_A_STATEMENT = 500
SQLITE_VARIABLES = 32_766


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Many rows into `table` in one go (a hot projection's batch): COPY on PostgreSQL, one
    executemany of the driver on SQLite. The values in `columns`' order, as the driver takes
    them (no SQLAlchemy type processing: dates as ISO text on SQLite, money as fen or text)."""
    if not rows:
        return
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(c) for c in columns)})"
    if conn.dialect.name == "postgresql":
        # COPY: the same rows and constraints as INSERT, without a statement per row on the server.
        statement = f"COPY {target} FROM STDIN"
        with driver_cursor(conn, statement, rows) as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    if set(map(len, rows)) == {len(columns)}:
        values_by_statements(conn, f"INSERT INTO {target} VALUES ", list(chain.from_iterable(rows)), len(columns))
        return
    statement = f"INSERT INTO {target} VALUES ({', '.join([driver_mark(conn.dialect.name)] * len(columns))})"
    with driver_cursor(conn, statement, rows) as cursor:  # a row of another width: the driver says so
        cursor.executemany(statement, rows)


def values_by_statements(conn: Connection, head: str, flat: list, width: int, *, tail: str = "",
                         per: int = SQLITE_ROWS_A_STATEMENT) -> None:
    """Rows by `head` ("INSERT INTO t (a, b) VALUES "), their VALUES lists and `tail` (an ON
    CONFLICT): `flat` holds the rows' values one row after another, `width` a row; `per` rows a
    statement (the driver binds and steps a statement, not a row), the rest a row a statement,
    in order."""
    assert len(flat) % width == 0, (len(flat), width)
    per = max(1, min(per, SQLITE_VARIABLES // width))
    one = f"({', '.join([driver_mark(conn.dialect.name)] * width)})"
    whole = (len(flat) // width - len(flat) // width % per) * width  # the values of whole statements
    if whole:
        many = head + ", ".join([one] * per) + tail
        with driver_cursor(conn, many) as cursor:
            cursor.executemany(many, [flat[i:i + per * width] for i in range(0, whole, per * width)])
    if whole < len(flat):
        single = head + one + tail
        with driver_cursor(conn, single) as cursor:
            cursor.executemany(single, [flat[i:i + width] for i in range(whole, len(flat), width)])


def insert_new(session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Many rows into `table`, each whose primary key is there already (or earlier in `rows`)
    left out: one statement per batch, no lookup first. On PostgreSQL the columns go as arrays
    (`unnest`), on SQLite an executemany of the driver; the values as the driver takes them."""
    if not rows:
        return
    conn = session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        kinds = ", ".join("%s::bigint[]" if isinstance(rows[0][i], int) else "%s::text[]" for i in range(len(columns)))
        statement = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({kinds}) ON CONFLICT DO NOTHING"
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement, [list(column) for column in zip(*rows)])
        return
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING"
    with driver_cursor(conn, statement) as cursor:
        cursor.executemany(statement, rows)


class ConsumerRunner:
    def __init__(
        self,
        projector: Projector,
        session_factory: sessionmaker[Session],
        log_: EventLog,
        group: str,
        topics: Sequence[str],
        dead_letter_topic: str,
        max_batch: int = 1_000,
        max_attempts: int = MAX_ATTEMPTS,
        before_offset_commit: Callable[[], None] | None = None,  # fault-injection point for tests
        decode: Callable[[Sequence[Record]], tuple[list[Envelope], list[str]]] = decode_batch,
    ) -> None:
        """`decode`: a batch's envelopes and event ids (`decode_batch`; the embedded runtime's
        consumers share a `DecodedOnce`)."""
        assert 0 < max_batch <= MAX_BATCH and 0 < max_attempts <= 10
        self.projector, self.session_factory, self.log = projector, session_factory, log_
        self.group, self.topics, self.dead_letter_topic = group, tuple(topics), dead_letter_topic
        self.max_batch, self.max_attempts = max_batch, max_attempts
        self.before_offset_commit = before_offset_commit
        self.decode = decode
        self._consumer: LogConsumer | None = None
        self.applied = 0
        self.skipped = 0
        self.dead = 0
        # The next offset of each (topic, partition) this runner has committed (a shadow
        # rebuild's catch-up compares it with the ends of the log).
        self.positions: dict[tuple[str, int], int] = {}
        self._turn = threading.RLock()  # held while a batch runs; `paused` takes it
        self._ahead: Sequence[Record] = []  # the next batch, polled while the last one was written
        self._ahead_decoded: tuple[list[Envelope], list[str]] | None = None  # and its envelopes, ids
        self._pool: ThreadPoolExecutor | None = None  # the thread that polls ahead
        # Records of a type the projection does nothing with are neither decoded nor marked
        # processed (a go-live floods the policies' consumers with enrollments): their offsets
        # still advance with the batch. None: every record is applied.
        types = getattr(projector, "handled_types", lambda: None)()
        self._wanted = None if types is None else frozenset({*(t.encode() for t in types), None})

    @property
    def consumer(self) -> LogConsumer:
        if self._consumer is None:
            self._consumer = self.log.consumer(self.group, self.topics)
        return self._consumer

    def run_once(self, timeout_ms: int = 100) -> int:
        """Poll one batch and project it; returns how many records were read.

        While a big batch is written, a worker thread polls the next (poll-ahead): the log's
        fetch and the database's write overlap instead of waiting in turn. The batch is written
        in the calling thread as without (handlers keep its thread-locals and connections); its
        offsets are committed only after its transaction, exactly as without; the batch read
        ahead is kept for the next call (dropped by `close`: the log delivers it again)."""
        with self._turn:
            if self._ahead:
                records, decoded = self._ahead, self._ahead_decoded
            else:
                records, decoded = self._poll(timeout_ms), None
            self._ahead, self._ahead_decoded = [], None
            if not records:
                return 0
            ahead = None
            if len(records) >= POLL_AHEAD_MIN_RECORDS:
                written = threading.Event()
                ahead = self._worker().submit(self._poll_until, written)
            ends = next_offsets(records)
            polled, records = len(records), self._handled(records)
            # The cyclic garbage collector paused (libs.collector): the batch's records, envelopes
            # and rows (some 30,000 objects for 5,000 events) live until it commits, and on their
            # count it would walk the heap again and again for nothing (reference counting frees
            # them); it collects what became garbage meanwhile when it is back on. Not around the
            # poll: a process's consumers wait there most of the time. The batch is let go of
            # before it is back on: else its first collection walks every object of the batch
            # just written, still referenced here (≈ 20 ms a batch of 20,000, 1 µs an event of
            # a replay), only to find them alive.
            with collector_paused():
                try:
                    applied = self._try_apply_batch(records, ends, decoded)
                finally:
                    if ahead is not None:
                        written.set()
                        self._ahead, self._ahead_decoded = ahead.result()  # the consumer is this thread's again
                decoded = None
                if applied:
                    records = []
            if not applied:  # one bad record must not block the rest: go one by one
                log.warning("batch of %d failed in %s; retrying one by one", len(records), self.group)
                for record in records:
                    self._apply_one_with_retries(record)
                # The batch's positions, those of the records passed by (no handler) too, before
                # the log's offsets move past them: else a consistency token naming one of them
                # waits for a position nothing writes until the partition's next event.
                self._apply_batch([], ends)
            if self.before_offset_commit:
                self.before_offset_commit()
            self.consumer.commit_offsets(ends)
            for key, offset in ends.items():
                self.positions[key] = max(self.positions.get(key, 0), offset)
            return polled

    def _poll(self, timeout_ms: int) -> Sequence[Record]:
        """A batch of the log: a `Page` where the log reads one (the embedded log, one topic) and
        every record is wanted (no type to pass by), else a list of records."""
        consumer = self.consumer
        poll_page = getattr(consumer, "poll_page", None) if self._wanted is None else None
        if poll_page is not None:
            return poll_page(self.max_batch, timeout_ms)
        return consumer.poll(self.max_batch, timeout_ms)

    def _handled(self, records: Sequence[Record]) -> Sequence[Record]:
        """The records the projection may act on: all but those whose type header names a type
        it has no handler for (a record without one is decoded and validated as ever)."""
        wanted = self._wanted
        if wanted is None:
            return records
        return [r for r in records if _type_header(r) in wanted]

    def _try_apply_batch(self, records: Sequence[Record], ends: dict[tuple[str, int], int],
                         decoded: tuple[list[Envelope], list[str]] | None) -> bool:
        """Whether the batch applied (in run_once's pause of the collector)."""
        try:
            self._apply_batch(records, ends, decoded)
            return True
        except Exception:
            return False

    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"poll-{self.group}"[:40])
        return self._pool

    def _poll_until(self, written: threading.Event) -> tuple[list[Record], tuple[list[Envelope], list[str]] | None]:
        """The next batch, polled in slices until records come or the batch being written is
        written (then whatever came by then: nothing if the log had nothing more), and decoded
        (None if it does not decode: the batch's own turn names the bad record)."""
        while True:
            started = time.monotonic()
            records = self._poll(POLL_AHEAD_SLICE_MS)
            if records or written.is_set():
                break
            if time.monotonic() - started < POLL_AHEAD_SLICE_MS / 2000:  # a log that does not wait (embedded)
                written.wait(POLL_AHEAD_SLICE_MS / 1000)
        try:
            handled = self._handled(records)
            if not handled:
                return records, None
            with collector_paused():  # its envelopes live until their batch commits (see _try_apply_batch)
                return records, self.decode(handled)
        except Exception:  # decoded again in its own turn, which names a bad record
            return records, None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No batch of this runner runs inside the block (one that is running finishes first)."""
        with self._turn:
            yield

    def redrive(self, dead_letter_id: int, record: Record) -> str:
        """Apply a dead-lettered record again (after a fix), through the same path as a batch.

        One transaction: the event's `dead` mark is replaced, the projection applies it, the dead
        letter is marked redriven. Returns `applied`, `skipped` (something applied it meanwhile,
        e.g. a replay) or `already redriven`; a handler that still fails raises, changing nothing.
        """
        envelope = validate(record)
        event_id = str(envelope.event_id)
        with self._turn, writing(self.session_factory) as session:
            self._take_turn(session)
            letter = session.execute(
                select(dead_letters.c.redriven_at, dead_letters.c.event_id)
                .where(dead_letters.c.id == dead_letter_id, dead_letters.c.consumer == self.group)
                .with_for_update()
            ).first()
            if letter is None:
                raise LookupError(f"no dead letter {dead_letter_id} of {self.group}")
            if letter.redriven_at is not None:
                return "already redriven"
            if letter.event_id != event_id:
                raise ValueError(f"the record read back is event {event_id}, not {letter.event_id}")
            session.execute(delete(processed_events).where(
                processed_events.c.consumer == self.group, processed_events.c.event_id == event_id,
                processed_events.c.outcome == "dead"))
            applied = self._project(session, [envelope], [event_id])
            session.execute(update(dead_letters).where(dead_letters.c.id == dead_letter_id)
                            .values(redriven_at=utc_now()))
        self.applied += applied
        return "applied" if applied else "skipped"

    def run_until_idle(self, idle_ms: int = 0, max_batches: int = 1_000_000) -> int:
        """Drain the log: stop after a poll that returns nothing (waiting up to idle_ms)."""
        total = 0
        for _ in range(max_batches):
            n = self.run_once(timeout_ms=idle_ms)
            if n == 0:
                break
            total += n
        return total

    def run_forever(self, stopping: Callable[[], bool], poll_ms: int = 200) -> None:
        while not stopping():
            try:
                self.run_once(timeout_ms=poll_ms)
            except Exception:  # the database or broker is away: wait and go on
                log.exception("consumer %s failed; retrying", self.group)
                self.close()
                time.sleep(1.0)

    def replay(self) -> None:
        """Empty the projection and read the whole log again from the start."""
        self.close()
        self.log.reset_group(self.group, self.topics)
        with writing(self.session_factory) as session:
            self.projector.reset(session)
            session.execute(delete(processed_events).where(processed_events.c.consumer == self.group))
            session.execute(delete(dead_letters).where(dead_letters.c.consumer == self.group))
            session.execute(delete(consumer_positions).where(consumer_positions.c.consumer == self.group))

    def close(self) -> None:
        self._ahead, self._ahead_decoded = [], None  # not committed: the log delivers these again
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- internals

    def _take_turn(self, session: Session) -> None:
        """On PostgreSQL, every process of the group takes this lock shared for each batch; a
        shadow swap takes it exclusively, so no process of the group writes during the swap."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("select pg_advisory_xact_lock_shared(:k)"), {"k": group_lock_key(self.group)})

    def _apply_batch(self, records: Sequence[Record], ends: dict[tuple[str, int], int],
                     decoded: tuple[list[Envelope], list[str]] | None = None) -> None:
        envelopes, ids = decoded or (self.decode(records) if records else ([], []))
        with writing(self.session_factory) as session:
            applied = self._project(session, envelopes, ids, take_turn=True)
            advance_positions(session, self.group, ends)
        self.applied += applied

    def _project(self, session: Session, envelopes: Sequence[Envelope], ids: Sequence[str],
                 take_turn: bool = False) -> int:
        """Apply the events this group has not processed yet, in `session` (`ids`: their event
        ids as text); returns how many. `take_turn`: its first statement takes the group's turn
        (`_take_turn`) as well, in the same round trip."""
        # Marking them processed first tells, in the same statement, which are new: a batch is
        # one transaction, so a handler that fails takes the marks back with it.
        if not ids:  # a batch of records the projection has no handler for: its positions only
            if take_turn:
                self._take_turn(session)
            return 0
        fresh = mark_processed(session.connection(), self.group, ids, take_turn=take_turn)
        if len(fresh) == len(envelopes):  # all new and distinct (a replay, a new batch)
            todo = envelopes
        else:
            todo = []
            for envelope, event_id in zip(envelopes, ids):
                if event_id in fresh:
                    fresh.discard(event_id)  # the same event twice in a batch: applied once
                    todo.append(envelope)
                else:
                    self.skipped += 1
        if todo:
            handle_batch = getattr(self.projector, "handle_batch", None)
            if handle_batch is not None:
                handle_batch(session, todo)
            else:
                for envelope in todo:
                    self.projector.handle(session, envelope)
        return len(todo)

    def _apply_one_with_retries(self, record: Record) -> None:
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._apply_batch([record], next_offsets([record]))
                return
            except Poison as exc:
                error = str(exc)
                break
            except (OperationalError, InterfaceError) as exc:
                if database_away(exc):
                    raise  # an outage, not a poison event: the runner retries from the committed offsets
                error = traceback.format_exc(limit=5)
                time.sleep(0.01 * attempt)
            except Exception:
                error = traceback.format_exc(limit=5)
                time.sleep(0.01 * attempt)
        self._dead_letter(record, error)

    def _dead_letter(self, record: Record, error: str) -> None:
        event_id = event_id_of(record)
        self.log.publish(
            [
                Record(
                    topic=self.dead_letter_topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers
                    + (("error", error[:4000].encode()), ("consumer", self.group.encode()),
                       ("source", f"{record.topic}/{record.partition}/{record.offset}".encode())),
                )
            ]
        )
        with writing(self.session_factory) as session:
            self._take_turn(session)
            session.execute(
                insert(dead_letters).values(
                    consumer=self.group, topic=record.topic, partition=record.partition,
                    offset=record.offset, event_id=event_id, error=error[:4000], recorded_at=utc_now(),
                )
            )
            advance_positions(session, self.group, next_offsets([record]))
            if event_id:
                session.execute(
                    delete(processed_events).where(
                        processed_events.c.consumer == self.group, processed_events.c.event_id == event_id
                    )
                )
                session.execute(
                    insert(processed_events).values(consumer=self.group, event_id=event_id, outcome="dead")
                )
        self.dead += 1
        log.error("event %s dead-lettered by %s: %s", event_id, self.group, error.splitlines()[-1:] )


def _type_header(record: Record) -> bytes | None:
    for name, value in record.headers:
        if name == "type":
            return value
    return None


def database_away(exc: OperationalError | InterfaceError) -> bool:
    """The PostgreSQL server is unreachable or restarting: nothing is wrong with the event. (On
    SQLite an OperationalError is the statement's own fault, e.g. a missing table.)"""
    return type(getattr(exc, "orig", None)).__module__.split(".")[0] != "sqlite3"


# Marking a batch's event ids processed. Mostly every id is new (a new batch, a replay): then the
# ids go in as a plain bulk insert, which costs a fraction of an insert that checks each row for a
# conflict and returns the new ones (SQLite: its RETURNING buffers every row; PostgreSQL: a
# speculative insertion a row). Only when that meets an id already there (a redelivered batch, a
# copy of an event published again) does the checking statement tell which are new.
_MARK_PROCESSED = {
    "postgresql": "INSERT INTO processed_events (consumer, event_id, outcome) "
                  "SELECT %s, unnest(%s::varchar[]), 'applied' ON CONFLICT DO NOTHING RETURNING event_id",
    "sqlite": "INSERT INTO processed_events (consumer, event_id, outcome) "
              "SELECT ?, value, 'applied' FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING event_id",
}
_MARK_NEW_SQLITE = ("INSERT INTO processed_events (consumer, event_id, outcome) "
                    "SELECT ?, value, 'applied' FROM json_each(?)")
_MARK_NEW_POSTGRESQL = "COPY processed_events (consumer, event_id, outcome) FROM STDIN"
_MARK_SAVEPOINT = "mark_processed"
# Text that goes into JSON or COPY's text format as it is: no quote, backslash or control character.
_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def mark_processed(conn: Connection, group: str, event_ids: Sequence[str], take_turn: bool = False) -> set[str]:
    """Mark the events processed by `group`; returns those that were not yet (to apply now).
    `take_turn`: take the group's turn first (see `ConsumerRunner._take_turn`)."""
    if conn.dialect.name == "postgresql":
        return _mark_processed_postgresql(conn, group, event_ids, take_turn)
    if event_ids:
        # Plain ids go into the JSON as they are (checked before they are joined by quotes).
        plain = _PLAIN.fullmatch("".join(event_ids))
        ids_json = '["' + '","'.join(event_ids) + '"]' if plain else json.dumps(list(event_ids))
        try:
            with driver_cursor(conn, _MARK_NEW_SQLITE) as cursor:
                cursor.execute(_MARK_NEW_SQLITE, (group, ids_json))
            return set(event_ids)
        except IntegrityError:  # SQLite took back that statement only: tell which are new
            pass
    statement = _MARK_PROCESSED["sqlite"]
    with driver_cursor(conn, statement) as cursor:
        cursor.execute(statement, (group, json.dumps(list(event_ids))))
        return {row[0] for row in cursor.fetchall()}


def _mark_processed_postgresql(conn: Connection, group: str, event_ids: Sequence[str], take_turn: bool) -> set[str]:
    """COPY the ids in, behind a savepoint (a COPY that meets an id already there fails whole,
    and the savepoint takes back only it); then the checking statement."""
    head = f"SELECT pg_advisory_xact_lock_shared({group_lock_key(group)}); " if take_turn else ""
    if event_ids and _PLAIN.fullmatch("".join(event_ids)) and _PLAIN.fullmatch(group):
        with driver_cursor(conn, head) as cursor:
            cursor.execute(f"{head}SAVEPOINT {_MARK_SAVEPOINT}")  # one round trip with the turn
        try:
            with driver_cursor(conn, _MARK_NEW_POSTGRESQL) as cursor, cursor.copy(_MARK_NEW_POSTGRESQL) as copy:
                copy.write(f"{group}\t" + f"\tapplied\n{group}\t".join(event_ids) + "\tapplied\n")
            return set(event_ids)
        except IntegrityError:
            with driver_cursor(conn, _MARK_SAVEPOINT) as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {_MARK_SAVEPOINT}")
    elif head:
        with driver_cursor(conn, head) as cursor:
            cursor.execute(head)
    statement = _MARK_PROCESSED["postgresql"]
    with driver_cursor(conn, statement) as cursor:
        cursor.execute(statement, (group, list(event_ids)))
        return {row[0] for row in cursor.fetchall()}


def advance_positions(session: Session, group: str, ends: dict[tuple[str, int], int]) -> None:
    """Record, in the transaction of the group's effects, the next offset of every partition a
    batch came from (`next_offsets`); never moves a position back (a redelivered batch is older)."""
    if not ends:
        return
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    statement = (
        "INSERT INTO consumer_positions (consumer, topic, log_partition, next_offset) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}) "
        "ON CONFLICT (consumer, topic, log_partition) DO UPDATE SET next_offset = CASE "
        "WHEN excluded.next_offset > consumer_positions.next_offset THEN excluded.next_offset "
        "ELSE consumer_positions.next_offset END")
    rows = [(group, topic, partition, offset) for (topic, partition), offset in sorted(ends.items())]
    with driver_cursor(conn, statement, rows) as cursor:
        cursor.executemany(statement, rows)


def group_lock_key(group: str) -> int:
    """The PostgreSQL advisory lock key of a consumer group (see `ConsumerRunner._take_turn`)."""
    return int.from_bytes(hashlib.blake2b(f"consumer:{group}".encode(), digest_size=8).digest(), "big", signed=True)
