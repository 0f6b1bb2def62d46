"""SQLite WAL checkpoints in a thread of their own (the embedded runtime's databases).

By default SQLite checkpoints in the committing connection: the commit that takes the WAL past
1,000 pages copies them into the database file and syncs both (with `synchronous=NORMAL` the only
syncs there are), on the request thread, with the write lock released but the caller waiting. Here
a thread runs PASSIVE checkpoints of each file every `interval_s`: they never take the write lock
and never wait for a reader, and sqlite3 releases the GIL while they copy and sync, so they run on
the other core while the request thread goes on.

Bounded: the committing connections keep an autocheckpoint of their own, higher
(`SAFETY_NET_PAGES`), which does the work on the committing thread as before only if this thread
falls behind or is stopped; the WAL is never longer than that and one transaction. A writer
starts the WAL file again from its beginning once a checkpoint has copied all of it, so its file
stays that size at most as well.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Iterable

from sqlalchemy import Engine

log = logging.getLogger(__name__)

# The committing connections' own autocheckpoint while a checkpointer runs (pages; 4 KiB each):
# 16 times SQLite's 1,000, a WAL of 64 MiB at most before the committing thread checkpoints itself.
SAFETY_NET_PAGES = 16_000
# A second between checkpoints: a page written again and again (an index's root, the last leaf)
# is copied once a second, not once a commit, and the thread wants the GIL a few times a second.
INTERVAL_S = 1.0


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None: PostgreSQL, or SQLite in memory)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database)


class WalCheckpointer:
    """PASSIVE checkpoints of some SQLite files, every `interval_s`, on a thread of its own, each
    file on a connection of its own (`start`; `stop` joins the thread and closes them)."""

    def __init__(self, files: Iterable[Path], interval_s: float = INTERVAL_S) -> None:
        self.files = list(dict.fromkeys(files))
        self.interval_s = interval_s
        # Each file's last PASSIVE checkpoint: (frames in the WAL, frames copied into the database);
        # all of them copied, the next write transaction starts the WAL over from its beginning.
        self.last: dict[Path, tuple[int, int]] = {}
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        assert self._thread is None, "started already"
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The thread stopped (a checkpoint that is running finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        connections: dict[Path, sqlite3.Connection] = {}
        try:
            while not self._stop.wait(self.interval_s):
                for path in self.files:
                    try:
                        conn = connections.get(path)
                        if conn is None:
                            # autocommit; a busy database (a RESTART elsewhere) is passed by, not waited for
                            conn = connections[path] = sqlite3.connect(path, isolation_level=None,
                                                                       check_same_thread=False, timeout=0)
                        self.last[path] = checkpoint(conn)
                    except sqlite3.Error:  # never fatal: the committing connections' own checkpoints remain
                        self.failures += 1
                        log.warning("checkpoint of %s failed", path, exc_info=True)
        finally:
            for conn in connections.values():
                conn.close()


def checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """A PASSIVE checkpoint of `conn`'s database: the frames in its WAL, and how many of them are
    in the database file now."""
    _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, copied
