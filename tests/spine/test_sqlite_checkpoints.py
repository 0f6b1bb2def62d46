"""The WAL checkpoints of the embedded runtime's databases, on a thread of their own
(libs/sqlite_checkpoints.py): the WAL stays bounded with the committing connections' own
autocheckpoint out of the way, and the thread stops with the runtime. SQLite only: the
distributed runtime's databases are PostgreSQL's."""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from libs.db import make_engine
from libs.runtime.embedded import EmbeddedRuntime
from libs.sqlite_checkpoints import SAFETY_NET_PAGES, WalCheckpointer, sqlite_file

ROW = "x" * 100_000  # a wide row, as a big import's event is: some 25 pages of the WAL


def wait_until(condition, seconds: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the checkpointer never caught up"
        time.sleep(0.01)


def wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_checkpointer_keeps_the_wal_bounded_without_the_committers_checkpoints(tmp_path: Path) -> None:
    # An autocheckpoint the writes never reach: only the checkpointer copies the WAL back.
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}", sqlite_wal_autocheckpoint=1_000_000)
    path = sqlite_file(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    checkpointer = WalCheckpointer([path], interval_s=0.01)
    checkpointer.start()
    try:
        sizes = []
        for round_ in range(8):
            for n in range(10):  # about 4 MiB a round: 32 MiB written in all
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO rows (body) VALUES (:b)"), {"b": ROW + str(round_ * 10 + n)})

            def all_copied() -> bool:
                frames, copied = checkpointer.last.get(path, (-1, -1))
                return frames > 0 and frames == copied

            checkpointer.last.pop(path, None)
            wait_until(all_copied)
            sizes.append(wal_bytes(path))
        # Each round's writes start the WAL over once the last round's are copied: it holds about
        # one round's, never the 32 MiB written.
        assert max(sizes) < 3 * 4 * 1024 * 1024, sizes
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*), min(length(body)) FROM rows")).one() == (80, len(ROW) + 1)
    finally:
        checkpointer.stop()
        engine.dispose()
    assert not checkpointer.running and checkpointer.failures == 0


def test_the_embedded_runtime_checkpoints_its_databases_off_the_committing_thread(runtime: EmbeddedRuntime) -> None:
    files = set(runtime.checkpointer.files)
    assert sqlite_file(runtime.log.engine) in files
    for wired in runtime.services.values():
        assert sqlite_file(wired.ctx.engine) in files
        with wired.ctx.engine.connect() as conn:  # the committers' own: the safety net only
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == SAFETY_NET_PAGES
    assert runtime.checkpointer.running
    wait_until(lambda: set(runtime.checkpointer.last) == files)


def test_the_checkpointer_stops_with_the_runtime(tmp_path: Path, migrated_data_dir: Path) -> None:
    from tests.conftest import embedded_settings, fresh_data_dir

    rt = EmbeddedRuntime(embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path / "data")))
    assert rt.checkpointer.running
    rt.close()
    assert not rt.checkpointer.running
