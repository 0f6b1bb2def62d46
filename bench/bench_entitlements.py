"""Entitlements of long-term beneficiaries for one month (issue 5): BENCH_BENEFICIARIES recognized
claims with an insured wage and a disability grade 1–4 (goal: 1,000,000 in ≤ 30 s, memory flat).

Setup (not timed, in a child process): the facts are written in bulk into the entitlements
projection's own storage (`entitlement_claim_facts`: InjuryApplied, InjuryRecognized,
InsuredWageDetermined, GradeAssigned concluded 2026-10-01; `entitlement_accounts`: each worker's
bank account), exactly the rows EntitlementsProjection stores for those events, and what their
first materialization up to the current month (2026-11) stores, so the lines already owed
exist: `entitlements_setup` derives 64 claims by the ordinary path and makes the others' rows
from a template of their grade, checked byte for byte against the ordinary path on the 64 and
on a random sample of 200 derived again in full (the full derivation of every claim, ≈ 1 ms of
CPU each, did not finish in 32 minutes at 1,000,000).
Timed, three times (median, min and max): `materialize_through(session, region, month, now)` — what
POST /v1/payment-runs calls first — for December, January and February, each asked for a month
ahead in the middle of the month before (NOWS): one line per beneficiary each time.
The clock is pinned (NOWS, passed as `now` to every call, and the national default's knowledge
time, POLICY_KNOWN), so the bench gives the same answer on whatever day it runs. (Read from the wall clock, "the current month" moves on and the setup
would already have materialized the timed month: 0 lines inserted.)
Peer, same run: the same amounts (insured wage × the policy's ratio of the grade, never below
the minimum monthly wage, rounded half-up to the fen) with a plain loop of Decimal
multiplications, written with sqlite3 executemany; three times, median.

The timed calls take the fast path (projection.materialize_region, in batches of BATCH_CLAIMS):
each claim's stored state says its lines are through the month before, derived from the
knowledge it still has (its facts counted again), and its compact inputs (grouped.inputs_of,
written with the state) cover the month, so the month comes from them (grouped.MonthOfGroups)
without reading the claim's facts; the first materialization (the setup's) is the full
derivation of a claim, which writes the states and inputs. The insured wages are spread over 1,920,000
values, so nearly every beneficiary is a group of one for the disability allowance: the figure
is not helped by shared wages.
Every month's lines are checked: one per beneficiary, summing to the peer's total.

Quick check: BENCH_BENEFICIARIES=2000 .venv/bin/python bench/bench_entitlements.py
"""
from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, update  # noqa: E402

from bench import entitlements_setup  # noqa: E402
from bench.common import TOKEN, embedded_runtime, peak_rss_mib, rate, rss_mib, scratch_dir, timer, write_results  # noqa: E402
from libs.policy import load_national_default  # noqa: E402
from libs.runtime.embedded import EmbeddedRuntime  # noqa: E402
from libs.settings import Settings  # noqa: E402
from services.payments.entitlements import in_database, projection  # noqa: E402
from services.payments.entitlements.tables import accounts, entitlement_lines, policies  # noqa: E402
from services.payments.entitlements.tables import claim_facts as claim_facts_table  # noqa: E402
from tests.unit.payments.facts import ClaimFacts  # noqa: E402

N = int(os.environ.get("BENCH_BENEFICIARIES", "1000000"))
GOAL_S = 30.0
REGION = "440300"
CHUNK = 20_000
BANKS = ("102584000002", "103584000003", "104584000004", "105584000005", "301584000006")
FEN = Decimal("0.01")
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)  # the bench's clock, whatever the day
# The timed months, each asked for in the middle of the month before (a payment run a month early).
NOWS = (("2026-12", NOW), ("2027-01", datetime(2026, 12, 15, 12, 0, tzinfo=timezone.utc)),
        ("2027-02", datetime(2027, 1, 15, 12, 0, tzinfo=timezone.utc)))
PROFILED = ("2027-03", datetime(2027, 2, 15, 12, 0, tzinfo=timezone.utc))
# The national default the runtime publishes when it starts is recorded on the wall clock's day:
# stored as known from this day (before every fact), so no timed month learns a new policy
# version — run on 2026-12-01, the second month did, and re-derived every claim from its facts.
POLICY_KNOWN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def grade(i: int) -> int:
    return 1 + i % 4


def insured_wage_fen(i: int) -> int:
    return 480_000 + (i * 7_919) % 1_920_000  # 4,800.00 .. 23,999.99 yuan, integer fen


def wage_text(i: int) -> str:
    fen = insured_wage_fen(i)
    return f"{fen // 100}.{fen % 100:02d}"


def claim_id(i: int) -> str:
    return f"clm_b{i:08d}"


def employer_of(i: int) -> str:
    return f"er_b{i % 10_000:06d}"


def account_no(i: int) -> str:
    return f"62{i:017d}"


def employee_of(i: int) -> str:
    return f"ee_b{i:08d}"


FACT_TYPES = ("InjuryApplied", "InjuryRecognized", "InsuredWageDetermined", "GradeAssigned")


def claim_facts(i: int) -> ClaimFacts:
    """Beneficiary i's claim: injured 2026-06-10, recognized, its insured wage, grade concluded 2026-10-01."""
    c = ClaimFacts(claim_id(i), region=REGION, employee_id=employee_of(i), employer_id=employer_of(i),
                   occurred_on="2026-06-10", birth_date="1980-05-17")
    c.recognized("2026-07-01")
    c.wage(wage_text(i), "2026-07-02")
    c.grade(grade(i), "2026-10-01")
    return c


def seed(runtime: EmbeddedRuntime, n: int = N) -> float:
    """The facts of beneficiaries 0..n-1 and their bank accounts, as the projection stores them."""
    engine = runtime.services["payments"].ctx.engine
    with engine.begin() as conn:
        assert conn.execute(update(policies).values(recorded_at=POLICY_KNOWN)).rowcount >= 1
    with timer() as t:
        for start in range(0, n, CHUNK):
            facts, accts = [], []
            for i in range(start, min(n, start + CHUNK)):
                c = claim_facts(i)
                for f in c.facts:
                    facts.append({"claim_id": c.claim_id, "event_id": f.event_id, "type": f.type,
                                  "region": REGION if f.type == "InjuryApplied" else None, "recorded_at": f.recorded_at,
                                  "occurred_on": f.recorded_at.date(), "payload": json.dumps(f.payload, sort_keys=True)})
                accts.append({"payee": f"employee:{c.employee_id}", "bank_code": BANKS[i % len(BANKS)],
                              "account_no": account_no(i), "holder": "张三",
                              "recorded_at": datetime(2026, 6, 1, tzinfo=timezone.utc), "event_id": f"acct-{i}"})
            with engine.begin() as conn:
                conn.execute(insert(claim_facts_table), facts)
                conn.execute(insert(accounts), accts)
    return t["seconds"]


def set_up(runtime: EmbeddedRuntime) -> dict:
    """The facts, and what their first materialization through 2026-11 leaves
    (`entitlements_setup`: a few claims seeded and derived in full, the rest made from templates,
    a sample checked against the full derivation)."""
    with timer() as t:
        out = entitlements_setup.set_up(sys.modules[__name__], runtime, NOW, N,
                                        log=lambda line: print(line, flush=True))
    return {"seconds": round(t["seconds"], 2), **out}


def _set_up_into(folder: Path, done) -> None:  # noqa: ANN001 - a multiprocessing connection
    runtime, _ = embedded_runtime("entitlements", folder)
    done.send(set_up(runtime))
    runtime.close()


def set_up_apart(folder: Path) -> dict:
    """`set_up` into `folder` by a child process: its page cache (`entitlements_setup.CACHE_KIB`)
    and rows are not this process's memory, which the bench measures."""
    import multiprocessing
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    context = multiprocessing.get_context("fork")
    start = children_cpu()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_set_up_into, args=(folder, send))
    child.start()
    out = receive.recv()
    child.join()
    assert child.exitcode == 0, f"the setup failed (exit {child.exitcode})"
    return {**out, "cpu_seconds": round(children_cpu() - start, 1)}


def sqlite_heap():  # noqa: ANN201 - a callable giving (now, high-water) in MiB, or None
    """SQLite's own heap — every connection's page caches, sorters and statements — read from the
    library the sqlite3 module runs on (`sqlite3_status64`, SQLITE_STATUS_MEMORY_USED, its
    high-water reset at each call); None where it cannot be read (a build with SQLite linked in)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    now, high = ctypes.c_int64(), ctypes.c_int64()

    def read() -> tuple[float, float]:
        assert lib.sqlite3_status64(0, ctypes.byref(now), ctypes.byref(high), 1) == 0
        return round(now.value / 2 ** 20, 1), round(high.value / 2 ** 20, 1)

    if read()[0] <= 0:  # the sqlite3 module has connections open: a library without them is another copy
        return None
    return read


def month_lines(session, month: str) -> tuple[int, int]:  # noqa: ANN001
    """How many disability allowance lines `month` has, and their sum in fen."""
    el = entitlement_lines
    count, total = session.execute(select(func.count(), func.coalesce(func.sum(el.c.amount_fen), 0)).where(
        el.c.kind == "disability_allowance", el.c.period == month)).one()
    return int(count), int(total)


def peer(path: Path) -> dict:
    doc = load_national_default()
    ratios = {g: Decimal(str(doc.disability_allowance_ratios[str(g)])) for g in range(1, 5)}
    minimum = Decimal(str(doc.minimum_monthly_wage))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE lines (line_id TEXT PRIMARY KEY, claim_id TEXT, payee TEXT, period TEXT, "
               "amount_fen INTEGER NOT NULL)")
    total = 0
    with timer() as t:
        db.execute("BEGIN")
        rows = []
        for i in range(N):
            raw = Decimal(insured_wage_fen(i)) / 100 * ratios[grade(i)]
            amount = max(raw, minimum).quantize(FEN, rounding=ROUND_HALF_UP)
            fen = int(amount * 100)
            total += fen
            rows.append((f"clm_b{i:08d}/disability_allowance/2026-12", f"clm_b{i:08d}", f"employee:ee_b{i:08d}",
                         "2026-12", fen))
            if len(rows) >= CHUNK:
                db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?)", rows)
                rows = []
        db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    db.close()
    return {"seconds": round(t["seconds"], 3), "total_fen": total}


BESIDE_MIB = 16  # what a month may add to the RSS beside SQLite's heap (Python's objects, the allocator's slack)
STATEMENTS_MIB = 16  # SQLite's heap beside its page caches: prepared statements, a sort's merge buffers


def memory_flat(rss: list[dict], connection_cache_mib: int) -> dict:
    """Whether the months' memory is flat: what a month adds to the RSS is SQLite's heap — its page
    caches, each bounded by its configured size whatever the region's size: the connection's own
    (INJURYLEDGER_SQLITE_CACHE_MIB) and the temporary schema's while a month is made
    (`in_database.CACHE_KIB`), and STATEMENTS_MIB for the rest of it — and at most BESIDE_MIB besides. Where the heap cannot be read, the
    RSS a month adds is at most 64 MiB (the check before the heap was read)."""
    caches = connection_cache_mib + in_database.CACHE_KIB // 1024
    rises = [r["after"] - r["before"] for r in rss]
    if not all("sqlite_heap_mib" in r for r in rss):
        return {"memory_flat": max(rises) <= 64, "memory_check": "RSS added a month <= 64 MiB"}
    # the heap's peak counts whole: the pages it frees stay in the process (the allocator keeps them)
    heap = [max(0.0, r["sqlite_heap_mib"]["peak"] - r["sqlite_heap_mib"]["before"]) for r in rss]
    beside = [rise - h for rise, h in zip(rises, heap)]
    return {"memory_flat": max(heap) <= caches + STATEMENTS_MIB and max(beside) <= BESIDE_MIB,
            "memory_check": (f"SQLite's heap a month adds at its peak <= the page caches configured, "
                             f"{connection_cache_mib} MiB a connection + {in_database.CACHE_KIB // 1024} MiB for the "
                             f"month's temporary tables, + {STATEMENTS_MIB} MiB (here {max(heap):.0f} MiB), and the "
                             f"RSS a month adds beside it <= {BESIDE_MIB} MiB (here {max(beside):.0f})"),
            "page_caches_configured_mib": caches}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3), "min": round(ordered[0], 3),
            "max": round(ordered[-1], 3), "runs": [round(v, 3) for v in values]}


def main() -> None:
    results: dict = {
        "peer": "plain loop: insured wage × ratio(grade), max with the minimum wage, half-up to the fen (Decimal), "
                "sqlite3 executemany of one line per beneficiary",
        "timed_path": "services.payments.entitlements.projection.materialize_through(session, region, month, now) in "
                      "one transaction (what POST /v1/payment-runs calls first), for "
                      + ", ".join(f"{m} at now={n.isoformat()}" for m, n in NOWS),
        "beneficiaries": N, "goal": "1,000,000 beneficiaries, one month, <= 30 s, memory flat",
        "batch_claims": projection.BATCH_CLAIMS,
    }
    tmp = scratch_dir("entitlements")
    results["setup"] = set_up_apart(tmp / "db")
    os.environ["INJURYLEDGER_AGENCY_TOKEN"] = TOKEN
    runtime = EmbeddedRuntime(Settings(data_dir=tmp / "db" / "data", agency_token=TOKEN, log_json=False))
    ctx = runtime.services["payments"].ctx
    results["setup"]["how"] = ("facts in bulk, then what the first materialization through 2026-11 leaves: "
                               f"{entitlements_setup.BASE} claims derived in full, the others made from a template of "
                               "their grade, checked first on the base and after on a random sample against the full "
                               "derivation (bench/entitlements_setup.py)")
    seconds, cpu, rss, totals = [], [], [], set()
    heap = sqlite_heap()
    for month, now in NOWS:
        heap_before = heap() if heap else None
        start_rss, start_cpu = rss_mib(), time.process_time()
        with timer() as t, ctx.session_factory() as session, session.begin():
            inserted = projection.materialize_through(session, REGION, month, now=now)
        cpu.append(time.process_time() - start_cpu)
        seconds.append(t["seconds"])
        rss.append({"month": month, "before": start_rss, "after": rss_mib()})
        if heap:
            heap_after = heap()
            rss[-1]["sqlite_heap_mib"] = {"before": heap_before[0], "peak": heap_after[1], "after": heap_after[0]}
        print(f"{month}: {t['seconds']:.2f} s, CPU {cpu[-1]:.2f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        with ctx.session_factory() as session:
            got, total = month_lines(session, month)
        assert inserted == got == N, (month, inserted, got, N)
        totals.add(total)
    assert len(totals) == 1, ("the months' totals differ", totals)
    ours_total = totals.pop()
    peers = []
    for i in range(3):
        p = peer(tmp / f"peer{i}.db")
        assert p["total_fen"] == ours_total, ("the peer's amounts differ", p["total_fen"], ours_total)
        peers.append(p["seconds"])
    ours, theirs = summary(seconds), summary(peers)
    projected = ours["median"] * 1_000_000 / N
    results["ours"] = {"seconds": ours, "cpu_seconds": summary(cpu),
                       "beneficiaries_per_s": rate(N, ours["median"]), "rss_mib": rss,
                       **memory_flat(rss, runtime.settings.sqlite_cache_mib), "total_fen_per_month": ours_total}
    results["peer_result"] = {"seconds": theirs, "beneficiaries_per_s": rate(N, theirs["median"]),
                              "total_fen": ours_total}
    results["ratio_ours_to_peer"] = round(ours["median"] / theirs["median"], 1)
    results["projected_seconds_for_1m"] = round(projected, 1)
    results["goal_met"] = projected <= GOAL_S and results["ours"]["memory_flat"]
    if projected > GOAL_S:
        results["goal_missed_by"] = f"{projected / GOAL_S:.1f}x ({projected - GOAL_S:.0f} s over, projected linearly)"
    results["load_average"] = os.getloadavg()
    results["projection_rebuild"] = ("not measured: the facts are seeded in bulk, not through the log, so a replay "
                                     "of the payments projection would start from an empty log and wipe them")

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    with ctx.session_factory() as session, session.begin():
        projection.materialize_through(session, REGION, PROFILED[0], now=PROFILED[1])
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    results["profile_top"] = [line.rstrip() for line in text.splitlines() if line.strip()][:60]
    runtime.close()
    results["peak_rss_mib"] = peak_rss_mib()
    write_results("entitlements", results)


if __name__ == "__main__":
    main()
