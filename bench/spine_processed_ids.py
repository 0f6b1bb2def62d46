"""The consumers' processed-id bookkeeping on SQLite alone: CPU microseconds an id that
`mark_processed` takes, with `processed_events` as a WITHOUT ROWID table (core v7, ours) against
the rowid table of core v1–v6 (the peer), in the same run, alternating, in one process.

A group marks N ids in batches of MAX_BATCH (a projection), its ids are deleted (the reset of a
replay) and it marks them again (the replay), each batch one transaction as the runner's; a second
group's N ids are already in the table (a database holds several consumers). Ours is made by
the table's own definition (libs/events/tables.py), the peer by the same DDL without its WITHOUT
ROWID (the table of core v1–v6). Median (min–max) of the rounds.
BENCH_IDS (default 200,000), BENCH_ROUNDS (5).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete  # noqa: E402
from sqlalchemy.dialects import sqlite  # noqa: E402
from sqlalchemy.schema import CreateTable  # noqa: E402

from bench.common import scratch_dir, write_results  # noqa: E402
from bench.spine_rounds import spread  # noqa: E402
from libs.db import make_engine, writing, session_factory  # noqa: E402
from libs.events.consumer import MAX_BATCH, mark_processed  # noqa: E402
from libs.events.envelope import new_event_ids  # noqa: E402
from libs.events.tables import processed_events  # noqa: E402

N = int(os.environ.get("BENCH_IDS", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
OURS = str(CreateTable(processed_events).compile(dialect=sqlite.dialect()))
assert " WITHOUT ROWID" in OURS, "processed_events is no longer WITHOUT ROWID on SQLite"
DDL = {"rowid (core v1-v6)": OURS.replace(" WITHOUT ROWID", ""), "without rowid (core v7)": OURS}


def mark_all(sessions, group: str, ids: list[str]) -> float:  # noqa: ANN001
    cpu = time.process_time()
    for start in range(0, len(ids), MAX_BATCH):
        with writing(sessions) as session:
            fresh = mark_processed(session.connection(), group, ids[start:start + MAX_BATCH])
            assert len(fresh) == len(ids[start:start + MAX_BATCH])
    return time.process_time() - cpu


def one_round(ddl: str, folder: Path, r: int) -> dict:
    engine = make_engine(f"sqlite:///{folder / f'r{r}.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(ddl)
    sessions = session_factory(engine)
    mark_all(sessions, "enrollment.other", [str(i) for i in new_event_ids(N)])
    ids = [str(i) for i in new_event_ids(N)]
    group = "enrollment.tally"
    projection = mark_all(sessions, group, ids)
    with writing(sessions) as session:
        session.execute(delete(processed_events).where(processed_events.c.consumer == group))
    replay = mark_all(sessions, group, ids)
    engine.dispose()
    (folder / f"r{r}.db").unlink()
    return {"projection_us_an_id": projection / N * 1e6, "replay_us_an_id": replay / N * 1e6}


def main() -> None:
    folder = scratch_dir("spine-processed-ids")
    runs: dict[str, list[dict]] = {name: [] for name in DDL}
    for r in range(ROUNDS):
        for name, ddl in DDL.items():
            runs[name].append(one_round(ddl, folder, r))
            print(f"round {r + 1}/{ROUNDS} {name}: {runs[name][-1]}", flush=True)
    results: dict = {"ids": N, "batch": MAX_BATCH, "rounds": ROUNDS, "unit": "CPU µs an id, median (min–max)",
                     "load_avg_1m": round(os.getloadavg()[0], 1)}
    for name, rounds in runs.items():
        results[name] = {k: spread([x[k] for x in rounds]) for k in rounds[0]}
    ours, peer = runs["without rowid (core v7)"], runs["rowid (core v1-v6)"]
    for k in ours[0]:
        results[f"{k}_ours_vs_peer"] = spread([o[k] / p[k] for o, p in zip(ours, peer)])
    write_results("spine_processed_ids", results)
    folder.rmdir()


if __name__ == "__main__":
    main()
