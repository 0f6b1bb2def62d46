"""Where a payment run's time goes, statement by statement, on a snapshot made once (issue 12).

`bench/bench_payment_run.py` times the whole route three times on fresh regions; this times
`runs.create_run` alone, many times on the same database, so that two versions of the code can
take turns on the same bytes (run it with each tree's PYTHONPATH):

    python bench/payment_run_statements.py snapshot DIR      # untimed: the bench's own setup
    python bench/payment_run_statements.py run DIR [--files] # one timed run on a copy of DIR

The snapshot is the bench's round 2: region A's BENCH_PAYEES lines paid by a run (proposed and
approved: its locks in the lock), region B's as many lines pending, written as the bench writes
them (LIKE_REAL: in an order scattered over the payees, as the engine writes a month claim by claim);
BENCH_PAID_MONTHS=1 gives B a paid month before as well. `run` copies DIR, opens the embedded
runtime on the copy (migrating it first, untimed), times create_run(B) — CPU by process_time,
wall by perf_counter — and each SQL statement's thread CPU (SQLAlchemy's cursor events, keyed by
the statement's first words); `--files` then times every bank's checked pain.001 file as the
route builds it. One JSON object on stdout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_payment_run as bench  # noqa: E402
from bench.common import embedded_runtime, peak_rss_mib, scratch_dir  # noqa: E402

REGION_A, REGION_B = "440300", "440400"


def snapshot(folder: Path) -> dict:
    runtime, _tmp = embedded_runtime("payment-run-snapshot", folder)
    app = runtime.app()
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"Authorization": f"Bearer {bench.TOKEN}"}) as api:
        for region in (REGION_A, REGION_B):
            bench.publish_policy(api, region)
    bench.ensure_lines_table(runtime)
    bench.fill_lines(runtime, REGION_A, bench.PAYEES, "b")
    paid = bench.post_run(app, REGION_A)
    bench.approve_run(app, paid["run_id"])
    for n, period in enumerate(bench.earlier_months(bench.PAID_MONTHS)):
        bench.fill_lines(runtime, REGION_B, bench.PAYEES, "c", period, accounts_too=n == 0)
        earlier = bench.post_run(app, REGION_B, period)
        bench.approve_run(app, earlier["run_id"])
    bench.fill_lines(runtime, REGION_B, bench.PAYEES, "c", accounts_too=not bench.PAID_MONTHS)
    runtime.close()
    return {"snapshot": str(folder), "payees": bench.PAYEES, "paid_months": bench.PAID_MONTHS}


def _statement_name(sql: str) -> str:
    words = re.sub(r"\s+", " ", sql.strip()).split(" ")
    head = " ".join(words[:3])
    for table in ("tmp_run_lines", "tmp_run_payees", "payout_lines", "payouts", "payout_members", "payment_runs"):
        if table in " ".join(words[:4]):
            return f"{head} [{table}]"
    return head[:60]


def run(folder: Path, files: bool) -> dict:
    from sqlalchemy import event

    from libs.web.auth import Principal
    from services.payments.payouts import pain001, xsd
    from services.payments.payouts.runs import create_run

    work = scratch_dir("payment-run-copy") / "copy"
    shutil.copytree(folder, work)
    import logging

    from libs.runtime.embedded import EmbeddedRuntime
    from libs.settings import Settings

    logging.disable(logging.INFO)
    os.environ["INJURYLEDGER_AGENCY_TOKEN"] = bench.TOKEN
    runtime = EmbeddedRuntime(Settings(data_dir=work / "data", agency_token=bench.TOKEN, log_json=False))
    ctx = runtime.services["payments"].ctx
    statements: dict[str, float] = defaultdict(float)
    started: list[float] = []

    @event.listens_for(ctx.engine, "before_cursor_execute")
    def _before(*_args) -> None:  # noqa: ANN002
        started.append(time.thread_time())

    @event.listens_for(ctx.engine, "after_cursor_execute")
    def _after(_conn, _cursor, sql, *_args) -> None:  # noqa: ANN001, ANN002
        statements[_statement_name(sql)] += time.thread_time() - started.pop()

    principal = Principal(client_id="bench", role="agency", person="bench-maker")
    import resource

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    created = create_run(ctx, principal, REGION_B, bench.PERIOD, date(2026, 11, 30))
    cpu1, wall1 = time.process_time(), time.perf_counter()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    assert created.count == bench.PAYEES, created.count
    out = {"run_cpu_s": round(cpu1 - cpu0, 2), "run_wall_s": round(wall1 - wall0, 2),
           "run_user_s": round(usage1.ru_utime - usage0.ru_utime, 2),
           "run_system_s": round(usage1.ru_stime - usage0.ru_stime, 2),
           "statements_cpu_s": {k: round(v, 2) for k, v in sorted(statements.items(), key=lambda kv: -kv[1])
                                if v >= 0.05},
           "outside_statements_cpu_s": round(cpu1 - cpu0 - sum(statements.values()), 2),
           "load": os.getloadavg()[0]}
    if files:
        fund = {"name": "fund", "bank_code": "102584000002", "account_no": "40000234092001"}
        cpu2, wall2 = bench.cpu_seconds(), time.perf_counter()
        count = 0
        for bank in bench.BANKS:
            with ctx.session_factory() as session:
                n, total = pain001.totals(session, created.run_id, bank[:3])
            header = pain001.FileHeader(created.run_id, bank[:3], n, total, date(2026, 11, 30),
                                        datetime.now(timezone.utc), fund)
            for _chunk in xsd.checked(pain001.pain001(ctx.session_factory, header)):
                pass
            count += n
        assert count == bench.PAYEES, count
        out |= {"files_cpu_s": round(bench.cpu_seconds() - cpu2, 2), "files_wall_s": round(time.perf_counter() - wall2, 2)}
    runtime.close()
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def main() -> None:
    verb, folder = sys.argv[1], Path(sys.argv[2])
    if verb == "snapshot":
        print(json.dumps(snapshot(folder)))
    elif verb == "run":
        print(json.dumps(run(folder, "--files" in sys.argv[3:])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
