"""A transaction that defers its checkpoint (libs.db.defer_sqlite_checkpoint: a payment run's)
commits without copying its log into the database; a thread of its own does that after the
connection is back in the pool, at the lowest priority, and the connection checkpoints on its
own again."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from libs import db

PAGES = 2_000  # rows of a page each: past SQLite's automatic checkpoint (1,000 pages)


def _write(session: Session, table: str) -> None:
    session.execute(text(f"CREATE TABLE {table} (v BLOB)"))
    session.execute(text(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PAGES}) "
                         f"INSERT INTO {table} (v) SELECT zeroblob(4000) FROM n"))


def test_the_commit_leaves_the_checkpoint_to_a_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.db"
    engine = db.make_engine(f"sqlite:///{path}")
    go, done = threading.Event(), threading.Event()
    checkpoint, nice = db._checkpoint, []

    def held(e) -> None:  # noqa: ANN001
        go.wait(30)
        checkpoint(e)
        nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        done.set()

    monkeypatch.setattr(db, "_checkpoint", held)
    try:
        with Session(engine) as session:  # not deferred: the commit checkpoints (SQLite's own)
            _write(session, "a")
            session.commit()
        after_a = os.path.getsize(path)
        assert after_a >= PAGES * 4000
        assert not done.is_set()

        with Session(engine) as session:
            db.defer_sqlite_checkpoint(session)
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
            _write(session, "b")
            session.commit()
        assert os.path.getsize(path) < after_a + PAGES * 4000 // 2  # b's pages still only in the log
        with engine.connect() as conn:  # the same pooled connection: its own setting again
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert conn.exec_driver_sql("SELECT count(*) FROM b").scalar() == PAGES  # read from the log
        go.set()
        assert done.wait(30)
        assert os.path.getsize(path) >= after_a + PAGES * 4000  # the thread copied them in
        assert nice == [19]  # at the lowest priority: it yields a core to the requests
    finally:
        go.set()
        engine.dispose()


def test_the_thread_never_makes_a_database(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gone.db'}")  # a test's database, removed meanwhile
    db._checkpoint(engine)
    assert not (tmp_path / "gone.db").exists()
    engine.dispose()
