"""Months of entitlements on copies of one set-up database, for comparing two versions of the code
in the same minutes (issue 12).

  setup:  BENCH_BENEFICIARIES=100000 python bench/entitlements_months.py setup CODE_DIR FOLDER
  months: BENCH_BENEFICIARIES=100000 python bench/entitlements_months.py months CODE_DIR FOLDER COPY

`setup` is bench_entitlements.py's (`set_up`: the facts, and what their first materialization
through 2026-11 stores, see bench/entitlements_setup.py) into FOLDER, kept; `months` copies
FOLDER to COPY, starts the runtime on it (the code's migrations run first, not timed) and times
materialize_through for the bench's months (NOWS, then PROFILED), printing per month the wall and
CPU seconds and the bytes read and written (/proc/self/io). CODE_DIR is the tree whose code runs
(e.g. a `git archive` of the code before).
"""
import logging
import os
import shutil
import sys
import time
from pathlib import Path

command, root = sys.argv[1], Path(sys.argv[2]).resolve()
sys.path.insert(0, str(root))
os.chdir(root)
logging.disable(logging.INFO)

from bench import bench_entitlements as bench  # noqa: E402
from bench.common import TOKEN, embedded_runtime  # noqa: E402
from libs.runtime.embedded import EmbeddedRuntime  # noqa: E402
from libs.settings import Settings  # noqa: E402
from services.payments.entitlements import projection  # noqa: E402


def io() -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(":") for line in open("/proc/self/io"))}


if command == "setup":
    runtime, _ = embedded_runtime("entitlements-months", Path(sys.argv[3]))
    print(bench.set_up(runtime), flush=True)
    runtime.close()
else:
    src, dst = Path(sys.argv[3]), Path(sys.argv[4])
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    os.environ["INJURYLEDGER_AGENCY_TOKEN"] = TOKEN
    runtime = EmbeddedRuntime(Settings(data_dir=dst / "data", agency_token=TOKEN, log_json=False))
    ctx = runtime.services["payments"].ctx
    for month, now in bench.NOWS + (bench.PROFILED,):
        before, start, cpu = io(), time.perf_counter(), time.process_time()
        with ctx.session_factory() as s, s.begin():
            n = projection.materialize_through(s, bench.REGION, month, now=now)
        wall, cpu, after = time.perf_counter() - start, time.process_time() - cpu, io()
        written, read = (after["wchar"] - before["wchar"]) / 1e6, (after["rchar"] - before["rchar"]) / 1e6
        print(f"{month} lines={n} wall={wall:.2f} cpu={cpu:.2f} write_MB={written:.0f} read_MB={read:.0f} "
              f"load={os.getloadavg()[0]:.1f}", flush=True)
    runtime.close()
