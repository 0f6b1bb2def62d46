"""Database engines and migrations: one code path for SQLite (embedded) and PostgreSQL."""
from __future__ import annotations

import os
import select
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Column, Connection, Dialect, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A connection's page cache, at most (SQLite's own is 2 MiB; setting INJURYLEDGER_SQLITE_CACHE_MIB).
# A go-live's every worker lands in some fourteen indexes keyed by worker or employer: with 2 MiB
# each of their leaves was read back by a pread for the next row (the employees' import at 200,000
# workers 0.83 of its CPU with 64 MiB or 256, 75 -> 14 KB read a worker). Filled only as pages are
# read, so a small database never takes it.
SQLITE_CACHE_MIB = 64
WRITE_OPTION = "injuryledger_write"  # execution option: this transaction will write
DRIVER_BEGUN = "injuryledger_driver_begun"  # execution option: the driver began the transaction


def make_engine(url: str, *, pool_size: int = 10, sqlite_cache_mib: int = SQLITE_CACHE_MIB) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        if engine.url.database and engine.url.database != ":memory:":  # a file: its folder may be new
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        _tune_sqlite(engine, sqlite_cache_mib)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )
    _drop_dead_connections(engine)
    return engine


def _drop_dead_connections(engine: Engine) -> None:
    """A pooled connection the server has closed (a restart, a terminated backend) is replaced at
    checkout (see `closed_by_server`)."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy):  # noqa: ANN001
        if closed_by_server(dbapi_conn):
            raise DisconnectionError("the server closed this pooled connection")  # the pool retries


def closed_by_server(dbapi_conn: Any) -> bool:
    """Whether an idle PostgreSQL connection was closed by the server. Not a ping (a round trip
    on every checkout, a third of a one-event append's): the server's last words (its FATAL
    message, then EOF) make the idle connection's socket readable, which a zero-timeout select
    sees. A readable idle socket is never a healthy one here (we LISTEN to nothing), so at worst a
    connection is replaced for nothing."""
    try:
        return dbapi_conn.closed or bool(select.select([dbapi_conn.fileno()], [], [], 0)[0])
    except Exception:  # noqa: BLE001 - no socket left: as dead as can be
        return True


def _tune_sqlite(engine: Engine, cache_mib: int) -> None:
    assert cache_mib > 0, cache_mib
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn, record):  # noqa: ANN001
        pages = record.info.pop(_DEFERRED_CHECKPOINT, None) if record is not None else None
        if pages is not None:  # defer_sqlite_checkpoint: its own setting again, the checkpoint on a thread
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
            threading.Thread(target=_checkpoint, args=(engine,), name="sqlite-checkpoint", daemon=True).start()
        if record is not None and record.info.pop(_DISCARD, False):  # discard_sqlite_connection
            record.invalidate()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # A write transaction takes the write lock up front: a deferred one that reads, then
        # writes, fails with SQLITE_BUSY after another writer commits instead of waiting its
        # turn. Reads stay deferred, so they never queue behind writers (WAL).
        # The driver's cursor, not exec_driver_sql: every unit of work begins here (half the cost).
        options = conn.get_execution_options()
        if options.get(DRIVER_BEGUN, False):
            return  # a DriverTransaction's, begun already by the driver: SQLAlchemy joins it
        statement = "BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN"
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement)


def bind_processor(column: Column, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How SQLAlchemy makes a value of `column` the driver's on `dialect` (None: as it is), for
    rows written on the driver: the dialect's own implementation of the column's type (the
    generic type has none: a Date on SQLite is ISO text only through SQLite's DATE)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def driver_mark(dialect_name: str) -> str:
    """The driver's positional parameter marker, for plain SQL on the hot write paths
    (sqlite3 takes `?`, psycopg `%s`)."""
    return "?" if dialect_name == "sqlite" else "%s"


class driver_cursor:  # noqa: N801 - used as the function it was
    """`with driver_cursor(conn, statement, params) as cursor`: the driver's own cursor on `conn`'s
    connection, inside its transaction, for the hottest paths (appends, consumer batches), where
    SQLAlchemy's per-statement work is most of the cost. Its errors come out as SQLAlchemy's, as
    from `execute` (`driver_error`). A class, not a generator: it runs on every append, and a
    generator-based context manager costs several times more to enter and leave."""

    __slots__ = ("conn", "statement", "params", "cursor")

    def __init__(self, conn: "Connection | DriverTransaction", statement: str, params: Any = None) -> None:
        self.conn, self.statement, self.params = conn, statement, params

    def __enter__(self) -> Any:
        conn = self.conn
        if isinstance(conn, DriverTransaction):
            if conn.deferred is not None:
                conn.send_deferred()
            fairy = conn.fairy
        else:
            fairy = conn.connection
        self.cursor = fairy.cursor()
        return self.cursor

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        conn = self.conn
        try:
            if exc is not None and isinstance(exc, conn.dialect.loaded_dbapi.Error):
                raise driver_error(conn, exc, self.statement, self.params, self.cursor) from exc
        finally:
            if not conn.invalidated:
                self.cursor.close()


def driver_connection(conn: "Connection | DriverTransaction") -> Any:
    """The driver's own connection (sqlite3's, psycopg's) under `conn`, in its transaction (a
    DriverTransaction's write held for its commit sent first: what comes next sees it)."""
    if isinstance(conn, DriverTransaction):
        if conn.deferred is not None:
            conn.send_deferred()
        return conn.driver
    return conn.connection.dbapi_connection


def driver_error(conn: "Connection | DriverTransaction", exc: BaseException, statement: str, params: Any = None,
                 cursor: Any = None) -> DBAPIError:
    """A driver's error as SQLAlchemy raises it: a lost connection is invalidated first (the pool
    drops it) and the error is an OperationalError flagged `connection_invalidated`."""
    fairy = conn.fairy if isinstance(conn, DriverTransaction) else conn.connection
    lost = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(statement, params, exc, conn.dialect.loaded_dbapi.Error, connection_invalidated=lost,
                               dialect=conn.dialect)


_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (libpq's PQTRANS_IDLE): no transaction begun
KEPT_CONNECTIONS = 2  # per engine: connections units of work keep between transactions


class _KeptConnections:
    """Pooled connections the units of work of one engine keep checked out between transactions
    (at most KEPT_CONNECTIONS; the rest go back to the pool): taking one back is a list pop, where
    the pool's checkout and checkin (events, bookkeeping) cost a tenth of a one-event append.
    Only a connection whose transaction the driver ended cleanly is kept; on
    PostgreSQL one is checked as the pool's checkout does (`closed_by_server`) before reuse. The
    engine's `dispose` closes them with its pool's. A thread takes one whole (`list.pop`)."""

    __slots__ = ("idle", "check")

    def __init__(self, engine: Engine) -> None:
        self.idle: list[Any] = []
        self.check = engine.dialect.name == "postgresql"
        # Closed with the pool's idle connections. Listening to a Connection event marks the
        # engine as having some, which makes every statement look for them: not for this one
        # (Engine.dispose dispatches it regardless).
        had_events = engine._has_events
        event.listen(engine, "engine_disposed", self.close_all)
        engine._has_events = had_events

    def take(self, engine: Engine) -> Any:
        idle = self.idle
        while idle:
            try:
                fairy = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if not self.check or not closed_by_server(fairy.dbapi_connection):
                return fairy
            fairy.invalidate()  # closed, and its place in the pool freed
        return engine.raw_connection()  # the pool's checkout (a dead connection is replaced there)

    def give_back(self, fairy: Any) -> None:
        if len(self.idle) < KEPT_CONNECTIONS:
            self.idle.append(fairy)
        else:
            fairy._close_special(transaction_reset=True)

    def close_all(self, _engine: Engine | None = None) -> None:
        while self.idle:
            try:
                self.idle.pop().invalidate()
            except IndexError:
                break


def _kept_connections(engine: Engine) -> _KeptConnections:
    """The engine's kept connections, held on the engine itself (an attribute read on every unit of
    work, where a weak dictionary's lookup is a Python call)."""
    try:
        return engine._injuryledger_kept  # type: ignore[attr-defined]
    except AttributeError:
        with _kept_lock:
            kept = engine.__dict__.get("_injuryledger_kept")
            if kept is None:
                kept = engine._injuryledger_kept = _KeptConnections(engine)  # type: ignore[attr-defined]
        return kept


_kept_lock = threading.Lock()


class DriverTransaction:
    """A write transaction begun and committed by the driver on a pooled DBAPI connection, for the
    unit of work: SQLAlchemy's Connection (its events, pool and transaction bookkeeping) costs
    more than a one-event append itself. A Connection over the same DBAPI connection, inside the
    same transaction, is made on first use of `connection` (Core statements, a Session); from then
    on it owns the transaction and ends it (and returns the connection to the pool).
    SQLite takes the write lock at BEGIN IMMEDIATE, as `_on_begin` does; psycopg begins
    implicitly at the first statement (SQLAlchemy's own begin is a no-op there).
    The connection comes from, and goes back to, the engine's kept connections (_KeptConnections).
    On PostgreSQL the transaction's first statement, if it is a write (an append), can wait for the
    commit (`defer`): BEGIN, it and COMMIT then travel in one round trip, not two."""

    __slots__ = ("engine", "dialect", "fairy", "driver", "cursor", "_kept", "_invalidated", "_ended", "_connection",
                 "_transaction", "deferred")

    def __init__(self, engine: Engine) -> None:
        self.engine, self.dialect = engine, engine.dialect
        self._kept = _kept_connections(engine)
        try:
            self.fairy = self._kept.take(engine)
        except self.dialect.loaded_dbapi.Error as exc:
            Connection._handle_dbapi_exception_noconnection(exc, self.dialect, engine)
            raise
        self.driver = self.fairy.dbapi_connection  # the driver's own connection (sqlite3, psycopg)
        self._invalidated = False
        self._ended = False  # committed or rolled back by the driver
        self._connection: Connection | None = None
        self._transaction: Any = None
        self.deferred: Callable[[Callable[..., int]], None] | None = None
        # SQLite: one driver cursor for the transaction's own statements (its BEGIN, the appends, its
        # COMMIT), not one made by each `execute`; its COMMIT a statement the driver keeps prepared,
        # where `commit()` parses it anew every time.
        self.cursor: Any = None
        if self.dialect.name == "sqlite":
            try:
                self.cursor = self.driver.cursor()
                self.cursor.execute("BEGIN IMMEDIATE")
            except self.dbapi_error as exc:
                error = driver_error(self, exc, "BEGIN IMMEDIATE")
                self.close()
                raise error from exc
            except BaseException:
                self.close()
                raise

    @property
    def dbapi_error(self) -> type[Exception]:
        return self.dialect.loaded_dbapi.Error

    def defer(self, write: Callable[[Callable[..., int]], None]) -> bool:
        """Holds `write` until something else uses this transaction (`send_deferred`) or it commits,
        if nothing has been sent in it yet (PostgreSQL: a psycopg connection idle, no Connection
        made); False if it must run now. `write(run)` sends its statement with `run`: pg_statement's
        `execute_write`, or at the commit `execute_write_and_commit`; it raises what its outcome
        calls for (a conflict), and from the commit, where it is sent then."""
        if self._connection is not None or self.deferred is not None or self.driver.pgconn.transaction_status != _PG_IDLE:
            return False
        self.deferred = write
        return True

    def send_deferred(self) -> None:
        from libs.pg_statement import execute_write  # psycopg: not imported by an embedded runtime

        write, self.deferred = self.deferred, None
        write(execute_write)

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            if self.deferred is not None:
                self.send_deferred()
            conn = Connection(self.engine, connection=self.fairy).execution_options(
                **{WRITE_OPTION: True, DRIVER_BEGUN: True})
            self._transaction = conn.begin()  # joins the driver's transaction (see _on_begin)
            self._connection = conn
        return self._connection

    def execute(self, statement: Any, params: Any = None) -> Any:
        """A Core statement, in this transaction."""
        return self.connection.execute(statement, params)

    @property
    def invalidated(self) -> bool:
        return self._connection.invalidated if self._connection is not None else self._invalidated

    def invalidate(self, exc: BaseException) -> None:
        if self._connection is not None:
            self._connection.invalidate(exc)
        else:
            self._invalidated = True
            self.fairy.invalidate(exc)  # and back to the pool, which drops it

    def commit(self) -> None:
        if self._connection is not None:
            self._transaction.commit()
        elif self.deferred is not None:
            from libs.pg_statement import execute_write_and_commit

            write, self.deferred = self.deferred, None
            write(execute_write_and_commit)
            self._ended = True
        elif not self._invalidated:
            try:
                if self.cursor is not None:
                    self.cursor.execute("COMMIT")
                else:
                    self.driver.commit()
            except self.dbapi_error as exc:
                raise driver_error(self, exc, "COMMIT") from exc
            self._ended = True

    def rollback(self) -> None:
        self.deferred = None  # never sent: nothing to undo
        if self._connection is not None:
            self._transaction.rollback()
        elif not self._invalidated:
            try:
                self.driver.rollback()
            except self.dbapi_error as exc:
                raise driver_error(self, exc, "ROLLBACK") from exc
            self._ended = True

    def close(self) -> None:
        """The connection kept for the next unit of work if the driver ended this transaction,
        else back to the pool, which resets it (rolls back): as SQLAlchemy's own Connection
        tells it. Made into a Connection, that Connection closes it."""
        if self._connection is not None:
            self._connection.close()
        elif not self._invalidated:
            if self._ended:
                self._kept.give_back(self.fairy)
            else:
                self.fairy._close_special(transaction_reset=False)


def driver_batches(conn: Connection, statement: str, params: Any, batch: int) -> Iterator[list[tuple]]:
    """The driver's own tuples of a query on `conn`, in lists of up to `batch` from a server-side
    cursor (a named one on PostgreSQL; SQLite's cursor steps through the result anyway): for
    reading millions of rows in flat memory without a Row object each."""
    dialect = conn.dialect.name
    fairy = conn.connection
    cursor = fairy.cursor(name=f"rows_{uuid.uuid4().hex[:12]}") if dialect == "postgresql" else fairy.cursor()
    try:
        cursor.execute(statement, params)
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        if not conn.invalidated:
            cursor.close()


def driver_rows(conn: Connection, statement: str, params: Any, batch: int) -> Iterator[tuple]:
    """driver_batches, row by row."""
    for rows in driver_batches(conn, statement, params, batch):
        yield from rows


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a write transaction (committed on leaving, rolled back on an error).
    On SQLite it holds the write lock from its first statement; elsewhere it is a plain one."""
    with sessions() as session, session.begin():
        session.connection(execution_options={WRITE_OPTION: True})
        yield session


def alembic_config(service: str) -> Config:
    """The Alembic configuration of a service's own migrations (a connection set by the caller)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["service"] = service
    return cfg


def migrate(engine: Engine, service: str) -> None:
    """Bring a service's database to the newest schema with its own Alembic migrations."""
    cfg = alembic_config(service)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # one branch per part of a service


def rebuild_without_rowid(op: Any, table: Any) -> None:
    """In a migration, on SQLite only: rebuild `table` (the migration's own definition of a live
    table, with `sqlite_with_rowid=False`) as a WITHOUT ROWID table, its rows and indexes kept.
    Its rows then live in its primary key's B-tree: a row written is one B-tree fewer to write
    than a rowid table plus its primary-key index (the hot read models a wage report writes a
    row per worker into). PostgreSQL has no rowid: nothing to do."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    if op.get_bind().dialect.name != "sqlite":
        return
    old = f"{table.name}_with_rowid"
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    op.execute(f'ALTER TABLE "{table.name}" RENAME TO "{old}"')
    for index in table.indexes:  # index names are the schema's: free them for the new table
        op.execute(f'DROP INDEX IF EXISTS "{index.name}"')
    op.execute(CreateTable(table))
    op.execute(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{old}"')
    op.execute(f'DROP TABLE "{old}"')
    for index in table.indexes:
        op.execute(CreateIndex(index))


def run_migrations_online(context, target_metadata, service: str) -> None:  # noqa: ANN001
    """The body of every service's migrations/env.py: run on the connection we were handed."""
    connection = context.config.attributes.get("connection")
    if connection is None:  # the `alembic` CLI: take the URL from the environment
        from libs.settings import Settings

        settings = Settings()
        engine = make_engine(settings.database_url(service), sqlite_cache_mib=settings.sqlite_cache_mib)
        with engine.begin() as conn:
            _configure_and_run(context, conn, target_metadata, service)
        return
    _configure_and_run(context, connection, target_metadata, service)


def _configure_and_run(context, connection, target_metadata, service: str) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=f"alembic_version_{service}",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_DEFERRED_CHECKPOINT = "injuryledger_deferred_checkpoint"  # on a pooled connection: its own wal_autocheckpoint


def defer_sqlite_checkpoint(session: Session) -> None:
    """SQLite: the commit of this session's transaction leaves the write-ahead log as it is (no
    automatic checkpoint by the committing caller); a thread of its own checkpoints it once the
    connection is back in the pool. For a transaction of hundreds of MB: a payment run of a
    million payees leaves ~480 MB in the log, whose checkpoint (each page copied into the
    database) the caller waited ~3 s for. The log is as durable either way (WAL); until the thread
    is done, readers read those pages from the log, and a later commit may checkpoint them itself.
    PostgreSQL: nothing (the server checkpoints on its own)."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    fairy = conn.connection
    if _DEFERRED_CHECKPOINT not in fairy.info:
        fairy.info[_DEFERRED_CHECKPOINT] = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")


_DISCARD = "injuryledger_discard"  # on a pooled connection: closed when it is checked in


def discard_sqlite_connection(session: Session) -> None:
    """SQLite: this session's connection is closed when it goes back to the pool, not kept (the
    pool opens a new one when asked). What it leaves in its temporary database (a payment run's
    copy of a million lines, hundreds of MB) then goes with the file, unlinked: no page read back
    to be freed, as DROP TABLE does. PostgreSQL: nothing (its temporary tables drop on commit)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.connection.info[_DISCARD] = True


def _checkpoint(engine: Engine) -> None:
    """A PASSIVE checkpoint (it never waits for readers or writers) on a connection of its own,
    outside the pool (no pool slot held, no page cache of its own kept afterwards), this thread at
    the lowest priority (Linux: a thread's own nice value): it takes a core only when the requests
    leave one idle."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: at the process's priority
        pass
    try:
        conn = sqlite3.connect(f"{Path(engine.url.database).resolve().as_uri()}?mode=rw", uri=True,
                               timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error:  # the database is gone (a test's folder): nothing to checkpoint, nothing made
        return
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:  # a checkpoint is an optimization: the log stays valid
        pass
    finally:
        conn.close()


@contextmanager
def sqlite_sort(session: Session, run_kib: int = 2048, helper_threads: int = 1) -> Iterator[None]:
    """SQLite: the sorts of the statements inside in runs of `run_kib` KiB, with up to
    `helper_threads` threads beside the caller's; the connection's own settings again after,
    whatever happens. SQLite's sorter sorts a run of rows in memory, writes it to a temporary
    file, and merges the runs; a run is as large as the database's page cache (64 MiB here), and
    a run that fits the CPU's caches sorts faster: a payment run's million lines sorted in 2.8 s
    of wall in 2 MiB runs against 3.4 s in 64 MiB ones, and 48 MiB of memory against 176. A helper
    thread sorts one run while the statement reads the next rows (the machine's other core): 2.0 s.
    The database's pages cached meanwhile are bounded by the same size (a sort reads its rows
    once). PostgreSQL: nothing (its sorts are the server's, work_mem)."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    assert 1024 <= run_kib and 0 <= helper_threads <= 4, (run_kib, helper_threads)
    pages, threads = (session.execute(text(f"PRAGMA {name}")).scalar() for name in ("cache_size", "threads"))
    session.execute(text(f"PRAGMA cache_size = -{int(run_kib)}"))
    session.execute(text(f"PRAGMA threads = {int(helper_threads)}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(pages)}"))
        session.execute(text(f"PRAGMA threads = {int(threads)}"))


@contextmanager
def sqlite_page_cache(session: Session, kib: int, schemas: tuple[str, ...] = ("main",)) -> Iterator[None]:
    """SQLite: the page cache of `schemas` (the database, its temporary tables) at `kib` KiB for a
    step that writes many pages of a few indexes (2 MiB each by default: their pages were written
    out and read back within the step), the connection's own sizes again after, whatever happens;
    bounded, whatever the step's size; never below the connection's own (`SQLITE_CACHE_MIB`).
    PostgreSQL: nothing (its buffers are the server's)."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    before = {schema: session.execute(text(f"PRAGMA {schema}.cache_size")).scalar() for schema in schemas}
    for schema in schemas:
        if -before[schema] < kib:  # negative: KiB
            session.execute(text(f"PRAGMA {schema}.cache_size = -{int(kib)}"))
    try:
        yield
    finally:
        for schema, pages in before.items():
            session.execute(text(f"PRAGMA {schema}.cache_size = {int(pages)}"))
