"""What one test's embedded runtime costs the suite to start (tests/conftest.py `runtime`): as
before, every Alembic migration of the four services on empty files, against now, a copy of
files migrated once a session and the same start-up on it. Alternated in the same minutes,
BENCH_PAIRS pairs (default 5); CPU seconds of this process (load stretches wall time) and wall.

    .venv/bin/python bench/bench_test_runtime.py    # writes bench/results/test_runtime_paired_<branch>.json
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from libs.runtime.embedded import EmbeddedRuntime  # noqa: E402
from tests.conftest import embedded_settings, fresh_data_dir  # noqa: E402


def started(data_dir: Path) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    runtime = EmbeddedRuntime(embedded_settings(data_dir))
    runtime.app()  # the gateway's table too, as the `api` fixture has it
    out = {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}
    runtime.close()
    return out


def summary(rounds: list[dict], key: str) -> dict:
    values = [r[key] for r in rounds]
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def main() -> None:
    pairs = int(os.environ.get("BENCH_PAIRS", "5"))
    folder = Path(tempfile.mkdtemp(prefix="bench-test-runtime-"))
    try:
        template = folder / "migrated"
        EmbeddedRuntime(embedded_settings(template)).close()  # the session fixture's once
        started(folder / "warm")  # imports and first-call caches out of the first pair
        before, after = [], []
        for n in range(pairs):
            load = os.getloadavg()[0]
            before.append({"round": n + 1, "load_before": round(load, 1), **started(folder / f"fresh{n}")})
            wall, cpu = time.perf_counter(), time.process_time()
            copied = fresh_data_dir(template, folder / f"copy{n}")
            copy = {"copy_wall_s": round(time.perf_counter() - wall, 3), "copy_cpu_s": round(time.process_time() - cpu, 3)}
            run = started(copied)
            after.append({"round": n + 1, "load_before": round(load, 1), **copy,
                          "wall_s": round(run["wall_s"] + copy["copy_wall_s"], 3),
                          "cpu_s": round(run["cpu_s"] + copy["copy_cpu_s"], 3)})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    write_results(f"test_runtime_paired_{branch}", {
        "command": ".venv/bin/python bench/bench_test_runtime.py (before: a fresh runtime migrating empty "
                   "files; after: a copy of the session's migrated files, then the same start-up), alternated",
        "pairs": pairs,
        "before": before, "after": after,
        "before_cpu_s": summary(before, "cpu_s"), "after_cpu_s": summary(after, "cpu_s"),
        "before_wall_s": summary(before, "wall_s"), "after_wall_s": summary(after, "wall_s"),
        "cpu_ratio_after_to_before": round(statistics.median(a["cpu_s"] for a in after)
                                           / statistics.median(b["cpu_s"] for b in before), 3),
    })


if __name__ == "__main__":
    main()
