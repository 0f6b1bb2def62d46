"""bench/bench_import.py, each kind's import split by thread from /proc/self/task/*/schedstat: the
request thread's CPU, its run-queue delay (waiting for a core: the machine's load) and the rest of
its wall time (blocked: IO and fsyncs, locks, the GIL). On a shared machine the wall time is mostly
run-queue delay; CPU + blocked is what the request thread's wall would be with a core of its own.
Linux only. The same environment as bench_import.py (BENCH_IMPORT_SCALE, BENCH_IMPORT_KINDS), its
results file as well; a line `SCHED <kind>: ...` a kind.

    BENCH_IMPORT_SCALE=0.05 BENCH_IMPORT_KINDS=employers,employees,claims .venv/bin/python bench/import_thread_times.py
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.bench_import as bench_import  # noqa: E402


def thread_times() -> dict[int, tuple[float, float]]:
    """(CPU seconds, run-queue seconds) of each thread of this process."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            cpu, delay, _slices = open(f"/proc/self/task/{tid}/schedstat").read().split()
        except OSError:  # a thread that ended meanwhile
            continue
        out[int(tid)] = (int(cpu) / 1e9, int(delay) / 1e9)
    return out


def timed_by_thread(import_file):  # noqa: ANN001, ANN201
    def wrapped(client, kind, path, **kwargs):  # noqa: ANN001, ANN003, ANN202
        before, start = thread_times(), time.perf_counter()
        try:
            return import_file(client, kind, path, **kwargs)
        finally:
            wall, after = time.perf_counter() - start, thread_times()
            names = {t.native_id: t.name for t in threading.enumerate()}
            rows = []
            for tid, (cpu, delay) in after.items():
                cpu0, delay0 = before.get(tid, (0.0, 0.0))
                if cpu - cpu0 > 0.05 or delay - delay0 > 0.05:
                    rows.append((names.get(tid, str(tid))[:40], round(cpu - cpu0, 2), round(delay - delay0, 2)))
            rows.sort(key=lambda r: -r[1])
            # the request thread: the app's (AnyIO's worker), the busiest
            request = max((r for r in rows if "AnyIO" in r[0]), key=lambda r: r[1], default=("?", 0.0, 0.0))
            print(f"SCHED {kind}: wall {wall:.1f} request thread cpu {request[1]} runq {request[2]} "
                  f"blocked {wall - request[1] - request[2]:.2f}; all cpu {sum(r[1] for r in rows):.1f} "
                  f"runq {sum(r[2] for r in rows):.1f}; {rows[:6]}", flush=True)
    return wrapped


if __name__ == "__main__":
    bench_import.import_file = timed_by_thread(bench_import.import_file)
    bench_import.main()
