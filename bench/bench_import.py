"""Going live (issue 11) on the embedded runtime: a province's book imported kind by kind, with the
rows/s of each and the memory as it goes.

The book (BENCH_IMPORT_SCALE=1: the goal's size): 50,000 employers, 1,000,000 workers, 12 months of
their wages (12,000,000 rows), their open contribution periods (one per employer), 20,000 claims in
payment (a quarter of them deaths) and 10,000 dependents. Goal: all of it in ≤ 10 minutes, memory
flat. The files are written first (CSV, not timed), then each is imported through the whole ASGI
app in process by the command line's own `import_file` — chunked requests, every row checked and
recorded as events, the embedded pump projecting them everywhere before each answer.

Peer, same run, same machine: reading the same files with the csv module (the floor of touching
every row once), so the ratio says what checking and recording a row costs over reading it.

Rows a request: BENCH_IMPORT_CHUNK_ROWS (5,000), the employees BENCH_IMPORT_EMPLOYEE_CHUNK_ROWS and the
wages BENCH_IMPORT_WAGE_CHUNK_ROWS (the command line's 20,000 and 50,000 for them).

Quick check (minutes, not hours): BENCH_IMPORT_SCALE=0.001 .venv/bin/python bench/bench_import.py
Some kinds only (a local measurement, written to its own results file): BENCH_IMPORT_KINDS=employers,employees,
accounts,claims,dependents (in the import order; a kind's references must be among them: claims need employees).
The wages alone: BENCH_IMPORT_KINDS=employers,employees,wages (what their check needs).

The levy's check of the wage rows timed by its parts (BENCH_IMPORT_TIME_LEVY_CHECK=1): the CPU of
the request thread in `WagesKind.check` and in the steps it calls, as µs a wage row, in the wages
kind's results (`levy_check_us_a_row`) — what grows with the book when a step's reads do.
"""
from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from rich.console import Console  # noqa: E402

from bench.common import TOKEN, embedded_runtime, peak_rss_mib, rate, rss_mib, write_results  # noqa: E402
from injuryledger.imports_cli import CHUNK_ROWS_OF, import_file  # noqa: E402
from libs.identifiers import make_id_number, make_uscc  # noqa: E402

SCALE = float(os.environ.get("BENCH_IMPORT_SCALE", "1"))
CHUNK_ROWS = int(os.environ.get("BENCH_IMPORT_CHUNK_ROWS", "5000"))
# the wages' requests: by default the command line's own for them (CHUNK_ROWS_OF), as a go-live posts them
WAGE_CHUNK_ROWS = int(os.environ.get("BENCH_IMPORT_WAGE_CHUNK_ROWS", str(CHUNK_ROWS_OF["wages"])))
EMPLOYEE_CHUNK_ROWS = int(os.environ.get("BENCH_IMPORT_EMPLOYEE_CHUNK_ROWS", str(CHUNK_ROWS_OF["employees"])))
EMPLOYERS = max(2, int(50_000 * SCALE))
WORKERS = max(EMPLOYERS, int(1_000_000 * SCALE))
WAGE_MONTHS = 12
CLAIMS = max(4, int(20_000 * SCALE))
DEPENDENTS = max(2, int(10_000 * SCALE))
GOAL_S = 600.0
REGION = "440300"
TIME_LEVY_CHECK = os.environ.get("BENCH_IMPORT_TIME_LEVY_CHECK") == "1"
# Workers hired over this many days from 2016-02-01 (BENCH_IMPORT_HIRE_DAYS; 1, the default: all on that
# day; at most 1,000, the claims of 2019 follow their hiring). A province's workers were hired on
# thousands of days: what a chunk costs by its distinct days.
HIRE_DAYS = max(1, int(os.environ.get("BENCH_IMPORT_HIRE_DAYS", "1")))
# Every this many workers one who has left (BENCH_IMPORT_SEPARATED_EVERY; 0, the default: none),
# separated on 2023-06-30: a province's book holds some (for the employees kind: their wages
# of the months since are then refused).
SEPARATED_EVERY = int(os.environ.get("BENCH_IMPORT_SEPARATED_EVERY", "0"))
ONLY_KINDS = tuple(k for k in os.environ.get("BENCH_IMPORT_KINDS", "").split(",") if k)  # empty: the whole book
CHINA = timezone(timedelta(hours=8))


def months_back(month: str, n: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


THIS_MONTH = datetime.now(CHINA).strftime("%Y-%m")
PAID_THROUGH = months_back(THIS_MONTH, 1)


def worker_birth(i: int) -> tuple[date, int]:
    """A distinct (birth date, sequence) for each of a million workers, born 1966–2000."""
    return date(1966, 1, 1) + timedelta(days=i % 12_000), i // 12_000 + 1


def write(path: Path, header: str, rows: Iterator[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(header + "\n")
        for row in rows:
            f.write(row + "\n")
            count += 1
    return count


def book(folder: Path) -> dict[str, tuple[Path, int]]:
    """The six files, streamed to disk (a million workers never in memory)."""
    files = {}

    def employers() -> Iterator[str]:
        for e in range(EMPLOYERS):
            yield f"E{e},{make_uscc(f'91{REGION}{e:08d}')},Employer {e},C3311,{REGION},2016-01-01,"

    def employees() -> Iterator[str]:
        for w in range(WORKERS):
            born, seq = worker_birth(w)
            hired = date(2016, 2, 1) + timedelta(days=w * 7919 % HIRE_DAYS)
            yield (f"W{w},E{w % EMPLOYERS},{make_id_number(REGION, born, seq)},Worker {w},{hired.isoformat()},"
                   f"{'2023-06-30' if SEPARATED_EVERY and w % SEPARATED_EVERY == 1 else ''},"
                   f"102584000001,62220202{w:011d},Worker {w}")

    def wages() -> Iterator[str]:
        for n in range(WAGE_MONTHS, 0, -1):
            period = months_back(THIS_MONTH, n)
            for w in range(WORKERS):
                yield f"W{w},E{w % EMPLOYERS},{period},{6000 + w % 5000}.00"

    def accounts() -> Iterator[str]:
        period = months_back(THIS_MONTH, 2)
        for e in range(EMPLOYERS):
            yield f"A{e},E{e},{period},120000.00,1080.00,{(e % 3) * 360}.00,{period}-20"

    def claims() -> Iterator[str]:
        for c in range(CLAIMS):
            w = c * (WORKERS // CLAIMS)
            grade = 1 + c % 10
            died = ",2024-06-01" if c % 4 == 0 else ","
            terminated = "2020-05-01" if grade >= 5 and c % 4 != 0 else ""
            care = ("partial", "none")[c % 2]
            yield (f"C{c},W{w},E{w % EMPLOYERS},accident,2019-03-10,2019-03-20,recognized,2019-04-20,{grade},{care},"
                   f"2019-12-01,{5000 + c % 4000}.00,{terminated}{died},true,{PAID_THROUGH}")

    def dependents() -> Iterator[str]:
        deaths = [c for c in range(CLAIMS) if c % 4 == 0]
        for d in range(DEPENDENTS):
            claim = deaths[(d // 2) % len(deaths)]
            relation, born = (("spouse", date(1975, 1, 1)), ("child", date(2012, 1, 1)))[d % 2]
            born = born + timedelta(days=d // 2 % 3000)
            yield (f"D{d},C{claim},{make_id_number('110101', born, d % 997 + 1)},Dependent {d},{relation},"
                   f"{born.isoformat()},false,102584000001,62220203{d:011d},Dependent {d}")

    specs = [
        ("employers", "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step", employers()),
        ("employees", "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder",
         employees()),
        ("wages", "employee_legacy_id,employer_legacy_id,period,wage", wages()),
        ("accounts", "legacy_id,employer_legacy_id,period,payroll,contribution,paid,paid_on", accounts()),
        ("claims", "legacy_id,employee_legacy_id,employer_legacy_id,kind,occurred_on,applied_on,decision,decided_on,"
                   "grade,care_level,concluded_on,insured_wage,terminated_on,died_on,one_off_paid,paid_through",
         claims()),
        ("dependents", "legacy_id,claim_legacy_id,id_number,name,relation,born_on,orphan_or_lone_elder,bank_code,"
                       "account_no,holder", dependents()),
    ]
    for kind, header, rows in specs:
        if ONLY_KINDS and kind not in ONLY_KINDS:
            continue
        path = folder / f"{kind}.csv"
        files[kind] = (path, write(path, header, rows))
    return files


def peer_read(path: Path) -> float:
    """The floor: every row of the file read once with the csv module."""
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        for _row in csv.reader(f):
            pass
    return time.perf_counter() - start


def time_levy_check() -> dict[str, float]:
    """The levy's wage check and its steps wrapped in timers of the calling thread's CPU (the
    pump's threads are not counted); seconds by step, summed over the run."""
    from services.levy import imports

    spent: dict[str, float] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - start
        return wrapper

    imports.WagesKind.check = timed("check", imports.WagesKind.check)
    for name in ("_workers_and_jobs", "_all_good", "_imported_under_other_keys"):
        setattr(imports, name, timed(name, getattr(imports, name)))
    kept = type(imports._kept_employers)
    kept.find = timed("_kept_employers.find", kept.find)
    return spent


def main() -> None:
    levy_check = time_levy_check() if TIME_LEVY_CHECK else None
    rt, tmp = embedded_runtime("import")
    quiet = Console(file=io.StringIO())
    results: dict = {"scale": SCALE, "chunk_rows": CHUNK_ROWS, "wage_chunk_rows": WAGE_CHUNK_ROWS, "employee_chunk_rows": EMPLOYEE_CHUNK_ROWS, "only_kinds": list(ONLY_KINDS), "book": {}, "kinds": {}, "memory_mib": []}
    try:
        start = time.perf_counter()
        files = book(tmp)
        results["setup_write_files_s"] = round(time.perf_counter() - start, 1)
        results["book"] = {kind: count for kind, (_path, count) in files.items()}
        total_s = total_cpu_s = 0.0
        with TestClient(rt.app(), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for kind, (path, count) in files.items():
                before, load_before = rss_mib(), os.getloadavg()[0]
                t0, cpu0 = time.perf_counter(), time.process_time()
                chunk_rows = {"wages": WAGE_CHUNK_ROWS, "employees": EMPLOYEE_CHUNK_ROWS}.get(kind, CHUNK_ROWS)
                summary = import_file(client, kind, path, chunk_rows=chunk_rows, console=quiet)
                seconds, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
                total_s += seconds
                total_cpu_s += cpu_s
                peer_s = peer_read(path)
                results["kinds"][kind] = {
                    "rows": count, "seconds": round(seconds, 2), "rows_per_s": rate(count, seconds),
                    # this process's CPU (client, app and pump are all in it): what the machine's
                    # load does not stretch
                    "cpu_seconds": round(cpu_s, 2), "rows_per_cpu_s": rate(count, cpu_s),
                    "accepted": summary["accepted"], "rejected": summary["rejected"],
                    "first_errors": summary["errors"][:3], "peer_csv_read_rows_per_s": rate(count, peer_s),
                    "rss_mib_before": before, "rss_mib_after": rss_mib(),
                    "load_average_before": round(load_before, 1), "load_average_after": round(os.getloadavg()[0], 1)}
                if levy_check is not None and kind == "wages":
                    results["kinds"][kind]["levy_check_us_a_row"] = {
                        step: round(seconds * 1e6 / count, 2) for step, seconds in levy_check.items()}
                results["memory_mib"].append(rss_mib())
                print(f"{kind:>10}: {count:>10,} rows in {seconds:8.1f} s = {rate(count, seconds):>8,} rows/s "
                      f"(cpu {cpu_s:.1f} s; rejected {summary['rejected']:,}); rss {rss_mib()} MiB; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        results["total_s"] = round(total_s, 1)
        results["total_cpu_s"] = round(total_cpu_s, 1)
        results["load_average"] = [round(x, 1) for x in os.getloadavg()]
        results["peak_rss_mib"] = peak_rss_mib()
        projected = total_s / SCALE if SCALE else None
        results["goal"] = {"province_in_s": GOAL_S, "projected_province_s": round(projected, 1) if projected else None,
                           "projected_province_cpu_s": round(total_cpu_s / SCALE, 1) if SCALE else None,
                           "met": bool(projected is not None and projected <= GOAL_S and SCALE >= 1 and not ONLY_KINDS)}
        name = "import" if SCALE >= 1 else f"import_scale_{SCALE:g}".replace(".", "_")
        if ONLY_KINDS:
            name += "_only_" + "_".join(ONLY_KINDS)
        write_results(name, results)
    finally:
        rt.close()


if __name__ == "__main__":
    main()
