"""bench/bench_import.py with what each kind cost the process in CPU (user and system apart) and
in I/O (/proc/self/io deltas: rchar, write_bytes, syscalls), a row at a time: what a paired run of
the import measures when the question is how many pages a row dirties.

    .venv/bin/python bench/bench_import_io.py CODE_DIR OUT.json

CODE_DIR is the tree whose code runs (this one, or a `git archive` of the code before with a
symlinked .venv); the bench's own settings (BENCH_IMPORT_SCALE, BENCH_IMPORT_KINDS, …) apply.
The bench's results file goes to CODE_DIR's bench/results as usual; OUT.json gets the per-kind
figures. Linux only (/proc/self/io).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

code_dir, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
sys.path.insert(0, str(code_dir))

from bench import bench_import  # noqa: E402


def io_counters() -> dict[str, int]:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


figures: dict[str, dict] = {}
import_file = bench_import.import_file


def measured(client, kind, path, **kwargs):  # noqa: ANN001, ANN003, ANN201 - import_file's own signature
    before, times, start = io_counters(), os.times(), time.perf_counter()
    summary = import_file(client, kind, path, **kwargs)
    wall, after, spent = time.perf_counter() - start, io_counters(), os.times()
    rows = max(1, summary["accepted"] + summary["rejected"])
    user, system = spent.user - times.user, spent.system - times.system
    figures[kind] = {
        "rows": rows, "wall_s": round(wall, 2), "cpu_s": round(user + system, 2), "user_s": round(user, 2),
        "sys_s": round(system, 2), "cpu_us_a_row": round((user + system) * 1e6 / rows, 1),
        "rchar_kb_a_row": round((after["rchar"] - before["rchar"]) / 1024 / rows, 2),
        "write_bytes_kb_a_row": round((after["write_bytes"] - before["write_bytes"]) / 1024 / rows, 2),
        "syscr_a_row": round((after["syscr"] - before["syscr"]) / rows, 2),
        "syscw_a_row": round((after["syscw"] - before["syscw"]) / rows, 2),
        "load_average_after": round(os.getloadavg()[0], 1)}
    print(f"io {kind}: {json.dumps(figures[kind])}", flush=True)
    return summary


bench_import.import_file = measured
bench_import.main()
out.write_text(json.dumps({"code_dir": str(code_dir), "scale": bench_import.SCALE,
                           "kinds": list(bench_import.ONLY_KINDS), "figures": figures}, indent=1) + "\n")
