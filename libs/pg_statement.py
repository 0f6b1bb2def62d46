"""One write statement on psycopg's own connection (libpq's, through psycopg's wrappers), for the
appends: when it opens the transaction, its BEGIN travels in the same round trip.

psycopg's cursor in a pipeline did the same in as many round trips, but its pipeline's Python loop
(queues of commands and results, a generator each, a cursor, its adapters) was most of a one-event
append's client CPU: about twice this. Parameters are texts (the caller's texts in the
connection's encoding, NULL as None). In someone else's transaction (`execute_write`) the statement
is sent unnamed and parsed by the server each time: a name would not survive the `DEALLOCATE ALL`
psycopg sends after a rollback of a connection it prepared statements on, which the pooled
connections do all the time, and a missing one would fail the caller's transaction. In a
transaction of its own (`execute_write_and_commit`) it runs prepared, prepared again where that
`DEALLOCATE ALL` took it. Errors come out as SQLAlchemy's, as from `driver_cursor` (`driver_error`:
a lost connection is invalidated).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

from psycopg import errors
from psycopg.generators import fetch_many, send
from psycopg.pq import ExecStatus, TransactionStatus

from libs.db import driver_connection, driver_error

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from libs.db import DriverTransaction

_IDLE = TransactionStatus.IDLE
_OK = ExecStatus.COMMAND_OK
_TUPLES_OK = ExecStatus.TUPLES_OK
_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
_ROLLBACK = b"ROLLBACK"


def execute_write(conn: "Connection | DriverTransaction", statement: bytes, values: Sequence[str | None],
                  description: str) -> int:
    """Runs `statement` (its parameters $1…, given as texts) in `conn`'s transaction, beginning it
    if it has not begun (BEGIN and the statement pipelined: one round trip); the rows it wrote."""
    driver = driver_connection(conn)
    pgconn = driver.pgconn
    params = _params(pgconn, values)
    try:
        with driver.lock:
            if pgconn.transaction_status == _IDLE:
                result = _begin_and_run(driver, pgconn, lambda: pgconn.send_query_params(statement, params))
            else:
                pgconn.send_query_params(statement, params)
                driver.wait(send(pgconn))
                results = driver.wait(fetch_many(pgconn))
                result = results[-1]
                _raise_for(result, pgconn)
    except errors.Error as exc:
        raise driver_error(conn, exc, description, values) from exc
    return result.command_tuples or 0


def execute_write_and_commit(conn: "DriverTransaction", statement: bytes, values: Sequence[str | None],
                             description: str) -> int:
    """A transaction of one write statement (a unit of work that only appended): BEGIN, the
    statement and COMMIT pipelined, one round trip where `execute_write` and a COMMIT take two;
    the rows it wrote, committed. The statement's error skips the COMMIT (the pipeline is aborted
    up to its sync) and leaves the transaction failed, for the caller's rollback.
    The statement runs prepared under a name of its own (the server parses and analyses it once a
    connection, and plans it once when a generic plan does): the whole transaction is ours, so a
    connection that lacks it (new, or after the `DEALLOCATE ALL` psycopg sends when it rolls back
    statements it prepared) rolls back, prepares it and runs the transaction again."""
    driver = conn.driver
    pgconn = driver.pgconn
    params = _params(pgconn, values)
    name = _NAMES.get(statement) or _name(statement)

    def run_prepared() -> None:
        pgconn.send_query_prepared(name, params)

    try:
        with driver.lock:
            try:
                result = _begin_and_run(driver, pgconn, run_prepared, commit=True)
            except errors.InvalidSqlStatementName:
                _run(driver, pgconn, _ROLLBACK)
                pgconn.send_prepare(name, statement)
                driver.wait(send(pgconn))
                _raise_for(driver.wait(fetch_many(pgconn))[-1], pgconn)
                result = _begin_and_run(driver, pgconn, run_prepared, commit=True)
    except errors.Error as exc:
        raise driver_error(conn, exc, description, values) from exc
    return result.command_tuples or 0


_NAMES: dict[bytes, bytes] = {}  # a statement's name, the same on every connection that prepared it


def _name(statement: bytes) -> bytes:
    with _names_lock:
        return _NAMES.setdefault(statement, b"injuryledger_write_%d" % len(_NAMES))


_names_lock = threading.Lock()


def _params(pgconn: Any, values: Sequence[str | None]) -> list[bytes | None]:
    """The texts in the connection's client encoding (as psycopg's own dumpers write them), NULL as None."""
    encoding = pgconn._encoding
    return [None if v is None else v.encode(encoding) for v in values]


def _run(driver: Any, pgconn: Any, statement: bytes) -> None:
    pgconn.send_query_params(statement, None)
    driver.wait(send(pgconn))
    _raise_for(driver.wait(fetch_many(pgconn))[-1], pgconn)


def _begin_and_run(driver: Any, pgconn: Any, send_statement: Callable[[], None], commit: bool = False) -> Any:
    """BEGIN, the statement `send_statement` sends, COMMIT if `commit`: one pipeline, one round trip."""
    pgconn.enter_pipeline_mode()
    try:
        pgconn.send_query_params(_BEGIN, None)
        send_statement()
        if commit:
            pgconn.send_query_params(_COMMIT, None)
        pgconn.pipeline_sync()
        wait = driver.wait
        wait(send(pgconn))
        begun = wait(fetch_many(pgconn))[-1]
        result = wait(fetch_many(pgconn))[-1]
        # The COMMIT's result: PIPELINE_ABORTED after the statement's error (checked first, below).
        committed = wait(fetch_many(pgconn))[-1] if commit else None
        wait(fetch_many(pgconn))  # the pipeline's sync
    except BaseException:
        try:
            pgconn.exit_pipeline_mode()
        except errors.Error:
            pass  # results still pending on a broken connection: the error raised says why
        raise
    pgconn.exit_pipeline_mode()
    _raise_for(begun, pgconn)
    _raise_for(result, pgconn)
    if committed is not None:
        _raise_for(committed, pgconn)
    return result


def _raise_for(result: Any, pgconn: Any) -> None:
    status = result.status
    if status != _OK and status != _TUPLES_OK:
        if status == ExecStatus.FATAL_ERROR:
            raise errors.error_from_result(result, encoding=pgconn._encoding)
        raise errors.InternalError(f"unexpected result {ExecStatus(status).name}")
