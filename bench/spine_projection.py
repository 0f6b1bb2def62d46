"""Log → projection events/s against the raw consume rate of the same log in the same run, and
replay events/s (an emptied projection reading the whole log again), whose rebuilt state must hash
the same as the live one.

On Kafka the peer is kafka-python's own consumer reading the same topic with no processing, tuned
exactly as ours (libs.events.kafka_log.CONSUMER_TUNING: fetch sizes, records per poll); on the
embedded log it is the embedded consumer's raw poll. The projection (tests/spine/support.py's
tally) writes one row per event and its processed-event ids, in one transaction per batch, then
commits offsets: the real consumer path (ConsumerRunner.run_once).

The log is filled once; then three rounds, each in processes of their own (bench/spine_rounds.py):
the raw consume, the projection by a new consumer group, the replay. Median (min–max) and peak
memory; where a goal is missed, a profile of our path is kept in the results file.
Quick check: BENCH_PROJECTION_EVENTS=60000 (more than a batch, MAX_BATCH: the clock starts when the
first batch is in, and only what comes after it is counted). BENCH_PROJECTION_LOGS=kafka (or embedded) runs one log
only; BENCH_DB_SUFFIX (e.g. `_mine`) is added to the PostgreSQL database's name (il_bench_projection),
so that two runs on one server do not drop each other's (the topics are named afresh each run).
"""
from __future__ import annotations

import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import rate, scratch_dir, timer, write_results  # noqa: E402
from bench.spine_rounds import ROUNDS, in_child, spread, summarize  # noqa: E402
from libs.db import make_engine, session_factory  # noqa: E402
from libs.events.consumer import ConsumerRunner  # noqa: E402
from libs.events.log import Topics  # noqa: E402
from libs.events.relay import OutboxRelay  # noqa: E402
from libs.events.sqlite_log import SqliteLog  # noqa: E402
from libs.events.store import Context  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402
from libs.events.uow import UnitOfWork  # noqa: E402
from libs.events.consumer import MAX_BATCH  # noqa: E402
from tests.spine.support import Account, TallyProjection, test_metadata  # noqa: E402

N_EVENTS = int(os.environ.get("BENCH_PROJECTION_EVENTS", "200000"))
assert N_EVENTS >= 2 * MAX_BATCH, f"BENCH_PROJECTION_EVENTS must be at least two batches ({2 * MAX_BATCH}): the first is not timed"
PER_AGGREGATE = 100
REPLAY_GOAL_EMBEDDED = 100_000  # events/s
KAFKA_GOAL = 0.8  # × the raw consume rate, projection and replay
PROFILE_LINES = 60
LOGS = os.environ.get("BENCH_PROJECTION_LOGS", "embedded,kafka").split(",")
DB_NAME = "il_bench_projection" + os.environ.get("BENCH_DB_SUFFIX", "")


def fill(sessions, topic: str) -> None:  # noqa: ANN001
    ctx = Context(actor="bench")
    for _ in range(N_EVENTS // PER_AGGREGATE):
        a = Account(uuid.uuid4().hex)
        for _ in range(PER_AGGREGATE):
            a.deposit(Decimal("1.00"))
        with UnitOfWork(sessions, topic, ctx) as u:
            u.save(a)


class Setup:
    """Where one log's run lives: the log, the service database, the topic."""

    def __init__(self, kind: str, db_url: str, log_url: str | None, bootstrap: str | None) -> None:
        self.kind, self.db_url, self.log_url, self.bootstrap = kind, db_url, log_url, bootstrap
        self.topics = Topics(f"b{uuid.uuid4().hex[:8]}.")
        self.topic = self.topics.of("enrollment")

    def log(self):  # noqa: ANN201
        if self.bootstrap:
            from libs.events.kafka_log import KafkaLog

            return KafkaLog(self.bootstrap)
        return SqliteLog(make_engine(self.log_url))

    def sessions(self):  # noqa: ANN201
        engine = make_engine(self.db_url)
        core_metadata.create_all(engine)
        test_metadata.create_all(engine)
        return engine, session_factory(engine)


def fill_and_relay(setup: Setup) -> dict:
    engine, sessions = setup.sessions()
    log = setup.log()
    if setup.bootstrap:
        log.ensure_topics([setup.topic])
    fill(sessions, setup.topic)
    with timer() as relay_t:
        OutboxRelay(sessions, log, "enrollment", batch_size=5000).drain()
    log.close()
    engine.dispose()
    return {"relay_events_per_s": rate(N_EVENTS, relay_t["seconds"])}


def raw_consume(setup: Setup, r: int) -> dict:
    """The peer: read every record of the topic, nothing else."""
    if setup.bootstrap:
        from kafka import KafkaConsumer

        from libs.events.kafka_log import CONSUMER_TUNING

        consumer = KafkaConsumer(setup.topic, bootstrap_servers=setup.bootstrap, group_id=f"raw-{r}-{uuid.uuid4().hex[:6]}",
                                 auto_offset_reset="earliest", enable_auto_commit=False, **CONSUMER_TUNING)
        poll = lambda: sum(len(v) for v in consumer.poll(timeout_ms=1000, max_records=MAX_BATCH).values())  # noqa: E731
    else:
        consumer = setup.log().consumer(setup.topics.prefix + f"raw{r}", [setup.topic])
        poll = lambda: len(consumer.poll(MAX_BATCH, 1000))  # noqa: E731
    seen, start, cpu_start, before = 0, None, 0.0, 0
    while seen < N_EVENTS:
        n = poll()
        seen += n
        if n and start is None:  # from the first poll with records: joining a group is not throughput
            start, cpu_start, before = time.perf_counter(), time.process_time(), seen
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    consumer.close()
    timed = seen - before  # the records read after the clock started, not those of the poll that started it
    return {"raw_consume_events_per_s": rate(timed, seconds), "raw_consume_events_per_cpu_s": rate(timed, cpu_s)}


def drain(runner: ConsumerRunner) -> tuple[float, float, int]:
    """Seconds from the end of the first batch to the last, wall and CPU (this process's, every
    thread's: on a shared machine the wall rate is mostly the share of the cores the run was
    given), and the events applied in them — not the first batch's, applied before the clock
    started (the peer's clock likewise leaves its first poll out). Until every event is applied,
    not until N records were read: a group rebalanced under load reads some records again
    (skipped by their ids), and the live state must be whole."""
    start, cpu_start, target, before = None, 0.0, runner.applied + N_EVENTS, 0
    while runner.applied < target:
        n = runner.run_once(timeout_ms=1000)
        if n and start is None:
            start, cpu_start, before = time.perf_counter(), time.process_time(), runner.applied
    return time.perf_counter() - start, time.process_time() - cpu_start, runner.applied - before


def project_and_replay(setup: Setup, r: int, profile: bool = False) -> dict:
    """A new group projects the whole topic into an emptied tally, then replays it from the start."""
    engine, sessions = setup.sessions()
    log = setup.log()
    projection = TallyProjection()
    with sessions.begin() as s:
        projection.reset(s)
    group = setup.topics.prefix + f"tally{r}"
    runner = ConsumerRunner(projection, sessions, log, group, [setup.topic], setup.topics.dead_letter(group),
                            max_batch=MAX_BATCH)
    projection_s, projection_cpu_s, projected = drain(runner)
    with sessions() as s:
        live_hash = projection.state_hash(s)
    runner.replay()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    replay_s, replay_cpu_s, replayed = drain(runner)
    if profiler:
        profiler.stop()
    with sessions() as s:
        assert projection.count(s) == N_EVENTS, "every event projected exactly once"
        assert projection.state_hash(s) == live_hash, "the rebuilt state hashes as the live one"
    runner.close()
    log.close()
    engine.dispose()
    out = {"projection_events_per_s": rate(projected, projection_s), "replay_events_per_s": rate(replayed, replay_s),
           "projection_events_per_cpu_s": rate(projected, projection_cpu_s),
           "replay_events_per_cpu_s": rate(replayed, replay_cpu_s), "rebuilt_hash_equals_live": True}
    if profiler:
        out = {"lines": profiler.output_text(unicode=False, color=False).splitlines()[:PROFILE_LINES]}
    return out


def run(setup: Setup) -> dict:
    out: dict = {"log": setup.kind, "events": N_EVENTS, **in_child(fill_and_relay, setup)}
    raws, ours = [], []
    for r in range(ROUNDS):
        raws.append(in_child(raw_consume, setup, r))
        ours.append(in_child(project_and_replay, setup, r))
        print(f"round {r + 1}/{ROUNDS} {setup.kind}: {raws[-1]} {ours[-1]}", flush=True)
    out["raw_consume"] = summarize(raws)
    out["ours"] = summarize(ours)
    key = "raw_consume_events_per_s"
    out["projection_vs_raw"] = spread([o["projection_events_per_s"] / w[key] for o, w in zip(ours, raws)])
    out["replay_vs_raw"] = spread([o["replay_events_per_s"] / w[key] for o, w in zip(ours, raws)])
    out["rebuilt_hash_equals_live"] = all(o["rebuilt_hash_equals_live"] for o in ours)
    if setup.bootstrap:
        out["goal"] = f"projection and replay ≥ {KAFKA_GOAL} × raw"
        out["goal_met"] = min(out["projection_vs_raw"]["median"], out["replay_vs_raw"]["median"]) >= KAFKA_GOAL
    else:
        out["goal"] = f"replay ≥ {REPLAY_GOAL_EMBEDDED:,} events/s"
        out["goal_met"] = out["ours"]["replay_events_per_s"]["median"] >= REPLAY_GOAL_EMBEDDED
    if not out["goal_met"]:
        out["profile_replay"] = in_child(project_and_replay, setup, ROUNDS, True)["lines"]
    return out


def main() -> None:
    tmp = scratch_dir("spine-projection")
    results: dict = {"peer": "raw consume of the same log, same tuning (kafka-python KafkaConsumer on Kafka)",
                     "rounds": "fill once; 3 rounds, each part in its own process; median (min–max)"}
    if "embedded" in LOGS:
        results["embedded"] = run(Setup("embedded (SQLite log, SQLite projection)", f"sqlite:///{tmp / 'svc.db'}",
                                        f"sqlite:///{tmp / 'log.db'}", None))
    bootstrap = os.environ.get("INJURYLEDGER_TEST_KAFKA")
    if bootstrap and "kafka" in LOGS:
        from tests.harness.servers import PostgresServer

        url = PostgresServer().fresh_database(DB_NAME)
        results["kafka"] = run(Setup("Kafka → PostgreSQL projection", url, None, bootstrap))
    write_results("spine_projection", results)


if __name__ == "__main__":
    main()
