"""Pooling moves up (issue 15) on the embedded runtime: three pools holding BENCH_CONSOLIDATION_WORKERS
workers (default 1,000,000, 100 to an employer) and BENCH_CONSOLIDATION_CLAIMS claims (default
50,000) consolidated into one region, with the duration and the peak memory.

Setup (not timed), for each of three repeats a fresh embedded system (a pool is consolidated once,
and no repeat reads another's rows): the levy's projected rows written in bulk into the levy database — employers, employments,
injuries — and each employer's November 2025 assessed (one wage report, its postings), half of
them paid in December, so half the periods are open when the pools move on 1 January 2026.
Timed, through the ASGI app in process: POST /v1/pooling/consolidations (the enrollment event, the
embedded pump: every service's projection of it, the levy's reassessment search), then
GET /v1/pooling/consolidations/{id} (what moved, the open periods folded, the balances carried) and
the new region's statement of January 2026 (its books with the carry-over). Memory: the resident
set sampled every 20 ms during the timed part (its peak, and the rise over the start).
Peer, same run, same database: the raw SQL copy of the same rows — the pools' employers with the
new region, their employments, injuries and open reports copied into tables of their own and
the balances summed by account, in one sqlite3 transaction: what moving by rewriting costs.
Correctness: every repeat's counts and carried cash are checked against what was seeded, and
the statement's books balance.

Quick check: BENCH_CONSOLIDATION_WORKERS=20000 BENCH_CONSOLIDATION_CLAIMS=1000 .venv/bin/python bench/bench_consolidation.py
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from bench.common import TOKEN, embedded_runtime, rss_mib, timer, write_results  # noqa: E402

WORKERS = int(os.environ.get("BENCH_CONSOLIDATION_WORKERS", "1000000"))
CLAIMS = int(os.environ.get("BENCH_CONSOLIDATION_CLAIMS", "50000"))
WORKERS_PER_EMPLOYER = 100
EMPLOYERS = max(3, WORKERS // WORKERS_PER_EMPLOYER)
REPEATS = 3
PROVINCE = "32"  # the four regions: 320000 ← 320100, 320200, 320300
EFFECTIVE_FROM = "2026-01-01"
CONTRIBUTION_FEN = 450_000  # 100 workers × 5,000.00 × 0.009 = 4,500.00 a month
CHUNK = 50_000


def regions(province: str) -> tuple[str, list[str]]:
    return f"{province}0000", [f"{province}0{i}00" for i in (1, 2, 3)]


def seed(db: sqlite3.Connection, tag: str, pools: list[str]) -> None:
    """The levy's rows of three pools, in bulk."""
    recorded = datetime(2025, 11, 20, 2, tzinfo=timezone.utc).isoformat(sep=" ")
    employers = [f"er_{tag}{k:08d}" for k in range(EMPLOYERS)]
    db.executemany("INSERT INTO levy_employers (employer_id, region, risk_class, base_rate, status, enrolled_on, as_of) "
                   "VALUES (?, ?, 4, '0.0090', 'active', '2025-01-01', '2025-01-01')",
                   [(e, pools[k % 3]) for k, e in enumerate(employers)])
    for start in range(0, WORKERS, CHUNK):
        db.executemany("INSERT INTO levy_employments (employee_id, employer_id, hired_on, id_number) "
                       "VALUES (?, ?, '2025-01-01', ?)",
                       [(f"ee_{tag}{w:08d}", employers[w % EMPLOYERS], f"{w:018d}")
                        for w in range(start, min(WORKERS, start + CHUNK))])
    db.executemany("INSERT INTO levy_injuries (claim_id, employer_id, occurred_on) VALUES (?, ?, '2025-06-01')",
                   [(f"cl_{tag}{c:08d}", employers[c % EMPLOYERS]) for c in range(CLAIMS)])
    reports, payments, lines = [], [], []
    for k, e in enumerate(employers):
        region = pools[k % 3]
        report = f"wr_{tag}{k:08d}"
        reports.append((report, e, region, recorded))
        lines += [(f"{report}:0:assessment", "assessment", "contributions_receivable", CONTRIBUTION_FEN, 0,
                   "2025-11-20", region, e),
                  (f"{report}:0:assessment", "assessment", "contribution_income", 0, CONTRIBUTION_FEN,
                   "2025-11-20", region, e)]
        if k % 2 == 0:  # paid in full on 10 December; the other half stays open
            payment = f"cp_{tag}{k:08d}"
            payments.append((payment, e, region, recorded))
            lines += [(f"{payment}:1:payment", "payment", "cash", CONTRIBUTION_FEN, 0, "2025-12-10", region, e),
                      (f"{payment}:1:payment", "payment", "contributions_receivable", 0, CONTRIBUTION_FEN,
                       "2025-12-10", region, e)]
    db.executemany(
        "INSERT INTO wage_reports (report_id, employer_id, period, region, payroll_fen, rate, multiplier, "
        "contribution_fen, delta_fen, due_date, late_fee_daily, line_count, reported_on, recorded_at, policy_region, "
        f"policy_version) VALUES (?, ?, '2025-11', ?, 50000000, '0.0090', '1.00', {CONTRIBUTION_FEN}, "
        f"{CONTRIBUTION_FEN}, '2025-12-15', '0.0005', {WORKERS_PER_EMPLOYER}, '2025-11-20', ?, '000000', 1)", reports)
    db.executemany(
        "INSERT INTO contribution_payments (payment_id, employer_id, region, amount_fen, paid_on, allocation, "
        f"recorded_at) VALUES (?, ?, ?, {CONTRIBUTION_FEN}, '2025-12-10', 'oldest_first_fees_then_contribution', ?)",
        payments)
    db.executemany("INSERT INTO postings (entry_id, kind, account, debit_fen, credit_fen, posted_on, source, region, "
                   "employer_id, run_id, ref) VALUES (?, ?, ?, ?, ?, ?, 'levy', ?, ?, NULL, ?)",
                   [(*line, line[-1]) for line in lines])
    db.commit()


class Sampler:
    """The resident set every 20 ms while a part runs."""

    def __init__(self) -> None:
        self.peak = self.start = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def consolidate(api: TestClient, into: str, pools: list[str]) -> dict:
    with Sampler() as memory, timer() as total:
        with timer() as post_t:
            made = api.post("/v1/pooling/consolidations",
                            json={"into_region": into, "from_regions": pools, "effective_from": EFFECTIVE_FROM})
        assert made.status_code == 201, made.text
        with timer() as view_t:
            moved = api.get(f"/v1/pooling/consolidations/{made.json()['consolidation_id']}")
        assert moved.status_code == 200, moved.text
        with timer() as statement_t:
            st = api.get(f"/v1/funds/{into}/statement", params={"from": "2026-01-01", "to": "2026-01-31"})
        assert st.status_code == 200, st.text
    view, statement = moved.json(), st.json()
    paid = (EMPLOYERS + 1) // 2
    assert view["moved"] == {"employers": EMPLOYERS, "workers": WORKERS, "claims": CLAIMS,
                             "open_periods": EMPLOYERS - paid}, view["moved"]
    assert statement["books_balanced"] is True
    assert statement["balance"] == f"{paid * CONTRIBUTION_FEN // 100}.00", statement["balance"]
    return {"seconds": total["seconds"], "post_s": post_t["seconds"], "view_s": view_t["seconds"],
            "statement_s": statement_t["seconds"], "peak_rss_mib": memory.peak,
            "rss_rise_mib": memory.peak - memory.start}


def raw_copy(db_path: Path, into: str, pools: list[str]) -> float:
    """The peer: the same rows copied with the new region, and the balances summed, in SQL."""
    db = sqlite3.connect(db_path)
    marks = ", ".join("?" for _ in pools)
    names = ("peer_employers", "peer_employments", "peer_injuries", "peer_reports", "peer_balances")
    for name in names:
        db.execute(f"DROP TABLE IF EXISTS {name}")
    start = time.perf_counter()
    db.execute("CREATE TABLE peer_employers AS SELECT * FROM levy_employers WHERE 0")
    db.execute(f"INSERT INTO peer_employers SELECT employer_id, ?, risk_class, base_rate, status, enrolled_on, as_of, "
               f"legacy_multiplier FROM levy_employers WHERE region IN ({marks})", (into, *pools))
    db.execute("CREATE TABLE peer_employments AS SELECT e.* FROM levy_employments e "
               "JOIN peer_employers p ON p.employer_id = e.employer_id")
    db.execute("CREATE TABLE peer_injuries AS SELECT i.* FROM levy_injuries i "
               "JOIN peer_employers p ON p.employer_id = i.employer_id")
    db.execute("CREATE TABLE peer_reports AS SELECT w.* FROM wage_reports w "
               "JOIN peer_employers p ON p.employer_id = w.employer_id WHERE w.superseded_by IS NULL")
    db.execute(f"CREATE TABLE peer_balances AS SELECT region, account, SUM(debit_fen - credit_fen) AS net "
               f"FROM postings WHERE region IN ({marks}) AND posted_on < ? GROUP BY region, account",
               (*pools, EFFECTIVE_FROM))
    db.commit()
    seconds = time.perf_counter() - start
    copied = db.execute("SELECT COUNT(*) FROM peer_employments").fetchone()[0]
    assert copied == WORKERS, copied
    for name in names:
        db.execute(f"DROP TABLE {name}")
    db.commit()
    db.close()
    return seconds


def spread(values: list[float], places: int = 2) -> dict:
    return {"median": round(statistics.median(values), places), "min": round(min(values), places),
            "max": round(max(values), places)}


def main() -> None:
    results: dict = {
        "peer": "the raw SQL copy of the same rows (employers with the new region, their employments, injuries and "
                "reports in force, the balances summed by account) in one sqlite3 transaction, same database",
        "timed_path": "POST /v1/pooling/consolidations (with the embedded pump), GET /v1/pooling/consolidations/{id}, "
                      "GET /v1/funds/{into}/statement of the first month, through the ASGI app",
        "workers": WORKERS, "claims": CLAIMS, "employers": EMPLOYERS, "pools": 3, "repeats": REPEATS,
    }
    setup_s, ours, peer = [], [], []
    into, pools = regions(PROVINCE)
    for i in range(REPEATS):
        runtime, tmp = embedded_runtime(f"consolidation-{i}")
        db_path = Path(runtime.settings.database_url("levy").removeprefix("sqlite:///"))
        with TestClient(runtime.app(), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            db = sqlite3.connect(db_path)
            with timer() as t:
                seed(db, f"b{i}", pools)
            db.close()
            setup_s.append(t["seconds"])
            peer.append(raw_copy(db_path, into, pools))
            ours.append(consolidate(api, into, pools))
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"repeat {i + 1}: ours {ours[-1]['seconds']:.2f} s (peak {ours[-1]['peak_rss_mib']} MiB), "
              f"raw copy {peer[-1]:.2f} s", flush=True)
    seconds = [o["seconds"] for o in ours]
    results.update({
        "setup_seconds": spread(setup_s),
        "consolidation_seconds": spread(seconds),
        "parts_seconds_median": {k: round(statistics.median(o[k] for o in ours), 2)
                                 for k in ("post_s", "view_s", "statement_s")},
        "peak_rss_mib": spread([o["peak_rss_mib"] for o in ours], 0),
        "rss_rise_mib": spread([o["rss_rise_mib"] for o in ours], 0),
        "peer_raw_copy_seconds": spread(peer),
        "ratio_to_peer_median": round(statistics.median(seconds) / statistics.median(peer), 2),
        "runs": ours,
    })
    write_results("consolidation", results)


if __name__ == "__main__":
    main()
