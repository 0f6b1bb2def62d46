"""Where a one-event SQLite append's wall time goes, ours and the peer's (bench/spine_appends.py's
single cell): each side's loop of one-event appends split by the kernel's own accounting of the
appending thread (/proc/thread-self/schedstat) into time on a CPU, time runnable but waiting for one
(the run queue: the machine's load, not the code) and time blocked (the rest: the WAL checkpoint's
fdatasyncs, locks); its user and system CPU (getrusage, whose split is sampled, the sum exact); and
the process's CPU (every thread). Per append, in µs.

Why: on this shared machine the bench's wall ratios move with the load far more than with the code
(the run queue's wait is most of the wall at a load of 4 on 2 cores); on-CPU plus blocked is the
wall the same code would take alone, and its ratio the one the goal's cell tends to on a quiet
machine. Rounds: ours and the peer alternate, each in a process of its own on a fresh database
(bench/spine_rounds.py), BENCH_WALL_ROUNDS (5); median (min–max). BENCH_SINGLE_N (2000) appends
a round, as the bench's single cell.
"""
from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_dir, write_results  # noqa: E402
from bench.spine_appends import Bank, PeerAccount, sqlite_synchronous  # noqa: E402
from bench.spine_rounds import alternate, spread  # noqa: E402
from libs.db import make_engine, session_factory  # noqa: E402
from libs.events.store import Context  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402
from libs.events.uow import UnitOfWork  # noqa: E402
from tests.spine.support import Account  # noqa: E402

SINGLE_N = int(os.environ.get("BENCH_SINGLE_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_WALL_ROUNDS", "5"))
WARM = 50  # appends before the clock: connections, statements, first pages


def _thread_clock() -> tuple[int, int, int, float, float, float]:
    """Now (ns), this thread's ns on a CPU and in the run queue, its user and system seconds, and the
    process's CPU seconds."""
    with open("/proc/thread-self/schedstat") as f:
        on_cpu, queued, _slices = (int(x) for x in f.read().split())
    me, process = resource.getrusage(resource.RUSAGE_THREAD), resource.getrusage(resource.RUSAGE_SELF)
    return (time.perf_counter_ns(), on_cpu, queued, me.ru_utime, me.ru_stime,
            process.ru_utime + process.ru_stime)


def _split(append: Callable[[], None]) -> dict:
    for _ in range(WARM):
        append()
    a = _thread_clock()
    for _ in range(SINGLE_N):
        append()
    b = _thread_clock()
    us = [(y - x) / SINGLE_N / 1e3 for x, y in zip(a[:3], b[:3])] + [(y - x) / SINGLE_N * 1e6 for x, y in zip(a[3:], b[3:])]
    wall, on_cpu, queued, user, system, process = us
    return {"wall_us": round(wall, 1), "on_cpu_us": round(on_cpu, 1), "run_queue_us": round(queued, 1),
            "blocked_us": round(wall - on_cpu - queued, 1), "user_us": round(user, 1), "sys_us": round(system, 1),
            "process_cpu_us": round(process, 1), "alone_us": round(wall - queued, 1)}


def ours(path: Path) -> dict:
    engine = make_engine(f"sqlite:///{path}")
    core_metadata.create_all(engine)
    sessions, ctx = session_factory(engine), Context(actor="bench")

    def append() -> None:
        a = Account(uuid.uuid4().hex)
        a.deposit(Decimal("1.00"))
        with UnitOfWork(sessions, "bench", ctx) as u:
            u.save(a)

    try:
        return _split(append)
    finally:
        engine.dispose()


def peer(path: Path) -> dict:
    sqlite_synchronous("NORMAL")
    app = Bank(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    try:
        return _split(lambda: app.save(PeerAccount()))
    finally:
        app.close()


def main() -> None:
    tmp = scratch_dir("spine-appends-wall")
    runs = alternate({"ours": lambda r: ours(tmp / f"ours-{r}.db"), "eventsourcing": lambda r: peer(tmp / f"peer-{r}.db")},
                     ROUNDS)
    keys = [k for k in runs["ours"][0] if k.endswith("_us")]
    results: dict = {"single_n": SINGLE_N, "rounds": f"{ROUNDS}, alternating, each side in its own process; median (min–max)",
                     **{side: {k: spread([r[k] for r in rounds]) for k in keys} for side, rounds in runs.items()}}
    by_round = list(zip(runs["ours"], runs["eventsourcing"]))
    results["ratio_wall"] = spread([p["wall_us"] / o["wall_us"] for o, p in by_round])
    results["ratio_alone"] = spread([p["alone_us"] / o["alone_us"] for o, p in by_round])
    results["ratio_process_cpu"] = spread([p["process_cpu_us"] / o["process_cpu_us"] for o, p in by_round])
    write_results("spine_appends_wall", results)


if __name__ == "__main__":
    main()
