"""A session that discards its SQLite connection (libs.db.discard_sqlite_connection: a payment
run, whose temporary tables hold a copy of its lines) has it closed when it goes back to the pool:
its temporary tables go with it, unread, and the pool opens a new connection for the next caller.
A connection not discarded stays pooled, its temporary tables with it."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from libs import db


def _temp_tables(session: Session) -> list[str]:
    return list(session.execute(text("SELECT name FROM temp.sqlite_master WHERE type = 'table'")).scalars())


def test_a_discarded_connection_is_closed_with_its_temporary_tables(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with Session(engine) as session:
            session.execute(text("CREATE TABLE kept (v INTEGER)"))
            session.execute(text("CREATE TEMPORARY TABLE scratch (v INTEGER)"))
            session.execute(text("INSERT INTO kept VALUES (1)"))
            session.commit()
            pooled = session.connection().connection.dbapi_connection
        with Session(engine) as session:  # not discarded: the same connection, its temporary table too
            assert session.connection().connection.dbapi_connection is pooled
            assert _temp_tables(session) == ["scratch"]
            db.discard_sqlite_connection(session)
            session.execute(text("INSERT INTO kept VALUES (2)"))
            session.commit()  # what the transaction wrote is committed as ever
        with Session(engine) as session:
            assert session.connection().connection.dbapi_connection is not pooled
            assert _temp_tables(session) == []
            assert session.execute(text("SELECT sum(v) FROM kept")).scalar() == 3
            session.execute(text("CREATE TEMPORARY TABLE scratch (v INTEGER)"))
            session.commit()
            fresh = session.connection().connection.dbapi_connection
        with Session(engine) as session:  # the new connection is pooled as any other
            assert session.connection().connection.dbapi_connection is fresh
            assert _temp_tables(session) == ["scratch"]
    finally:
        engine.dispose()
