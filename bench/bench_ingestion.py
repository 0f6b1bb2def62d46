"""Wage-report ingestion (issues 3 and 12) on the embedded runtime: lines/s of the bulk route
POST /v1/wage-reports/bulk, and the latency of an employer's account statement with ten years of
history.

1. A month for BENCH_EMPLOYERS employers × BENCH_WORKERS_PER_EMPLOYER workers (goal: 10,000 ×
   100 = 1,000,000 lines in ≤ 60 s, memory flat), three times (three months, each the first
   report of every employer): median, min, max. Setup (not timed, reported apart): the levy's
   projection of enrollment (`levy_employers`, `levy_employments`) is filled in bulk with the
   rows its projector writes for EmployerEnrolled / EmployeeEnrolled — the only facts a wage
   report reads. Timed: BENCH_REPORTS_PER_REQUEST reports per request POSTed through the whole
   ASGI app in process (Starlette's TestClient: middleware, auth, the route, services/levy/bulk.py
   — the ordinary report's checks, assessment, event, outbox row, read models and books — and
   the embedded pump that relays every WageReported event and runs every consumer, the claims
   service's wages projection among them, before the response returns).
   Peer, same run, same machine: the floor — `json.loads` of the same reports, the wages parsed
   to integer fen with Decimal, and the same per-worker rows inserted into an SQLite table shaped
   like `wage_history` (WITHOUT ROWID, its primary key its only index; same pragmas as ours: WAL,
   synchronous=NORMAL) with plain `executemany`, one transaction per report.
   Each run reports wall seconds, the process's CPU seconds (both threads: the client's and the
   app's) and CPU µs per line, and the 1-minute load average at its start and end: the machine
   is shared, and wall time there is mostly the others' load.
   For reference, the ordinary route POST /v1/wage-reports (one report a request) on
   BENCH_ORDINARY_EMPLOYERS employers of a fourth month.
2. A CSV of BENCH_CSV_EMPLOYERS × workers lines (100,000) to the bulk route: the Python memory
   traced (tracemalloc) while it is handled, against the body's size and against the same CSV
   parsed whole into rows — it streams through, a batch of reports at a time.
3. GET /v1/employers/{id}/account?on= for an employer with BENCH_HISTORY_MONTHS monthly reports
   and as many payments (all made through the API), p50/p99 over BENCH_CALLS calls, against the
   peer GET /v1/employers/{id} of the same employer (the enrollment service's row), interleaved.

4. The distributed runtime (when Kafka is there, as `make bench` makes sure): BENCH_DISTRIBUTED_RUNS
   months (3) of BENCH_DISTRIBUTED_EMPLOYERS employers (all) one after another in one cluster of
   PostgreSQL per service, Kafka and the services as processes, each until every projection has
   caught up (goal: 1,000,000 lines in ≤ 120 s); see `distributed`.
BENCH_INGESTION_PARTS=distributed runs part 4 alone (results in ingestion_distributed.json).

Quick check: BENCH_EMPLOYERS=200 BENCH_CSV_EMPLOYERS=100 BENCH_HISTORY_MONTHS=24 .venv/bin/python bench/bench_ingestion.py
"""
from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bench.common import TOKEN, embedded_runtime, peak_rss_mib, rate, rss_mib, timer, write_results  # noqa: E402
from libs.identifiers import make_id_number, make_uscc  # noqa: E402
from libs.policy import load_national_default  # noqa: E402
from libs.runtime.embedded import EmbeddedRuntime  # noqa: E402
from services.levy.tables import levy_employers, levy_employments, wage_history, wage_reports  # noqa: E402

EMPLOYERS = int(os.environ.get("BENCH_EMPLOYERS", "10000"))
WORKERS = int(os.environ.get("BENCH_WORKERS_PER_EMPLOYER", "100"))
HISTORY_MONTHS = int(os.environ.get("BENCH_HISTORY_MONTHS", "120"))
CALLS = int(os.environ.get("BENCH_CALLS", "50"))
PROFILE_REPORTS = int(os.environ.get("BENCH_PROFILE_REPORTS", "200"))
PER_REQUEST = int(os.environ.get("BENCH_REPORTS_PER_REQUEST", "100"))
ORDINARY_EMPLOYERS = int(os.environ.get("BENCH_ORDINARY_EMPLOYERS", "500"))
CSV_EMPLOYERS = int(os.environ.get("BENCH_CSV_EMPLOYERS", "1000"))
RUNS = (("2026-07", "2026-08-05"), ("2026-08", "2026-09-05"), ("2026-09", "2026-10-05"))
ORDINARY_MONTH, CSV_MONTH = ("2026-10", "2026-11-05"), ("2026-11", "2026-11-28")
DISTRIBUTED_EMPLOYERS = int(os.environ.get("BENCH_DISTRIBUTED_EMPLOYERS", str(EMPLOYERS)))
DISTRIBUTED_RUNS = int(os.environ.get("BENCH_DISTRIBUTED_RUNS", "3"))  # months, one after another, in one cluster
DISTRIBUTED_GOAL_S = 120.0
PARTS = set(os.environ.get("BENCH_INGESTION_PARTS", "embedded,distributed").split(","))
GOAL_S = 60.0
REGION = "440300"
RISK_CLASS = 4
ENROLLED_ON = date(2026, 1, 1)
PERIOD, REPORTED_ON = "2026-10", "2026-11-05"
SETUP_CHUNK = 50_000


def employer_id(e: int) -> str:
    return f"er_bench{e:08d}"


def employee_id(e: int, w: int) -> str:
    return f"ee_bench{e * WORKERS + w:08d}"


def id_numbers() -> list[list[str]]:
    """Each employer's workers' id numbers: valid GB 11643 numbers, unique."""
    return [[make_id_number(REGION, date(1970, 1, 1) + timedelta(days=n // 1000), n % 1000)
             for n in range(e * WORKERS, (e + 1) * WORKERS)] for e in range(EMPLOYERS)]


def wage_text(e: int, w: int) -> str:
    fen = 300_000 + (e * 7_919 + w * 104_729) % 1_500_000  # 3,000.00 .. 17,999.99 yuan, integer fen
    return f"{fen // 100}.{fen % 100:02d}"


def report(e: int, ids: list[str], period: str = PERIOD, reported_on: str = REPORTED_ON) -> dict:
    return {"employer_id": employer_id(e), "period": period, "reported_on": reported_on,
            "lines": [{"id_number": i, "wage": wage_text(e, w)} for w, i in enumerate(ids)]}


def body(e: int, ids: list[str], period: str = PERIOD, reported_on: str = REPORTED_ON) -> bytes:
    return json.dumps(report(e, ids, period, reported_on)).encode()


def bulk_body(first: int, ids: list[list[str]], period: str, reported_on: str) -> bytes:
    last = min(EMPLOYERS, first + PER_REQUEST)
    return json.dumps({"reports": [report(e, ids[e], period, reported_on) for e in range(first, last)]}).encode()


def setup_enrolled(runtime: EmbeddedRuntime) -> tuple[float, list[list[str]]]:
    """The levy's projection of enrollment, in bulk: the rows LevyEnrollmentProjection writes."""
    base_rate = str(load_national_default().base_rate(RISK_CLASS))
    with timer() as t:
        ids = id_numbers()
        engine = runtime.services["levy"].ctx.engine
        with engine.begin() as conn:
            conn.execute(levy_employers.insert(), [
                {"employer_id": employer_id(e), "region": REGION, "risk_class": RISK_CLASS, "base_rate": base_rate,
                 "status": "active", "enrolled_on": ENROLLED_ON, "as_of": ENROLLED_ON} for e in range(EMPLOYERS)])
        rows = []
        for e in range(EMPLOYERS):
            rows.extend((employee_id(e, w), employer_id(e), ENROLLED_ON.isoformat(), id_number)
                        for w, id_number in enumerate(ids[e]))
            if len(rows) >= SETUP_CHUNK or e == EMPLOYERS - 1:
                with engine.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO levy_employments (employee_id, employer_id, hired_on, "
                                         "id_number, separated_on) VALUES (?, ?, ?, ?, NULL)", rows)
                rows = []
    return t["seconds"], ids


def ingest_ours(api: TestClient, ids: list[list[str]], period: str, reported_on: str) -> dict:
    """One month of every employer through the bulk route; the bodies are built outside the clock."""
    samples, elapsed, spent, cpu = {}, {}, 0.0, 0.0
    load_at_start = round(os.getloadavg()[0], 2)
    marks = {max(1, EMPLOYERS // 10): "10%", max(1, EMPLOYERS // 2): "50%", EMPLOYERS: "100%"}
    for first in range(0, EMPLOYERS, PER_REQUEST):
        payload = bulk_body(first, ids, period, reported_on)
        start, cpu_start = time.perf_counter(), time.process_time()
        r = api.post("/v1/wage-reports/bulk", content=payload, headers={"Content-Type": "application/json"})
        spent += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        assert r.status_code == 201 and not r.json()["refused"], r.text[:500]
        done = min(EMPLOYERS, first + PER_REQUEST)
        for mark in [m for m in marks if first < m <= done]:
            samples[marks[mark]] = rss_mib()
            elapsed[marks[mark]] = round(spent, 2)
    return {"seconds": round(spent, 3), "cpu_seconds": round(cpu, 2),
            "cpu_us_per_line": round(cpu * 1e6 / (EMPLOYERS * WORKERS), 1), "rss_mib_at": samples,
            "seconds_at": elapsed, "load_average_1m_at_start": load_at_start,
            "load_average_1m_at_end": round(os.getloadavg()[0], 2)}  # a shared machine: how loaded it was


def ingest_ordinary(api: TestClient, ids: list[list[str]]) -> dict:
    n = min(ORDINARY_EMPLOYERS, EMPLOYERS)
    spent = 0.0
    for e in range(n):
        payload = body(e, ids[e], *ORDINARY_MONTH)
        start = time.perf_counter()
        r = api.post("/v1/wage-reports", content=payload, headers={"Content-Type": "application/json"})
        spent += time.perf_counter() - start
        assert r.status_code == 201, r.text
    return {"reports": n, "lines": n * WORKERS, "seconds": round(spent, 3), "lines_per_s": rate(n * WORKERS, spent)}


def csv_streaming(api: TestClient, ids: list[list[str]]) -> dict:
    """The Python memory a 100,000-line CSV takes while the bulk route handles it, against its
    size and against the same file read whole into rows."""
    import csv
    import io
    import tracemalloc

    n = min(CSV_EMPLOYERS, EMPLOYERS)
    out = io.StringIO()
    out.write("employer_id,period,reported_on,id_number,wage\n")
    for e in range(n):
        for w, i in enumerate(ids[e]):
            out.write(f"{employer_id(e)},{CSV_MONTH[0]},{CSV_MONTH[1]},{i},{wage_text(e, w)}\n")
    payload = out.getvalue().encode()
    del out
    tracemalloc.start()
    whole = list(csv.reader(io.StringIO(payload.decode())))
    _, whole_peak = tracemalloc.get_traced_memory()
    del whole
    tracemalloc.stop()
    tracemalloc.start()
    start = time.perf_counter()
    r = api.post("/v1/wage-reports/bulk", content=payload, headers={"Content-Type": "text/csv"})
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.status_code == 201 and r.json()["lines"] == n * WORKERS and not r.json()["refused"], r.text[:500]
    mib = lambda b: round(b / 2**20, 1)  # noqa: E731
    return {"lines": n * WORKERS, "body_mib": mib(len(payload)), "traced_peak_mib": mib(peak),
            "peer_read_whole_into_rows_mib": mib(whole_peak), "seconds_under_tracemalloc": round(seconds, 2),
            "how": "tracemalloc peak while the request is handled (the body itself included: the gateway's body "
                   "limit reads it whole), against csv.reader's rows of the same file held in a list"}


def ingest_floor(path: Path, ids: list[list[str]], period: str = PERIOD) -> dict:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE wage_history (report_id TEXT, employee_id TEXT, period TEXT, employer_id TEXT, "
               "wage_fen INTEGER NOT NULL, PRIMARY KEY (report_id, employee_id)) WITHOUT ROWID")
    samples, spent, cpu = {}, 0.0, 0.0
    load_at_start = round(os.getloadavg()[0], 2)
    marks = {max(1, EMPLOYERS // 10): "10%", max(1, EMPLOYERS // 2): "50%", EMPLOYERS: "100%"}
    hundred = Decimal(100)
    for e in range(EMPLOYERS):
        payload = body(e, ids[e], period)
        start, cpu_start = time.perf_counter(), time.process_time()
        doc = json.loads(payload)
        report_id, period, eid = f"wr_{e:016d}", doc["period"], doc["employer_id"]
        rows = [(report_id, line["id_number"], period, eid, int(Decimal(line["wage"]) * hundred))
                for line in doc["lines"]]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO wage_history VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        spent += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        if e + 1 in marks:
            samples[marks[e + 1]] = rss_mib()
    count = db.execute("SELECT count(*) FROM wage_history").fetchone()[0]
    db.close()
    assert count == EMPLOYERS * WORKERS
    return {"seconds": round(spent, 3), "cpu_seconds": round(cpu, 2),
            "cpu_us_per_line": round(cpu * 1e6 / (EMPLOYERS * WORKERS), 1), "rss_mib_at": samples,
            "load_average_1m_at_start": load_at_start, "load_average_1m_at_end": round(os.getloadavg()[0], 2)}


def flat(samples: dict[str, int]) -> bool:
    """Flat: RSS grew by less than 64 MiB (or 25%) from 10% to 100% of the work."""
    a, b = samples.get("10%", 0), samples.get("100%", 0)
    return b - a <= max(64, a // 4)


def profile_bulk(runtime: EmbeddedRuntime, ids: list[list[str]]) -> list[str]:
    """The bulk path the route calls (services/levy/bulk.report_many, with the embedded pump
    after each batch's commit), under pyinstrument, for PROFILE_REPORTS employers of the CSV's
    month not in the CSV."""
    from pyinstrument import Profiler

    from services.levy import bulk

    ctx = runtime.services["levy"].ctx
    first = min(CSV_EMPLOYERS, EMPLOYERS)
    last = min(EMPLOYERS, first + PROFILE_REPORTS)
    reports = [bulk.BulkReport(k, employer_id(e), CSV_MONTH[0], date.fromisoformat(CSV_MONTH[1]),
                               [{"id_number": i, "wage": wage_text(e, w)} for w, i in enumerate(ids[e])])
               for k, e in enumerate(range(first, last))]
    profiler = Profiler(interval=0.001)
    profiler.start()
    bulk.report_many(ctx, "bench", reports)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return [line.rstrip() for line in text.splitlines() if line.strip()][:60]


# ---- the account statement of a long-lived employer --------------------------------------

def months(first: date, n: int) -> list[date]:
    out, y, m = [], first.year, first.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def long_history(api: TestClient) -> dict:
    last_month = date(2026, 10, 1)
    start = last_month.year * 12 + last_month.month - 1 - (HISTORY_MONTHS - 1)
    periods = months(date(start // 12, start % 12 + 1, 1), HISTORY_MONTHS)
    enrolled_on = periods[0]
    with timer() as setup:
        r = api.post("/v1/employers", json={"uscc": make_uscc("9144030000000001"), "name": "深圳十年制造有限公司",
                                            "industry_code": "C3311", "region": REGION,
                                            "enrolled_on": enrolled_on.isoformat()})
        assert r.status_code == 201, r.text
        eid = r.json()["employer_id"]
        ids = []
        for k in range(3):
            id_number = make_id_number(REGION, date(1985, 5, 1 + k), 11 + k)
            r = api.post(f"/v1/employers/{eid}/employees",
                         json={"id_number": id_number, "name": "张三", "hired_on": enrolled_on.isoformat()})
            assert r.status_code == 201, r.text
            ids.append(id_number)
        for i, month in enumerate(periods):
            nxt = months(month, 2)[1]
            r = api.post("/v1/wage-reports", json={
                "employer_id": eid, "period": month.strftime("%Y-%m"), "reported_on": nxt.replace(day=5).isoformat(),
                "lines": [{"id_number": x, "wage": f"{6000 + 100 * k + i}.{(7 * i) % 100:02d}"}
                          for k, x in enumerate(ids)]})
            assert r.status_code == 201, r.text
            due = r.json()["contribution_due"]  # paid on the 20th, after the due day: late fees too
            r = api.post("/v1/contribution-payments", json={"employer_id": eid, "amount": due,
                                                            "paid_on": nxt.replace(day=20).isoformat()})
            assert r.status_code == 201, r.text
    on = "2026-11-28"
    account_ms, employer_ms = [], []
    for _ in range(CALLS):
        start = time.perf_counter()
        r = api.get(f"/v1/employers/{eid}/account", params={"on": on})
        account_ms.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200 and len(r.json()["periods"]) == len(periods), r.text[:300]
        start = time.perf_counter()
        r = api.get(f"/v1/employers/{eid}")
        employer_ms.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text
    p = lambda xs, q: round(statistics.quantiles(xs, n=100, method="inclusive")[q - 1], 2)  # noqa: E731
    return {"reports": len(periods), "payments": len(periods), "calls": CALLS, "setup_seconds": round(setup["seconds"], 2),
            "account_ms": {"p50": p(account_ms, 50), "p99": p(account_ms, 99)},
            "peer_get_employer_ms": {"p50": p(employer_ms, 50), "p99": p(employer_ms, 99)},
            "ratio_p50": round(p(account_ms, 50) / p(employer_ms, 50), 1)}


def distributed(ids: list[list[str]]) -> dict:
    """The same months on the distributed runtime (PostgreSQL per service, Kafka, services as
    processes behind the gateway): DISTRIBUTED_EMPLOYERS employers' reports POSTed in bulk
    through the gateway (httpx), timed from the first request until every projection has caught
    up (every outbox relayed, every consumer group at the end of its topics, and the claims
    service's wage history holding every line). Setup as embedded: the levy's enrollment rows.
    CPU: the services' and gateway's processes (utime + stime from /proc, their process groups),
    not PostgreSQL's nor Kafka's."""
    import tempfile

    import httpx

    from tests.harness.cluster import TestCluster
    from tests.harness.servers import PostgresServer

    n = min(DISTRIBUTED_EMPLOYERS, EMPLOYERS)
    postgres = PostgresServer()
    postgres.start()
    logs = tempfile.TemporaryDirectory(prefix="bench-ingestion-cluster-")
    cluster = TestCluster(postgres, os.environ["INJURYLEDGER_TEST_KAFKA"], Path(logs.name), TOKEN)
    cluster.start()
    try:
        base_rate = str(load_national_default().base_rate(RISK_CLASS))
        with cluster.engines["levy"].begin() as conn:
            conn.execute(levy_employers.insert(), [
                {"employer_id": employer_id(e), "region": REGION, "risk_class": RISK_CLASS, "base_rate": base_rate,
                 "status": "active", "enrolled_on": ENROLLED_ON, "as_of": ENROLLED_ON} for e in range(n)])
            for first in range(0, n, 500):
                conn.execute(levy_employments.insert(), [
                    {"employee_id": employee_id(e, w), "employer_id": employer_id(e), "hired_on": ENROLLED_ON,
                     "id_number": ids[e][w], "separated_on": None}
                    for e in range(first, min(n, first + 500)) for w in range(WORKERS)])
        names = {p.pid: name for name, p in cluster.cluster.procs.items()}
        groups = list(names)
        runs = []
        with httpx.Client(base_url=cluster.gateway, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=600) as client:
            for k, (period, reported_on) in enumerate(RUNS[:DISTRIBUTED_RUNS]):
                runs.append(distributed_month(cluster, client, groups, names, ids, n, period, reported_on, k + 1))
                print(f"distributed run {k + 1}: {runs[-1]['caught_up_seconds']} s", flush=True)
        caught_up = spread([r["caught_up_seconds"] for r in runs])
        projected = spread([r["projected_seconds_for_1m_lines"] for r in runs])
        return {"employers": n, "lines": n * WORKERS, "runs": runs, "caught_up_seconds": caught_up,
                "lines_per_s": rate(n * WORKERS, caught_up["median"]),
                "projected_seconds_for_1m_lines": projected,
                "goal_s_at_1m": DISTRIBUTED_GOAL_S, "goal_met": projected["median"] <= DISTRIBUTED_GOAL_S,
                "services_cpu_us_per_line": spread([r["services_cpu_us_per_line"] for r in runs]),
                "how": f"{len(runs)} months, each every employer's first report of the month, one after another in "
                       "one cluster; each timed from its first request until every outbox is relayed, every group "
                       "caught up and the claims wage history holds every line of the month"}
    finally:
        cluster.stop()
        logs.cleanup()


def distributed_month(cluster, client, groups: list[int], names: dict, ids: list[list[str]], n: int,  # noqa: ANN001
                      period: str, reported_on: str, month: int) -> dict:
    """One month of `n` employers' reports through the gateway until every projection caught up."""
    load_at_start = round(os.getloadavg()[0], 2)
    cpu_start = group_cpu_seconds(groups)
    start = time.perf_counter()
    for first in range(0, n, PER_REQUEST):
        last = min(n, first + PER_REQUEST)
        payload = json.dumps({"reports": [report(e, ids[e], period, reported_on) for e in range(first, last)]}).encode()
        r = client.post("/v1/wage-reports/bulk", content=payload, headers={"Content-Type": "application/json"})
        assert r.status_code == 201 and not r.json()["refused"], r.text[:500]
    answered = time.perf_counter() - start
    cluster.settle(timeout_s=3600)
    with cluster.engines["claims"].connect() as conn:
        projected = conn.execute(text("SELECT count(*) FROM wages")).scalar_one()
    caught_up = time.perf_counter() - start
    cpu = group_cpu_seconds(groups) - cpu_start
    assert projected == month * n * WORKERS, (projected, month)
    return {"period": period, "answered_seconds": round(answered, 2), "caught_up_seconds": round(caught_up, 2),
            "lines_per_s": rate(n * WORKERS, caught_up),
            "projected_seconds_for_1m_lines": round(caught_up * 1_000_000 / (n * WORKERS), 1),
            "services_cpu_seconds": {names[k]: round(v, 2) for k, v in cpu.items()},
            "services_cpu_us_per_line": round(sum(cpu.values()) * 1e6 / (n * WORKERS), 1),
            "load_average_1m_at_start": load_at_start, "load_average_1m_at_end": round(os.getloadavg()[0], 2)}


class _CpuBy(dict):
    def __sub__(self, other: dict) -> "_CpuBy":
        return _CpuBy({k: v - other.get(k, 0.0) for k, v in self.items()})


def group_cpu_seconds(groups: list[int]) -> _CpuBy:
    """utime + stime of every process in each process group (a service, its workers), by group."""
    tick = os.sysconf("SC_CLK_TCK")
    out = _CpuBy({g: 0.0 for g in groups})
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = int(fields[2])  # after the name: state, ppid, pgrp, …
        if group in out:
            out[group] += (int(fields[11]) + int(fields[12])) / tick
    return out


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def embedded(results: dict, lines: int) -> list[list[str]]:
    """The embedded runtime's parts (1–3 of the docstring) into `results`; the workers' id numbers."""
    runtime, tmp = embedded_runtime("ingestion")
    with TestClient(runtime.app(), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        setup_s, ids = setup_enrolled(runtime)
        results["setup"] = {"seconds": round(setup_s, 2),
                            "how": "levy_employers + levy_employments rows in bulk (executemany), "
                                   "as LevyEnrollmentProjection writes them"}
        runs, floors = [], []
        for k, (period, reported_on) in enumerate(RUNS):
            ours = ingest_ours(api, ids, period, reported_on)
            ours.update(period=period, lines_per_s=rate(lines, ours["seconds"]), memory_flat=flat(ours["rss_mib_at"]))
            runs.append(ours)
            floor = ingest_floor(tmp / f"floor{k}.db", ids, period)
            floor.update(lines_per_s=rate(lines, floor["seconds"]), memory_flat=flat(floor["rss_mib_at"]))
            floors.append(floor)
            print(f"run {k + 1}: ours {ours['seconds']} s, floor {floor['seconds']} s", flush=True)
        with runtime.services["levy"].ctx.session_factory() as s:
            stored = s.execute(select(func.count()).select_from(wage_history)).scalar_one()
            reports = s.execute(select(func.count()).select_from(wage_reports)).scalar_one()
        assert (stored, reports) == (len(RUNS) * lines, len(RUNS) * EMPLOYERS), (stored, reports)
        with runtime.services["claims"].ctx.session_factory() as s:
            projected = s.execute(text("SELECT count(*) FROM wages")).scalar_one()
        assert projected == len(RUNS) * lines, projected
        seconds = spread([r["seconds"] for r in runs])
        floor_seconds = spread([f["seconds"] for f in floors])
        ing: dict = {"ours": {"seconds": seconds, "lines_per_s": rate(lines, seconds["median"]),
                              "memory_flat": all(r["memory_flat"] for r in runs), "runs": runs},
                     "floor": {"seconds": floor_seconds, "lines_per_s": rate(lines, floor_seconds["median"]),
                               "runs": floors}}
        ing["ratio_ours_to_floor"] = round(floor_seconds["median"] / seconds["median"], 3)
        ing["ours"]["cpu_us_per_line"] = spread([r["cpu_us_per_line"] for r in runs])
        ing["floor"]["cpu_us_per_line"] = spread([f["cpu_us_per_line"] for f in floors])
        ing["ratio_ours_to_floor_cpu"] = round(ing["floor"]["cpu_us_per_line"]["median"]
                                               / ing["ours"]["cpu_us_per_line"]["median"], 3)
        ing["load_average_1m"] = spread([x for r in runs for x in (r["load_average_1m_at_start"],
                                                                    r["load_average_1m_at_end"])])
        projected_1m = 1_000_000 / ing["ours"]["lines_per_s"] if ing["ours"]["lines_per_s"] else None
        ing["projected_seconds_for_1m_lines"] = round(projected_1m, 1) if projected_1m else None
        met = projected_1m is not None and projected_1m <= GOAL_S and ing["ours"]["memory_flat"]
        ing["goal_met"] = met
        if not met and projected_1m:
            ing["goal_missed_by"] = f"{projected_1m / GOAL_S:.2f}x ({projected_1m - GOAL_S:.0f} s over)"
        ing["ordinary_route_reference"] = ingest_ordinary(api, ids)
        results["ingestion"] = ing
        results["csv_streaming"] = csv_streaming(api, ids)
        results["ingestion"]["profile_top"] = profile_bulk(runtime, ids)
        results["account_statement"] = long_history(api)
    runtime.close()
    return ids


def main() -> None:
    lines = EMPLOYERS * WORKERS
    results: dict = {
        "peer": "floor: json.loads + Decimal → fen + sqlite3 executemany of the same rows into a wage_history-shaped "
                "table, one transaction per report, same pragmas",
        "timed_path": f"POST /v1/wage-reports/bulk, {PER_REQUEST} reports a request, through the in-process ASGI app "
                      "(Starlette TestClient): middleware, auth, route, services/levy/bulk.py (the ordinary report's "
                      "checks, assessment, event, outbox, read models, books; a transaction per batch), and the "
                      "embedded pump (relay + every consumer, the claims wage history among them) before the answer",
        "employers": EMPLOYERS, "workers_per_employer": WORKERS, "lines": lines, "runs": len(RUNS),
        "goal": f"{lines} lines in <= {GOAL_S:.0f} s (at 1,000,000 lines), memory flat",
    }
    ids = embedded(results, lines) if "embedded" in PARTS else id_numbers()
    if "distributed" not in PARTS:
        results["distributed"] = "skipped: BENCH_INGESTION_PARTS"
    elif os.environ.get("INJURYLEDGER_TEST_KAFKA"):
        results["distributed"] = distributed(ids)
    else:
        results["distributed"] = "skipped: no Kafka (INJURYLEDGER_TEST_KAFKA, which make bench sets)"
    results["peak_rss_mib"] = peak_rss_mib()
    write_results("ingestion" if "embedded" in PARTS else "ingestion_distributed", results)


if __name__ == "__main__":
    main()
