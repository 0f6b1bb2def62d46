"""Rebuild a projection from the start of the log into shadow tables while the live ones keep
serving reads, then swap it in: no downtime.

The projection's own code writes the shadow without knowing it: the rebuild holds one database
connection of its own, on which the names of the projection's tables (`Projection.tables`) and of
the consumer bookkeeping resolve to shadow copies — on PostgreSQL a schema `replay_<id>` put
first on that connection's search_path, on SQLite TEMP tables (SQLite resolves `temp` before
`main`). Everything else a handler touches (the event store, other projections' tables) resolves
to the live tables as usual.

The swap: the live runner is paused (in this process by its turn lock, in every process of its
group by the group's advisory lock on PostgreSQL), the shadow reads to the log's current ends,
and one transaction replaces the live tables' rows with the shadow's and the live group's
processed-event ids with the shadow group's. The live group then resumes from its own offsets:
what the shadow read beyond them is already marked processed, so it is skipped, never applied
twice. Readers never wait: they see the old rows until the swap commits (MVCC / WAL), then the
new ones. Rows are replaced rather than tables renamed, so the live tables keep the indexes,
constraint names and grants their migrations made.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, MetaData, Table, delete, insert, literal, select, text
from sqlalchemy.orm import Session, sessionmaker

from libs.db import WRITE_OPTION

from .consumer import ConsumerRunner, Projector, group_lock_key
from .envelope import utc_now
from .log_access import partition_ends
from .tables import dead_letters, processed_events

log = logging.getLogger(__name__)

STALL_S = 120  # a rebuild that reads nothing new for this long while behind the log fails
HOLD_LIMIT_S = 600  # a held rebuild waits this long for its swap, then gives up (nothing swapped)
CATCH_UP_ROUNDS = 3  # rounds of following the live log before pausing the live runner
BOOKKEEPING = (processed_events, dead_letters)


class NotReplayable(Exception):
    pass


def check_replayable(projector: Projector) -> None:
    tables = tuple(getattr(projector, "tables", ()))
    if not tables:
        raise NotReplayable(f"projection {projector.name} does not declare tables of its own "
                            "(it shares them with commands or another projection)")
    for table in tables:
        if table.autoincrement_column is not None:
            raise NotReplayable(f"table {table.name} numbers its rows itself; a copy would renumber them")


class ShadowRebuild:
    """One rebuild of one projection; `run()` does it all (in a thread of its own)."""

    def __init__(self, live: ConsumerRunner, projector: Projector, engine: Engine, *, hold: bool = False,
                 max_batch: int = 1_000, replay_id: str | None = None) -> None:
        check_replayable(projector)
        self.id = replay_id or uuid.uuid4().hex[:12]
        self.live, self.projector, self.engine = live, projector, engine
        self.tables: tuple[Table, ...] = tuple(projector.tables)  # type: ignore[attr-defined]
        self.group = f"{live.group}.replay-{self.id[-8:]}"
        self.hold, self.max_batch = hold, max_batch
        self.state = "pending"  # pending → rebuilding → catching-up → (ready →) swapping → done | failed
        self.applied = 0
        self.total = 0
        self.error: str | None = None
        self.started_at: datetime = utc_now()
        self.finished_at: datetime | None = None
        self.state_hash_before: str | None = None
        self.shadow_state_hash: str | None = None
        self.state_hash: str | None = None
        self._swap = threading.Event()
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self._schemas: tuple[str, str] = ("", "")  # (live, shadow)

    # -- control (from other threads)

    def request_swap(self) -> None:
        self._swap.set()

    def stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "projection": self.projector.name, "group": self.live.group, "state": self.state,
            "applied": self.applied, "total": self.total, "hold": self.hold, "error": self.error,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "state_hash_before": self.state_hash_before, "shadow_state_hash": self.shadow_state_hash,
            "state_hash": self.state_hash,
        }

    # -- the work

    def run(self) -> None:
        shadow: ConsumerRunner | None = None
        try:
            self.state_hash_before = self._live_hash()
            self._prepare()
            shadow = ConsumerRunner(self.projector, sessionmaker(bind=self._conn, expire_on_commit=False),
                                    self.live.log, self.group, self.live.topics, self.live.dead_letter_topic,
                                    max_batch=self.max_batch)
            self.state = "rebuilding"
            ends = partition_ends(self.live.log, self.live.topics)
            self.total = sum(ends.values())
            self._catch_up(shadow, ends)
            self.state = "catching-up"
            for _ in range(CATCH_UP_ROUNDS):  # follow the live log, so the pause below is short
                ends = self._ends()
                if self._caught_up(shadow, ends):
                    break
                self._catch_up(shadow, ends)
            if self.hold:
                self._wait_for_swap(shadow)
            self.state = "swapping"
            with self.live.paused(), self._exclusive():
                self._catch_up(shadow, self._ends())
                self._swap_rows()
            self.state_hash = self._live_hash()
            self.state = "done"
        except Exception as exc:  # noqa: BLE001 - reported through the replay's state
            log.exception("replay %s of %s failed", self.id, self.live.group)
            self.error = f"{type(exc).__name__}: {exc}"[:2000]
            self.state = "failed"
        finally:
            self._clean_up(shadow)
            self.finished_at = utc_now()

    def _prepare(self) -> None:
        """The dedicated connection, with the shadow tables first in its name resolution."""
        conn = self.engine.connect()
        self._conn = conn
        if conn.dialect.name == "postgresql":
            live_schema = conn.execute(text("select current_schema()")).scalar_one()
            shadow_schema = f"replay_{self.id}"
            conn.exec_driver_sql(f'CREATE SCHEMA "{shadow_schema}"')
            conn.exec_driver_sql(f'SET search_path TO "{shadow_schema}", "{live_schema}"')
        else:
            live_schema, shadow_schema = "main", "temp"
            conn.execution_options(**{WRITE_OPTION: True})  # every transaction of it writes
        self._schemas = (live_schema, shadow_schema)
        shadow_md = MetaData()
        for table in (*self.tables, *BOOKKEEPING):
            table.to_metadata(shadow_md, schema=shadow_schema)
        shadow_md.create_all(conn, checkfirst=False)
        conn.commit()

    def _ends(self) -> dict[tuple[str, int], int]:
        ends = partition_ends(self.live.log, self.live.topics)
        self.total = max(self.total, sum(ends.values()))
        return ends

    @staticmethod
    def _caught_up(shadow: ConsumerRunner, ends: dict[tuple[str, int], int]) -> bool:
        return all(shadow.positions.get(tp, 0) >= end for tp, end in ends.items() if end > 0)

    def _catch_up(self, shadow: ConsumerRunner, ends: dict[tuple[str, int], int]) -> None:
        """Run the shadow until it has read every partition up to `ends`."""
        last_progress = time.monotonic()
        kafka = type(self.live.log).__name__ == "KafkaLog"
        while not self._caught_up(shadow, ends):
            if self._stop.is_set():
                raise RuntimeError("stopped")
            if shadow.run_once(timeout_ms=500 if kafka else 0):
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise TimeoutError(f"the rebuild read nothing for {STALL_S} s while behind the log")
            self.applied = sum(min(shadow.positions.get(tp, 0), end) for tp, end in ends.items())

    def _wait_for_swap(self, shadow: ConsumerRunner) -> None:
        with sessionmaker(bind=self._conn)() as session:
            self.shadow_state_hash = self.projector.state_hash(session)
        self.state = "ready"
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not self._swap.wait(1.0):
            if self._stop.is_set() or time.monotonic() > deadline:
                raise TimeoutError(f"held for {HOLD_LIMIT_S} s without a swap; nothing was swapped")
            self._catch_up(shadow, self._ends())

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """On PostgreSQL, the live group's advisory lock, exclusively (see ConsumerRunner)."""
        conn, key = self._conn, group_lock_key(self.live.group)
        assert conn is not None
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("select pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
        try:
            yield
        finally:
            if postgres and not conn.closed:
                conn.rollback()
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

    def _swap_rows(self) -> None:
        conn = self._conn
        assert conn is not None
        live_schema, shadow_schema = self._schemas
        live_md, shadow_md = MetaData(), MetaData()
        with conn.begin():
            for table in self.tables:
                target = table.to_metadata(live_md, schema=live_schema)
                source = table.to_metadata(shadow_md, schema=shadow_schema)
                conn.execute(delete(target))
                conn.execute(insert(target).from_select([c.name for c in target.columns], select(*source.columns)))
            pe, spe = (processed_events.to_metadata(md, schema=s) for md, s in
                       ((live_md, live_schema), (shadow_md, shadow_schema)))
            conn.execute(delete(pe).where(pe.c.consumer == self.live.group))
            conn.execute(insert(pe).from_select(
                ["consumer", "event_id", "outcome"],
                select(literal(self.live.group), spe.c.event_id, spe.c.outcome).where(spe.c.consumer == self.group)))
            # The rebuild retried every event: its dead letters replace the live group's open ones.
            dl, sdl = (dead_letters.to_metadata(md, schema=s) for md, s in
                       ((live_md, live_schema), (shadow_md, shadow_schema)))
            conn.execute(delete(dl).where(dl.c.consumer == self.live.group, dl.c.redriven_at.is_(None)))
            columns = ["topic", "partition", "offset", "event_id", "error", "recorded_at"]
            conn.execute(insert(dl).from_select(
                ["consumer", *columns],
                select(literal(self.live.group), *(sdl.c[c] for c in columns)).where(sdl.c.consumer == self.group)))

    def _live_hash(self) -> str:
        with Session(bind=self.engine) as session:
            return self.projector.state_hash(session)

    def _clean_up(self, shadow: ConsumerRunner | None) -> None:
        if shadow is not None:
            shadow.close()
        conn = self._conn
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
                live_schema, shadow_schema = self._schemas
                if conn.dialect.name == "postgresql" and shadow_schema:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{shadow_schema}" CASCADE')
                elif shadow_schema:
                    for table in (*self.tables, *BOOKKEEPING):
                        conn.exec_driver_sql(f'DROP TABLE IF EXISTS temp."{table.name}"')
                conn.commit()
            except Exception:  # noqa: BLE001 - the connection is thrown away below anyway
                log.warning("replay %s: could not drop its shadow tables", self.id, exc_info=True)
            finally:
                conn.invalidate()  # never hand a connection with a changed name resolution back to the pool
                conn.close()
        try:
            self.live.log.reset_group(self.group, self.live.topics)  # forget the shadow group's offsets
        except Exception:  # noqa: BLE001
            log.warning("replay %s: could not delete consumer group %s", self.id, self.group, exc_info=True)


def start_in_thread(rebuild: ShadowRebuild, on_done: Callable[[ShadowRebuild], None] | None = None) -> threading.Thread:
    def target() -> None:
        rebuild.run()
        if on_done:
            on_done(rebuild)

    thread = threading.Thread(target=target, name=f"replay-{rebuild.id}", daemon=True)
    thread.start()
    return thread
