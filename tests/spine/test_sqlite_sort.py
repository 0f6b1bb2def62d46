"""libs.db.sqlite_sort: the statements inside sort in small runs with a helper thread (SQLite's
sorter: a run as large as the main page cache), and the connection has its own page cache and
threads again after, whatever happened inside; a sort that spills into many runs still gives
every row in order."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from libs import db

ROWS = 20_000  # ~4 MB of rows: several 1 MiB runs merged


def _settings(session: Session) -> tuple[int, int]:
    return (session.execute(text("PRAGMA cache_size")).scalar(), session.execute(text("PRAGMA threads")).scalar())


def test_small_runs_inside_and_the_connection_s_own_settings_after(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with Session(engine) as session:
            own = _settings(session)
            assert own == (-db.SQLITE_CACHE_MIB * 1024, 0)
            session.execute(text("CREATE TABLE t (k TEXT, v BLOB)"))
            session.execute(text(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) "
                                 "INSERT INTO t SELECT printf('%08d', (i * 7919) % 20011), randomblob(200) FROM n"))
            with db.sqlite_sort(session, run_kib=1024, helper_threads=1):
                assert _settings(session) == (-1024, 1)
                keys = session.execute(text("SELECT k FROM t ORDER BY k, v")).scalars().all()
            assert keys == sorted(keys) and len(keys) == ROWS
            assert _settings(session) == own
            with pytest.raises(RuntimeError), db.sqlite_sort(session):
                raise RuntimeError("a statement failed")
            assert _settings(session) == own
    finally:
        engine.dispose()
