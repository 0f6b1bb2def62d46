"""How far a one-event SQLite append can go: ours and the peer (bench/spine_appends.py's single
cell) beside the *floor*, the SQLite work alone — our very statements (BEGIN IMMEDIATE, the INSERT
of an event row as ours writes it, COMMIT) on a bare sqlite3 connection with our pragmas, the rows
made before the clock starts, no Python of ours in between.

Why: the single cell's goal is 2× the peer. Both sides do the same SQLite work (same statements,
B-trees, pwrites and fdatasyncs, counted with strace), so ours ≤ floor means ratio ≤ peer / floor
however little Python we run: `ratio_cap` below is that bound, `our_python_us` and
`peer_python_us` what each spends above the floor (wall µs an append). The WAL's checkpoints (an
fdatasync of the log and one of the database every thousand pages) are wall time on both sides,
in the floor too.

Rounds: three; in each, floor, ours and peer in processes of their own on fresh databases, taking
turns a slice at a time (bench/spine_rounds.py's `take_turns`); median (min–max). Quick check: BENCH_SINGLE_N=500.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_dir, write_results  # noqa: E402
from bench.spine_appends import ours_appends, peer_appends, sizes, sqlite_synchronous  # noqa: E402
from bench.spine_rounds import Slices, spread, summarize, take_turns  # noqa: E402
from libs.db import make_engine  # noqa: E402
from libs.events.store import _sqlite_insert  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402

SINGLE_N = int(os.environ.get("BENCH_SINGLE_N", "2000"))


def floor_appends(path: str) -> Slices:
    """Our one-event append's SQLite statements alone, on a connection tuned as make_engine's."""
    engine = make_engine(f"sqlite:///{path}")
    core_metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    statement, optional = _sqlite_insert(None, None)  # the bench's context: no causation nor correlation
    rows = [(str(uuid.uuid4()), "spine_account", uuid.uuid4().hex, 1, "SpineDeposited", 2, "2026-01-05",
             "2026-12-02 14:00:00.123456", "bench", '{"amount":"1.00","memo":"test"}', "bench") + optional
            for _ in range(SINGLE_N)]
    yield None
    done = 0
    for n in sizes(SINGLE_N):
        for row in rows[done:done + n]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(statement, row)
            conn.commit()
        done += n
        yield "single_appends_per_s", n
    conn.close()


def main() -> None:
    import bench.spine_appends as appends

    appends.SINGLE_N, appends.BATCH_AGGREGATES = SINGLE_N, 1
    tmp = scratch_dir("spine-appends-floor")

    def peer(r: int) -> Slices:
        sqlite_synchronous("NORMAL")
        return peer_appends({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / f"peer-{r}.db")})

    runs = take_turns({"floor": lambda r: floor_appends(str(tmp / f"floor-{r}.db")),
                      "ours": lambda r: ours_appends(f"sqlite:///{tmp / f'ours-{r}.db'}"),
                      "eventsourcing": peer})
    us = {side: [1e6 / r["single_appends_per_s"] for r in rounds] for side, rounds in runs.items()}
    by_round = list(zip(us["floor"], us["ours"], us["eventsourcing"]))

    results = {"single_n": SINGLE_N, "rounds": "3; in each, the sides side by side in processes of their own taking turns a slice "
                         "at a time (bench/spine_rounds.py's take_turns); median (min–max)",
               **{side: summarize(rounds) for side, rounds in runs.items()},
               "ratio_single": spread([p / o for _f, o, p in by_round]),
               "ratio_cap": spread([p / f for f, _o, p in by_round]),
               "our_python_us": spread([o - f for f, o, _p in by_round]),
               "peer_python_us": spread([p - f for f, _o, p in by_round])}
    write_results("spine_appends_floor", results)


if __name__ == "__main__":
    main()
