"""`insert_rows` writes exactly the rows it is given, in statements of many rows on SQLite (the
rows a statement, then the rest a row at a time) and by COPY on PostgreSQL: any count of rows,
nulls kept, and a duplicate key refused as a statement a row refuses it."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.db import make_engine
from libs.events.consumer import SQLITE_ROWS_A_STATEMENT, insert_rows

metadata = MetaData()
lines = Table("insert_rows_lines", metadata, Column("key", String(16), primary_key=True),
              Column("amount", Integer, nullable=False), Column("note", String(16)))


@pytest.mark.parametrize("count", [0, 1, SQLITE_ROWS_A_STATEMENT - 1, SQLITE_ROWS_A_STATEMENT,
                                   2 * SQLITE_ROWS_A_STATEMENT + 7])
def test_the_rows_given_are_the_rows_stored(db_url: str, count: int) -> None:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    rows = [(f"k{n:06d}", n, None if n % 3 else f"n{n}") for n in range(count)]
    with Session(engine) as session, session.begin():
        insert_rows(session, lines, ("key", "amount", "note"), rows)
    with Session(engine) as session:
        assert [tuple(r) for r in session.execute(select(lines).order_by(lines.c.key))] == rows
    engine.dispose()


def test_a_duplicate_key_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    rows = [(f"k{n:06d}", n, None) for n in range(SQLITE_ROWS_A_STATEMENT + 1)]
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        insert_rows(session, lines, ("key", "amount", "note"), [*rows, rows[3]])
    with Session(engine) as session:
        assert session.execute(select(lines)).all() == []
    engine.dispose()
