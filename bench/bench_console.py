"""The operator console's pages with BENCH_BENEFICIARIES beneficiaries in the database (issue 14:
"Pages answer in ≤ 200 ms at p95 with 1,000,000 beneficiaries", in `make bench`).

Setup (not timed): on the embedded runtime, one beneficiary is made through the public API as any
would be (a region's policy, an employer, a worker with a bank account and a year of wages, an
injury recognized, appraised grade 3 with partial care, the months owed materialized), then every
row it left in the four services' databases (events, read models, entitlement facts and lines,
documents) is copied BENCH_BENEFICIARIES - 1 times by bulk SQL inserts, each copy with its own ids
(employer, worker, ID number, USCC, account, claim, event ids, document ids and verification
codes): real rows, each beneficiary with an employer of their own (a copy's documents without their PDF
bytes: listed on the claim page, not downloaded). A tenth of the copies stay at
"applied" with their own decision deadline spread over a year, so the worklist by deadline has
work to order. A second region has a few claims and a payment run proposed and approved (the
payment runs page lists it). The consumers' bookkeeping (outbox, processed ids) is not copied.

Timed: each console page through the ASGI app with a signed-in session (TestClient), requests of
the page in turn, BENCH_REQUESTS_PER_PAGE (40) each per run, or as many as BENCH_PAGE_BUDGET_S
(60 s, at least 5) allows a slow page, three runs: p50, p95 and max per page, the
median of the three runs with their min and max.
Peer, same run: the plain JSON API route(s) the page asks for the same data, through the same app
(what the page adds: the session lookup, the in-process API call, the template).

Quick check: BENCH_BENEFICIARIES=2000 .venv/bin/python bench/bench_console.py
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TOKEN, embedded_runtime, peak_rss_mib, timer, write_results  # noqa: E402

N = int(os.environ.get("BENCH_BENEFICIARIES", "1000000"))
REQUESTS_PER_PAGE = int(os.environ.get("BENCH_REQUESTS_PER_PAGE", "40"))
RUNS = 3
PAGE_BUDGET_S = float(os.environ.get("BENCH_PAGE_BUDGET_S", "60"))  # per page and run: a slow page stops early
MIN_REQUESTS = 5
GOAL_P95_MS = 200.0
REGION = "440300"
RUN_REGION = "440301"
CHUNK = 5_000
APPLIED_EVERY = 10  # one copy in ten still awaits its recognition decision
SKIPPED_TABLES = {"outbox", "processed_events", "consumer_positions", "access_log", "idempotency_keys",
                  "dead_letters", "alembic_version"}
SERVICES = ("enrollment", "levy", "claims", "payments")


# ---- the template beneficiary, through the API -------------------------------------------------

def ok(response, status: int = 200) -> Any:  # noqa: ANN001, ANN401
    assert response.status_code == status, response.text
    return response.json()


def beneficiary(api, region: str, n: int, grade: int = 3) -> dict:  # noqa: ANN001
    from libs.identifiers import make_id_number, make_uscc

    employer = ok(api.post("/v1/employers", json={
        "uscc": make_uscc(f"91{region}{n:08d}"), "name": f"珠江五金制品有限公司{n}", "industry_code": "C3311",
        "region": region, "enrolled_on": "2024-12-01"}), 201)
    id_number = make_id_number(region, date(1980, 5, 17), 100 + n % 900)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": id_number, "name": "李雷", "hired_on": "2024-12-01",
        "bank_account": {"bank_code": "102584000001", "account_no": f"62220202{n:011d}", "holder": "李雷"}}), 201)
    for month in range(1, 13):
        ok(api.post("/v1/wage-reports", json={"employer_id": employer["employer_id"], "period": f"2025-{month:02d}",
                                              "lines": [{"id_number": id_number, "wage": "9000.00"}]}), 201)
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer",
        "description": "手被冲床压伤"}), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{claim_id}/recognition",
                json={"decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14(1)"}))
    ok(api.post(f"/v1/claims/{claim_id}/appraisals", json={"grade": grade, "care_level": "partial",
                                                           "concluded_on": "2026-05-04"}))
    ok(api.get(f"/v1/claims/{claim_id}/entitlements"))  # the months owed, materialized
    return {"employer_id": employer["employer_id"], "uscc": employer["uscc"], "employee_id": worker["employee_id"],
            "id_number": id_number, "account_no": f"62220202{n:011d}", "claim_id": claim_id}


def template_world(api) -> dict:  # noqa: ANN001
    from libs.policy import load_national_default
    from tests.four_eyes import approve

    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00"})
    for region in (REGION, RUN_REGION):
        ok(api.put(f"/v1/policies/{region}/2024-01-01", json=doc), 201)
    for n in range(5):  # a region with a payment run on the runs page
        beneficiary(api, RUN_REGION, 10 + n)
    run = ok(api.post("/v1/payment-runs", json={"region": RUN_REGION, "period": "2026-06"}), 201)
    approve(api, run["run_id"])
    return beneficiary(api, REGION, 1)


# ---- copying its rows --------------------------------------------------------------------------

def table_names(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("select name from sqlite_master where type='table' and name not like 'sqlite_%' "
                                     "order by name") if r[0] not in SKIPPED_TABLES]


def single_unique_columns(db: sqlite3.Connection, table: str) -> set[str]:
    """Columns unique on their own: a copy needs a value of its own there."""
    info = db.execute(f"pragma table_info({table})").fetchall()
    pks = [c[1] for c in info if c[5]]
    out = set(pks) if len(pks) == 1 else set()
    for _seq, name, unique, *_rest in db.execute(f"pragma index_list({table})").fetchall():
        cols = [r[2] for r in db.execute(f"pragma index_info({name})").fetchall()]
        if unique and len(cols) == 1:
            out.add(cols[0])
    return out


def copy_value(template: str, k: int) -> Callable[[int], str]:
    """The copy's own value of a unique one the template's rows hold (an event id, a report id ...)."""
    try:
        uuid.UUID(template)
        return lambda i: str(uuid.UUID(int=(k + 1) << 64 | i))
    except ValueError:
        pass
    if template.startswith("doc_"):
        return lambda i: f"doc_{k:04x}{i:020x}"
    if len(template) == 14 and template[4] == template[9] == "-":  # a verification code
        return lambda i: (lambda h: f"{h[:4]}-{h[4:8]}-{h[8:]}")(f"{k:02X}{i:010X}")
    return lambda i: f"{template}.{i}"


class Copier:
    """Every row of a service database that names the template's ids, split once around them, so
    a copy is a join of its parts with the copy's ids."""

    def __init__(self, db: sqlite3.Connection, ids: dict[str, Callable[[int], str]]) -> None:
        self.db, self.ids = db, ids
        self.tables: list[tuple[str, list[str], list[list]]] = []
        for table, columns, rows in matching_rows(db, ids):
            self.tables.append((table, columns, [[self._split(v) for v in row] for row in rows]))

    def _split(self, value: Any) -> Any:  # noqa: ANN401
        if not isinstance(value, str):
            return value
        parts: list = [value]
        for template in sorted(self.ids, key=len, reverse=True):
            out: list = []
            for p in parts:
                if isinstance(p, str) and template in p:
                    for k, piece in enumerate(p.split(template)):
                        if k:
                            out.append((template,))
                        out.append(piece)
                else:
                    out.append(p)
            parts = [p for p in out if p != ""]
        return parts[0] if len(parts) == 1 and isinstance(parts[0], str) else parts

    def rows(self) -> int:
        return sum(len(r) for _t, _c, r in self.tables)

    def copy(self, start: int, stop: int, fix: Callable[[str, dict, int], None]) -> None:
        used = {t for _tb, _c, rows in self.tables for row in rows for v in row if isinstance(v, list)
                for t in ((p[0],) for p in v if not isinstance(p, str)) for t in t}
        out: dict[str, list] = {table: [] for table, _c, _r in self.tables}
        for i in range(start, stop):
            made = {t: self.ids[t](i) for t in used}
            for table, columns, rows in self.tables:
                for row in rows:
                    record = dict(zip(columns, (
                        v if not isinstance(v, list) else "".join(p if isinstance(p, str) else made[p[0]] for p in v)
                        for v in row)))
                    fix(table, record, i)
                    out[table].append(tuple(record.values()))
        for table, columns, _rows in self.tables:
            self.db.executemany(f"insert into {table} ({', '.join(columns)}) values "
                                f"({', '.join('?' * len(columns))})", out[table])


def matching_rows(db: sqlite3.Connection, ids: dict) -> list[tuple[str, list[str], list[tuple]]]:
    out = []
    for table in table_names(db):
        info = db.execute(f"pragma table_info({table})").fetchall()
        pks = [c for c in info if c[5]]
        # an INTEGER PRIMARY KEY of its own (events.position) is given by the database
        auto = pks[0][1] if len(pks) == 1 and pks[0][2].upper() == "INTEGER" else None
        columns = [c[1] for c in info if c[1] != auto]
        rows = [row for row in db.execute(f"select {', '.join(columns)} from {table}")
                if any(isinstance(v, str) and any(t in v for t in ids) for v in row)]
        if rows:
            out.append((table, columns, rows))
    return out


def applied_fix(table: str, record: dict, i: int) -> None:
    """A tenth of the copies still at "applied": the worklist row of the claim, with a decision
    deadline spread over a year (the other rows of the copy stay as made: the worklist is what
    the bench reads of them). A copy's documents are listed, not downloaded: their PDF bytes
    are left out (tens of kilobytes each, gigabytes in all)."""
    if table == "claim_documents":
        record["pdf"] = None
    elif table == "claims" and "worklist_due_on" in record and i % APPLIED_EVERY == 0:
        due = f"2026-{1 + (i // APPLIED_EVERY) % 12:02d}-{1 + (i // 7) % 28:02d}"
        record.update(status="applied", decision_due_on=due, appraisal_due_on=None, grade=None, worklist_due_on=due)


def seed(data_dir: Path, t: dict) -> dict:
    ids: dict[str, Callable[[int], str]] = {
        t["claim_id"]: lambda i: f"clm_bench{i:015d}",
        t["employee_id"]: lambda i: f"ee_bench{i:016d}",
        t["employer_id"]: lambda i: f"er_bench{i:016d}",
        t["id_number"]: lambda i: f"9{i:016d}X",
        t["uscc"]: lambda i: f"91{i:016d}",
        t["account_no"]: lambda i: f"62{i:017d}",
    }
    dbs = {s: sqlite3.connect(data_dir / f"{s}.db", isolation_level=None) for s in SERVICES}
    grown = True
    while grown:  # the unique values of the rows found name more rows (an event's id, a report's)
        grown = False
        for db in dbs.values():
            for table, columns, rows in matching_rows(db, ids):
                unique = single_unique_columns(db, table)
                for row in rows:
                    for column, value in zip(columns, row):
                        if column in unique and isinstance(value, str) and not any(t in value for t in ids):
                            ids[value] = copy_value(value, len(ids))
                            grown = True
    counts = {}
    for service, db in dbs.items():
        db.execute("PRAGMA synchronous=OFF")
        copier = Copier(db, ids)
        counts[service] = {"tables": {tbl: len(r) for tbl, _c, r in copier.tables}}
        with timer() as took:
            for start in range(2, N + 1, CHUNK):
                db.execute("BEGIN")
                copier.copy(start, min(N + 1, start + CHUNK), applied_fix)
                db.execute("COMMIT")
            db.execute("ANALYZE")
        counts[service]["seconds"] = round(took["seconds"], 1)
        db.close()
        print(f"seeded {service}: {counts[service]}", flush=True)
    return counts


# ---- measuring -------------------------------------------------------------------------------

def percentiles(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "max_ms": round(ordered[-1], 1)}


def summary(runs: list[dict]) -> dict:
    out = {}
    for key in ("p50_ms", "p95_ms", "max_ms"):
        values = [r[key] for r in runs]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def profile_statement(runtime) -> list[str]:  # noqa: ANN001
    """Where a fund statement's time goes (the fund page asks 13): its handler, called directly,
    since the pages run in the ASGI app's threads, out of a profiler's sight."""
    from pyinstrument import Profiler

    from services.levy import handlers

    ctx = runtime.services["levy"].ctx
    profiler = Profiler(interval=0.001)
    profiler.start()
    handlers.fund_statement(ctx, REGION, date(2026, 6, 1), date(2026, 6, 30))
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return [line.rstrip() for line in text.splitlines() if line.strip()][:40]


def main() -> None:
    from fastapi.testclient import TestClient

    from libs.runtime.embedded import EmbeddedRuntime
    from libs.settings import Settings
    from tests.console.support import csrf_of

    runtime, tmp = embedded_runtime("console")
    data_dir = runtime.settings.data_dir
    with TestClient(runtime.app(), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        template = template_world(api)
    runtime.close()
    with timer() as seeding:
        counts = seed(data_dir, template)
    runtime = EmbeddedRuntime(Settings(data_dir=data_dir, agency_token=TOKEN, log_json=False))
    app = runtime.app()
    browser = TestClient(app)
    form = browser.get("/console/sign-in")
    signed = browser.post("/console/sign-in", data={"csrf": csrf_of(form.text), "token": TOKEN},
                          follow_redirects=False)
    assert signed.status_code == 303, signed.text
    api = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    claims = [f"clm_bench{i:015d}" for i in range(2, N + 1)] or [template["claim_id"]]
    employers = [f"er_bench{i:016d}" for i in range(2, N + 1)] or [template["employer_id"]]
    listed = api.get("/v1/claims", params={"order": "deadline", "limit": 50}).json()["items"]
    assert len(listed) == min(50, N + 5) and listed[0]["status"] == "applied", listed[:2]
    rng = random.Random(14)

    # (page, the console's path, the JSON route(s) the page asks for the same data)
    pages: list[tuple[str, Callable[[], str], Callable[[], list[str]]]] = [
        ("worklist by deadline", lambda: "/console/claims",
         lambda: ["/v1/claims?order=deadline&limit=50"]),
        ("claim", lambda: f"/console/claims/{rng.choice(claims)}", None),
        ("employer account", lambda: f"/console/employers/{rng.choice(employers)}", None),
        ("fund statement", lambda: f"/console/funds?region={REGION}&to=2026-06-30",
         lambda: [f"/v1/funds/{REGION}/statement?from=2025-07-01&to=2026-06-30"]),
        ("payment runs", lambda: "/console/payment-runs", lambda: ["/v1/payment-runs?limit=100"]),
        ("dead letters (operations)", lambda: "/console/ops", lambda: ["/v1/ops/status"]),
    ]

    def peer_of(name: str, path: str) -> list[str]:
        if name == "claim":
            claim_id = path.rsplit("/", 1)[1]
            return [f"/v1/claims/{claim_id}", f"/v1/events?aggregate_id={claim_id}&limit=1000",
                    f"/v1/claims/{claim_id}/entitlements?limit=1000", f"/v1/claims/{claim_id}/documents"]
        if name == "employer account":
            employer_id = path.rsplit("/", 1)[1]
            return [f"/v1/employers/{employer_id}", f"/v1/employers/{employer_id}/account"]
        raise AssertionError(name)

    results: dict = {
        "beneficiaries": N, "goal": "every console page <= 200 ms at p95 with 1,000,000 beneficiaries",
        "requests_per_page_per_run": REQUESTS_PER_PAGE, "runs": RUNS,
        "timed_path": "GET of each console page through the embedded ASGI app (starlette TestClient) with a "
                      "signed-in session: session lookup in the database, the page's in-process API calls, the "
                      "Jinja2 template",
        "peer": "the plain JSON API route(s) the page asks for the same data, through the same app with a bearer "
                "token, requested right after the page (the claim page: the claim, its audit trail, its "
                "entitlements and documents; the employer page: the employer and its account; the fund page asks "
                "13 statements, the peer the year's one)",
        "setup": {"seed_seconds": round(seeding["seconds"], 1), "copied": counts},
    }
    per_page: dict = {name: {"console": [], "peer": []} for name, *_ in pages}
    for _ in range(RUNS):
        for name, path_of, peer_paths in pages:
            ours, theirs = [], []
            began = time.perf_counter()
            for n in range(REQUESTS_PER_PAGE):
                if n >= MIN_REQUESTS and time.perf_counter() - began > PAGE_BUDGET_S:
                    break
                path = path_of()
                start = time.perf_counter()
                r = browser.get(path)
                ours.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200 and "sign-in" not in str(r.url), (path, r.status_code, r.text[:300])
                start = time.perf_counter()
                for peer_path in (peer_paths() if peer_paths else peer_of(name, path)):
                    answer = api.get(peer_path)
                    assert answer.status_code == 200, (peer_path, answer.text[:300])
                theirs.append((time.perf_counter() - start) * 1000)
            per_page[name]["console"].append({**percentiles(ours), "requests": len(ours)})
            per_page[name]["peer"].append(percentiles(theirs))
    results["pages"] = {}
    for name, runs in per_page.items():
        ours, theirs = summary(runs["console"]), summary(runs["peer"])
        ratio = round(ours["p95_ms"]["median"] / theirs["p95_ms"]["median"], 2)
        results["pages"][name] = {"console": ours, "peer": theirs, "p95_console_to_peer": ratio,
                                  "goal_met": ours["p95_ms"]["median"] <= GOAL_P95_MS}
    results["profile_of_one_fund_statement"] = profile_statement(runtime)
    results["goal_met"] = N >= 1_000_000 and all(p["goal_met"] for p in results["pages"].values())
    if N < 1_000_000:
        results["goal_note"] = f"measured with {N:,} beneficiaries, not 1,000,000 (BENCH_BENEFICIARIES)"
    runtime.close()
    results["peak_rss_mib"] = peak_rss_mib()
    results["data_dir_mib"] = sum(f.stat().st_size for f in data_dir.glob("*.db*")) // (1 << 20)
    write_results("console", results)
    shutil.rmtree(tmp, ignore_errors=True)  # gigabytes at full size


if __name__ == "__main__":
    main()
