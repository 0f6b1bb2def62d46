"""The embedded twin of Kafka: an append-only log in one SQLite file, one partition per topic.

It keeps the same contract as the Kafka log (durable on return, ordered, resumable groups), so
the embedded default survives a restart and needs no broker.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DataError

from libs.db import WRITE_OPTION, driver_cursor

from .log import FROM_STORE, Page, Record, next_offsets

_metadata = MetaData()
log_records = Table(
    "log_records",
    _metadata,
    Column("topic", String(128), primary_key=True),
    Column("offset", BigInteger, primary_key=True, autoincrement=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", LargeBinary, nullable=False),
)
log_offsets = Table(
    "log_offsets",
    _metadata,
    Column("grp", String(128), primary_key=True),
    Column("topic", String(128), primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)


@lru_cache(maxsize=1024)  # the relay's records carry a handful of distinct headers (type, version)
def _pack_headers(headers: tuple[tuple[str, bytes], ...]) -> bytes:
    return b"\x00".join(k.encode() + b"=" + v for k, v in headers)


_APPEND = 'INSERT INTO log_records (topic, "offset", key, value, headers) VALUES (?, ?, ?, ?, ?)'


@lru_cache(maxsize=1024)  # a topic's records carry a handful of distinct headers (type, version)
def _unpack_headers(raw: bytes) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\x00"))
    return tuple((k.decode(), v) for k, v in pairs)


class SqliteLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()  # one writer assigns offsets
        _metadata.create_all(engine)

    def publish(self, records: Sequence[Record]) -> list[tuple[int, int]]:
        if not records:
            return []
        with self._lock, self._writing() as conn:
            next_by_topic: dict[str, int] = {}
            rows = []
            for r in records:
                if r.topic not in next_by_topic:
                    last = conn.execute(
                        select(func.max(log_records.c.offset)).where(log_records.c.topic == r.topic)
                    ).scalar_one()
                    next_by_topic[r.topic] = 0 if last is None else last + 1
                offset = next_by_topic[r.topic]
                next_by_topic[r.topic] = offset + 1
                rows.append((r.topic, offset, r.key, r.value, _pack_headers(r.headers)))
            # The driver's executemany: a relay's batch is thousands of rows, and SQLAlchemy's
            # per-row parameter processing cost more than the insert.
            with driver_cursor(conn, _APPEND, rows) as cursor:
                cursor.executemany(_APPEND, rows)
        return [(0, row[1]) for row in rows]

    def consumer(self, group: str, topics: Sequence[str]) -> "SqliteConsumer":
        return SqliteConsumer(self, group, tuple(topics))

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction holding SQLite's write lock from the start (see libs.db)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def reset_group(self, group: str, topics: Sequence[str]) -> None:
        with self._writing() as conn:
            conn.execute(
                delete(log_offsets).where(log_offsets.c.grp == group, log_offsets.c.topic.in_(topics))
            )

    def end_offsets(self, topics: Sequence[str]) -> dict[str, int]:
        """The next offset of each topic: one max() a topic, which SQLite answers from the index."""
        with self.engine.connect() as conn:
            ends = {}
            for topic in topics:
                last = conn.execute(
                    select(func.max(log_records.c.offset)).where(log_records.c.topic == topic)
                ).scalar_one()
                ends[topic] = 0 if last is None else last + 1
        return ends

    def log_end(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The next offset of each (topic, partition): the twin has one partition a topic."""
        return {(topic, 0): end for topic, end in self.end_offsets(topics).items()}

    def lag(self, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Records of each (topic, partition) the group has not committed yet."""
        ends = self.log_end(topics)
        with self.engine.connect() as conn:
            committed = dict(conn.execute(
                select(log_offsets.c.topic, log_offsets.c.next_offset).where(
                    log_offsets.c.grp == group, log_offsets.c.topic.in_(list(topics)))
            ).all())
        return {(t, p): max(end - committed.get(t, 0), 0) for (t, p), end in ends.items()}

    def close(self) -> None:
        self.engine.dispose()


_READ_PAGE = ('SELECT "offset", key, value, headers FROM log_records WHERE topic = ? AND "offset" >= ? '
              'ORDER BY "offset" LIMIT ?')


_READ_RANGE = ('SELECT "offset", key, value, headers FROM log_records WHERE topic = ? AND "offset" BETWEEN ? AND ? '
               'ORDER BY "offset"')
# A page in one step of SQLite (which lets go of the GIL for it, where a row's fetch takes it
# back): its count and offsets, whether every record's headers hold FROM_STORE as a whole item,
# and its values joined by commas (the array's brackets put on by Python: SQLite's `'[' || … || ']'`
# made two more copies of megabytes in fresh memory, ≈ 0.7 µs an event of page faults). The
# aggregate reads the rows in the inner query's order (the offsets'); a SQLite that has it says
# so with an ORDER BY of the aggregate's own.
_IN_ORDER = ' ORDER BY "offset"' if sqlite3.sqlite_version_info >= (3, 44) else ""
_READ_WHOLE_PAGE = (
    'SELECT count(*), min("offset"), max("offset"), min(instr(CAST(x\'00\' || headers || x\'00\' AS BLOB), ?)) > 0, '
    f"CAST(group_concat(value, ','{_IN_ORDER}) AS BLOB) "
    'FROM (SELECT "offset", value, headers FROM log_records WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?)')
_FROM_STORE_ITEM = b"\x00" + _pack_headers((FROM_STORE,)) + b"\x00"
# A page's values come to about this at most (SQLite and Python each make a copy of them, and
# SQLite makes no value over 1 GB): its rows from the mean size of the last page's values, the
# first page's from the mean of the next SAMPLE_ROWS values.
PAGE_BYTES = 32 << 20
SAMPLE_ROWS = 100
_SAMPLE = ('SELECT count(*), sum(length(value)) FROM (SELECT value FROM log_records WHERE topic = ? AND "offset" >= ? '
           'ORDER BY "offset" LIMIT ?)')


def _records(topic: str, rows: Sequence[tuple]) -> list[Record]:
    """The Records of a topic's rows (offset, key, value, packed headers)."""
    new, unpack = tuple.__new__, _unpack_headers  # a record made as the tuple it is
    return [new(Record, (topic, key, value, unpack(headers), 0, offset)) for offset, key, value, headers in rows]


class SqlitePage(Page):
    """A page of one topic of the embedded log (`SqliteConsumer.poll_page`)."""

    __slots__ = ("log",)

    def __init__(self, log: "SqliteLog", topic: str, first: int, last: int, count: int, from_store: bool,
                 values_json: bytes) -> None:
        super().__init__(topic, 0, first, last, count, from_store, values_json)
        self.log = log

    def _read(self) -> list[Record]:
        with self.log.engine.connect() as conn, driver_cursor(conn, _READ_RANGE) as cursor:
            return _records(self.topic, cursor.execute(_READ_RANGE, (self.topic, self.first, self.last)).fetchall())


class SqliteConsumer:
    def __init__(self, log: SqliteLog, group: str, topics: tuple[str, ...]) -> None:
        self.log, self.group, self.topics = log, group, topics
        self._position: dict[str, int] = self._committed()
        self._page_rows: int | None = None  # the rows of the next page (PAGE_BYTES); None: not known yet

    def _committed(self) -> dict[str, int]:
        with self.log.engine.connect() as conn:
            rows = conn.execute(
                select(log_offsets.c.topic, log_offsets.c.next_offset).where(
                    log_offsets.c.grp == self.group, log_offsets.c.topic.in_(self.topics)
                )
            ).all()
        found = {t: o for t, o in rows}
        return {t: found.get(t, 0) for t in self.topics}

    def poll(self, max_records: int, timeout_ms: int = 0) -> list[Record]:
        out: list[Record] = []
        # The driver's cursor: a replay reads the whole log through here, a page at a time.
        with self.log.engine.connect() as conn, driver_cursor(conn, _READ_PAGE) as cursor:
            for topic in self.topics:
                room = max_records - len(out)
                if room <= 0:
                    break
                rows = cursor.execute(_READ_PAGE, (topic, self._position[topic], room)).fetchall()
                out += _records(topic, rows)
                if rows:
                    self._position[topic] = rows[-1][0] + 1
        return out

    def poll_page(self, max_records: int, timeout_ms: int = 0) -> "SqlitePage | list[Record]":
        """`poll` as a `Page`, read without a Python step a row (a consumer of one topic; one of
        several topics polls as ever)."""
        if len(self.topics) != 1:
            return self.poll(max_records, timeout_ms)
        topic = self.topics[0]
        try:
            with self.log.engine.connect() as conn, driver_cursor(conn, _READ_WHOLE_PAGE) as cursor:
                if self._page_rows is None:
                    sampled, size = cursor.execute(_SAMPLE, (topic, self._position[topic], SAMPLE_ROWS)).fetchone()
                    self._page_rows = max(1, PAGE_BYTES * sampled // max(size or 0, 1))
                rows = min(max_records, self._page_rows)
                count, first, last, from_store, values = cursor.execute(
                    _READ_WHOLE_PAGE, (_FROM_STORE_ITEM, topic, self._position[topic], rows)).fetchone()
        except DataError:  # more than SQLite makes one value of: the records, as `poll` reads them
            self._page_rows = 1
            return self.poll(max_records, timeout_ms)
        if not count:
            return []
        self._position[topic] = last + 1
        self._page_rows = max(1, PAGE_BYTES * count // max(len(values), 1))
        return SqlitePage(self.log, topic, first, last, count, bool(from_store), b"".join((b"[", values, b"]")))

    def commit(self, records: Sequence[Record]) -> None:
        self.commit_offsets(next_offsets(records))

    def commit_offsets(self, ends: dict[tuple[str, int], int]) -> None:
        """The group's next offset of each topic (one partition a topic)."""
        if not ends:
            return
        with self.log._writing() as conn:
            for (topic, _partition), offset in ends.items():
                updated = conn.execute(
                    log_offsets.update()
                    .where(log_offsets.c.grp == self.group, log_offsets.c.topic == topic)
                    .values(next_offset=offset)
                ).rowcount
                if not updated:
                    conn.execute(insert(log_offsets).values(grp=self.group, topic=topic, next_offset=offset))

    def seek_to_beginning(self) -> None:
        self._position = {t: 0 for t in self.topics}

    def behind(self, end_offsets: dict[str, int]) -> bool:
        """Whether the log holds records this consumer has not read yet."""
        return any(end_offsets.get(t, 0) > self._position[t] for t in self.topics)

    def close(self) -> None:
        pass
