"""Database engines and migrations: one code path for SQLite (embedded) and PostgreSQL."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "injuryledger_write"  # execution option: this transaction will write


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        if engine.url.database and engine.url.database != ":memory:":  # a file: its folder may be new
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        _tune_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


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
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION, False) else "BEGIN"
        with driver_cursor(conn, statement) as cursor:
            cursor.execute(statement)


def driver_mark(dialect_name: str) -> str:
    """The driver's positional parameter marker, for plain SQL on the hot write paths
    (sqlite3 takes `?`, psycopg `%s`)."""
    return "?" if dialect_name == "sqlite" else "%s"


@contextmanager
def driver_cursor(conn: Connection, statement: str, params: Any = None) -> Iterator[Any]:
    """The driver's own cursor on `conn`'s connection, inside its transaction, for the hottest
    paths (appends, consumer batches), where SQLAlchemy's per-statement work is most of the cost.
    Its errors come out as SQLAlchemy's, as from `execute`: a lost connection is invalidated (the
    pool drops it) and raised as an OperationalError flagged `connection_invalidated`."""
    dbapi = conn.dialect.loaded_dbapi
    fairy = conn.connection
    cursor = fairy.cursor()
    try:
        yield cursor
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, dbapi.Error, connection_invalidated=lost,
                                  dialect=conn.dialect) from exc
    finally:
        if not conn.invalidated:
            cursor.close()


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
