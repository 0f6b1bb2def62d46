"""Database engines and migrations: one code path for SQLite (embedded) and PostgreSQL."""
from __future__ import annotations

import select
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "injuryledger_write"  # execution option: this transaction will write
DRIVER_BEGUN = "injuryledger_driver_begun"  # execution option: the driver began the transaction


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        if engine.url.database and engine.url.database != ":memory:":  # a file: its folder may be new
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        _tune_sqlite(engine)
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
    checkout. Not a ping (a round trip on every checkout, a third of a one-event append's): the
    server's last words (its FATAL message, then EOF) make the idle connection's socket readable,
    which a zero-timeout select sees. A readable idle socket is never a healthy one here (we LISTEN
    to nothing), so at worst a connection is replaced for nothing."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy):  # noqa: ANN001
        try:
            dead = dbapi_conn.closed or bool(select.select([dbapi_conn.fileno()], [], [], 0)[0])
        except Exception:  # noqa: BLE001 - no socket left: as dead as can be
            dead = True
        if dead:
            raise DisconnectionError("the server closed this pooled connection")  # the pool retries


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

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


def driver_mark(dialect_name: str) -> str:
    """The driver's positional parameter marker, for plain SQL on the hot write paths
    (sqlite3 takes `?`, psycopg `%s`)."""
    return "?" if dialect_name == "sqlite" else "%s"


@contextmanager
def driver_cursor(conn: "Connection | DriverTransaction", statement: str, params: Any = None) -> Iterator[Any]:
    """The driver's own cursor on `conn`'s connection, inside its transaction, for the hottest
    paths (appends, consumer batches), where SQLAlchemy's per-statement work is most of the cost.
    Its errors come out as SQLAlchemy's, as from `execute`: a lost connection is invalidated (the
    pool drops it) and raised as an OperationalError flagged `connection_invalidated`."""
    fairy = conn.fairy if isinstance(conn, DriverTransaction) else conn.connection
    cursor = fairy.cursor()
    with driver_errors(conn, statement, params, cursor):
        try:
            yield cursor
        finally:
            if not conn.invalidated:
                cursor.close()


@contextmanager
def driver_errors(conn: "Connection | DriverTransaction", statement: str, params: Any = None,
                  cursor: Any = None) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy's (see driver_cursor)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        fairy = conn.fairy if isinstance(conn, DriverTransaction) else conn.connection
        lost = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, dbapi.Error, connection_invalidated=lost,
                                  dialect=conn.dialect) from exc


class DriverTransaction:
    """A write transaction begun and committed by the driver on a pooled DBAPI connection, for the
    unit of work: SQLAlchemy's Connection (its events, pool and transaction bookkeeping) costs
    more than a one-event append itself. A Connection over the same DBAPI connection, inside the
    same transaction, is made on first use of `connection` (Core statements, a Session); from then
    on it owns the transaction and ends it.
    SQLite takes the write lock at BEGIN IMMEDIATE, as `_on_begin` does; psycopg begins
    implicitly at the first statement (SQLAlchemy's own begin is a no-op there)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.dialect = engine, engine.dialect
        try:
            self.fairy = engine.raw_connection()  # pre-pinged by the pool, as engine.connect()
        except self.dialect.loaded_dbapi.Error as exc:
            Connection._handle_dbapi_exception_noconnection(exc, self.dialect, engine)
            raise
        self._invalidated = False
        self._ended = False  # committed or rolled back by the driver
        self._connection: Connection | None = None
        self._transaction: Any = None
        if self.dialect.name == "sqlite":
            try:
                with driver_errors(self, "BEGIN IMMEDIATE"):
                    self.fairy.driver_connection.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.close()
                raise

    @property
    def connection(self) -> Connection:
        if self._connection is None:
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
        elif not self.invalidated:
            with driver_errors(self, "COMMIT"):
                self.fairy.commit()
            self._ended = True

    def rollback(self) -> None:
        if self._connection is not None:
            self._transaction.rollback()
        elif not self.invalidated:
            with driver_errors(self, "ROLLBACK"):
                self.fairy.rollback()
            self._ended = True

    def close(self) -> None:
        """Back to the pool, which resets the connection (rolls back) unless this transaction
        ended already: as SQLAlchemy's own Connection tells it (a tenth of a one-event append)."""
        if self._connection is not None:
            self._connection.close()
        elif not self.invalidated:
            self.fairy._close_special(transaction_reset=self._ended)


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


def migrate(engine: Engine, service: str) -> None:
    """Bring a service's database to the newest schema with its own Alembic migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["service"] = service
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

        engine = make_engine(Settings().database_url(service))
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
