"""Going live (issue 11), the claims side of the wages kind: imported wage history projected into
`claims_legacy_wages` by the real consumer path, its cost a row as the table grows.

Ours: `WageHistoryImported` events (1,000 rows each, as the levy service records them) published
to the embedded log as the relay publishes them, a request's worth at a time (CHUNK_ROWS rows, the
import's chunk), each drained by the claims service's own `ConsumerRunner` of
`ClaimsWagesProjection` on a claims database made by its migrations — the decode, the
processed-id marks, the projection's insert, the positions, the offsets: what the embedded pump
does for the claims service after each request. The publish is timed apart (the log's share).

Peer, same run, same rows: a bare sqlite3 `executemany` of the same (period, employer_id,
employee_id, wage_fen) tuples into a table of the same shape (WITHOUT ROWID, the same key: the
table's own, read from services.claims.tables,
INSERT … ON CONFLICT DO NOTHING), one transaction a chunk, at the connection's default page
cache (2 MiB) — the floor of SQLite's own work for these rows.

The rows are the import bench's book (bench/bench_import.py): a month at a time, the workers in
file order, worker w at employer w % employers (twenty workers an employer), the ids as the
enrollment service makes them (a prefix and 16 random hex digits), or with BENCH_LEGACY_IDS=ordered
the workers' ids sorting in the workers' order (as ids drawn from a time-ordered sequence in the
order the workers were imported sort; the employers' stay random). CPU seconds a row, by segment
of SEGMENT_ROWS rows: the last segment against the first says how the cost grows with the table.

BENCH_LEGACY_ROWS (2,400,000) · BENCH_LEGACY_SEGMENT_ROWS (600,000) · BENCH_LEGACY_CHUNK_ROWS (5,000)
· BENCH_LEGACY_SIDES (ours,peer) · BENCH_LEGACY_WORKERS (workers a month; ROWS / 12) ·
BENCH_LEGACY_IDS (random; ordered). Quick check: BENCH_LEGACY_ROWS=120000 BENCH_LEGACY_SEGMENT_ROWS=60000
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_mib, rate, rss_mib, write_results  # noqa: E402
from libs.db import make_engine, migrate, session_factory  # noqa: E402
from libs.events.consumer import ConsumerRunner  # noqa: E402
from libs.events.log import Record, Topics  # noqa: E402
from libs.events.relay import envelope_json, record_headers  # noqa: E402
from libs.events.sqlite_log import SqliteLog  # noqa: E402
from libs.events.store import dumps  # noqa: E402
from services.claims.tables import claims_legacy_wages  # noqa: E402

ROWS = int(os.environ.get("BENCH_LEGACY_ROWS", "2400000"))
SEGMENT_ROWS = int(os.environ.get("BENCH_LEGACY_SEGMENT_ROWS", "600000"))
CHUNK_ROWS = int(os.environ.get("BENCH_LEGACY_CHUNK_ROWS", "5000"))
SIDES = tuple(os.environ.get("BENCH_LEGACY_SIDES", "ours,peer").split(","))
RESULTS_NAME = os.environ.get("BENCH_LEGACY_RESULTS", "legacy_wages")
LINES_PER_EVENT = 1_000  # services/levy/imports.py
MONTHS = 12
# workers a month (BENCH_LEGACY_WORKERS; by default ROWS over the twelve months): the claims side's
# cost a row grows with it, so the province's 1,000,000 a month is shown by a few months of them
WORKERS = int(os.environ.get("BENCH_LEGACY_WORKERS", "0")) or max(20, ROWS // MONTHS)
EMPLOYERS = max(1, WORKERS // 20)
ORDERED_IDS = os.environ.get("BENCH_LEGACY_IDS", "random") == "ordered"


def months() -> list[str]:
    return [f"2025-{m:02d}" for m in range(1, MONTHS + 1)]


def chunks() -> list[list[tuple[str, str, str, int]]]:
    """The book's (period, employer_id, employee_id, wage_fen), CHUNK_ROWS at a time, in file order."""
    rng = random.Random(11)
    employers = [f"er_{rng.getrandbits(64):016x}" for _ in range(EMPLOYERS)]
    workers = [f"ee_{rng.getrandbits(64):016x}" for _ in range(WORKERS)]
    if ORDERED_IDS:  # the same ids given out in their order: worker w's sorts before worker w + 1's
        workers.sort()
    rows = list(islice(((period, employers[w % EMPLOYERS], workers[w], 600_000 + w % 500_000)
                        for period in months() for w in range(WORKERS)), ROWS))
    return [rows[i:i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]


def records(topic: str, chunk: list[tuple[str, str, str, int]], first_row: int) -> list[Record]:
    """The chunk as the relay publishes levy's WageHistoryImported (v2: the lines as columns)."""
    out = []
    for i in range(0, len(chunk), LINES_PER_EVENT):
        lines = chunk[i:i + LINES_PER_EVENT]
        periods, employer_ids, employee_ids, wages_fen = (list(c) for c in zip(*lines))
        number = first_row + i
        payload = {"import_id": "imp_bench", "employee_ids": employee_ids, "employer_ids": employer_ids,
                   "periods": periods, "wages_fen": wages_fen, "rows": list(range(number, number + len(lines))),
                   "legacy_ids": [f"W{number + k}" for k in range(len(lines))]}
        aggregate_id = f"wh_{uuid.uuid4().hex[:16]}"
        row = SimpleNamespace(
            event_id=str(uuid.uuid4()), type="WageHistoryImported", schema_version=2, aggregate_type="WageHistory",
            aggregate_id=aggregate_id, sequence=1, occurred_on=date(2026, 12, 1),
            recorded_at=datetime.now(timezone.utc).replace(tzinfo=None), causation_id=None, correlation_id=None,
            actor="bench", payload=dumps(payload))
        out.append(Record(topic, aggregate_id.encode(), envelope_json(row), record_headers("WageHistoryImported", 2)))
    return out


def segments(per_chunk: list[tuple[int, float, float]]) -> list[dict]:
    """(rows, cpu s, wall s) of each chunk, summed by segment of SEGMENT_ROWS rows."""
    out: list[dict] = []
    rows = cpu = wall = 0.0
    for n, c, w in per_chunk:
        rows, cpu, wall = rows + n, cpu + c, wall + w
        if rows >= SEGMENT_ROWS:
            out.append({"rows": int(rows), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                        "cpu_us_a_row": round(cpu / rows * 1e6, 2), "rows_per_cpu_s": rate(int(rows), cpu)})
            rows = cpu = wall = 0.0
    if rows:
        out.append({"rows": int(rows), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                    "cpu_us_a_row": round(cpu / rows * 1e6, 2), "rows_per_cpu_s": rate(int(rows), cpu)})
    return out


def ours(folder: Path, book: list[list[tuple]]) -> dict:
    import services.levy.domain.events  # noqa: F401 - registers WageHistoryImported, as the levy service does
    from services.claims.projections import ClaimsWagesProjection

    engine = make_engine(f"sqlite:///{folder / 'claims.db'}")
    migrate(engine, "claims")
    log = SqliteLog(make_engine(f"sqlite:///{folder / 'log.db'}"))
    topics = Topics("bench.")
    topic = topics.of("levy")
    runner = ConsumerRunner(ClaimsWagesProjection(SimpleNamespace()), session_factory(engine), log,
                            group="bench.claims.wages", topics=[topic], dead_letter_topic=topics.dead_letter("wages"))
    per_chunk, publish_cpu, first_row = [], 0.0, 2
    try:
        for chunk in book:
            batch = records(topic, chunk, first_row)
            first_row += len(chunk)
            c0 = time.process_time()
            log.publish(batch)
            c1, w1 = time.process_time(), time.perf_counter()
            runner.run_until_idle()
            per_chunk.append((len(chunk), time.process_time() - c1, time.perf_counter() - w1))
            publish_cpu += c1 - c0
        with engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM claims_legacy_wages").scalar()
        size = (folder / "claims.db").stat().st_size
    finally:
        runner.close()
        log.close()
        engine.dispose()
    return {"segments": segments(per_chunk), "rows_kept": count, "log_publish_cpu_s": round(publish_cpu, 2),
            "claims_db_mib": round(size / 2**20, 1)}


def peer(folder: Path, book: list[list[tuple]]) -> dict:
    path = folder / "peer.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    key = ", ".join(c.name for c in claims_legacy_wages.primary_key.columns)
    conn.execute("CREATE TABLE claims_legacy_wages (period VARCHAR(7) NOT NULL, employer_id VARCHAR(64) NOT NULL, "
                 f"employee_id VARCHAR(64) NOT NULL, wage_fen BIGINT NOT NULL, PRIMARY KEY ({key})) WITHOUT ROWID")
    statement = ("INSERT INTO claims_legacy_wages (period, employer_id, employee_id, wage_fen) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING")
    per_chunk = []
    for chunk in book:
        c0, w0 = time.process_time(), time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(statement, chunk)
        conn.execute("COMMIT")
        per_chunk.append((len(chunk), time.process_time() - c0, time.perf_counter() - w0))
    count = conn.execute("SELECT count(*) FROM claims_legacy_wages").fetchone()[0]
    conn.close()
    return {"segments": segments(per_chunk), "rows_kept": count, "db_mib": round(path.stat().st_size / 2**20, 1)}


def main() -> None:
    book = chunks()
    results: dict = {"rows": sum(map(len, book)), "segment_rows": SEGMENT_ROWS, "chunk_rows": CHUNK_ROWS,
                     "ids": "ordered" if ORDERED_IDS else "random",
                     "key": [c.name for c in claims_legacy_wages.primary_key.columns], "workers": WORKERS, "employers": EMPLOYERS, "load_average_before": os.getloadavg()[0]}
    for side in SIDES:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-legacy-{side}-"))
        try:
            results[side] = (ours if side == "ours" else peer)(folder, book)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        first, last = results[side]["segments"][0], results[side]["segments"][-1]
        results[side]["growth_last_over_first"] = round(last["cpu_us_a_row"] / first["cpu_us_a_row"], 2)
        print(f"{side:>5}: " + " · ".join(f"{s['cpu_us_a_row']} µs" for s in results[side]["segments"])
              + f" a row (CPU, by {SEGMENT_ROWS:,} rows); rss {rss_mib()} MiB", flush=True)
    if "ours" in results and "peer" in results:
        results["ours_over_peer_cpu"] = round(sum(s["cpu_s"] for s in results["ours"]["segments"])
                                              / sum(s["cpu_s"] for s in results["peer"]["segments"]), 2)
    results["load_average_after"] = os.getloadavg()[0]
    results["peak_rss_mib"] = peak_rss_mib()
    write_results(RESULTS_NAME, results)


if __name__ == "__main__":
    main()
