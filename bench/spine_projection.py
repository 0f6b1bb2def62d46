"""Log → projection events/s against the raw consume rate of the same log in the same run, and
replay events/s (an emptied projection reading the whole log again).

On Kafka the peer is kafka-python's own consumer reading the same topic with no processing; on
the embedded log it is the embedded consumer's raw poll. The projection writes one row per event
and its processed-event ids, in one transaction per batch, then commits offsets — the real path.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_mib, rate, timer, write_results  # noqa: E402
from libs.db import make_engine, session_factory  # noqa: E402
from libs.events.consumer import ConsumerRunner  # noqa: E402
from libs.events.log import Topics  # noqa: E402
from libs.events.relay import OutboxRelay  # noqa: E402
from libs.events.sqlite_log import SqliteLog  # noqa: E402
from libs.events.store import Context  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402
from libs.events.uow import UnitOfWork  # noqa: E402
from tests.spine.support import Account, TallyProjection, test_metadata  # noqa: E402

N_EVENTS = int(os.environ.get("BENCH_PROJECTION_EVENTS", "200000"))
PER_AGGREGATE = 100


def fill(sessions, topic: str) -> None:  # noqa: ANN001
    ctx = Context(actor="bench")
    for _ in range(N_EVENTS // PER_AGGREGATE):
        a = Account(uuid.uuid4().hex)
        for _ in range(PER_AGGREGATE):
            a.deposit(Decimal("1.00"))
        with UnitOfWork(sessions, topic, ctx) as u:
            u.save(a)


def raw_consume(log, group: str, topics: list[str]) -> float:  # noqa: ANN001
    consumer = log.consumer(group, topics)
    seen = 0
    with timer() as t:
        while seen < N_EVENTS:
            seen += len(consumer.poll(5000, 1000))
    consumer.close()
    return t["seconds"]


def kafka_raw_consume(bootstrap: str, topic: str) -> float:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=5000,
                             fetch_max_bytes=16 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024)
    seen = 0
    start = None
    while seen < N_EVENTS:
        batch = consumer.poll(timeout_ms=1000, max_records=5000)
        n = sum(len(v) for v in batch.values())
        if n and start is None:
            start = time.perf_counter()  # from the first record: group join is not throughput
        seen += n
    seconds = time.perf_counter() - start
    consumer.close()
    return seconds


def project(runner: ConsumerRunner) -> float:
    seen = 0
    start = None
    while seen < N_EVENTS:
        n = runner.run_once(timeout_ms=1000)
        if n and start is None:
            start = time.perf_counter()
        seen += n
    return time.perf_counter() - start


def run(kind: str, log, db_url: str, bootstrap: str | None = None) -> dict:  # noqa: ANN001
    engine = make_engine(db_url)
    core_metadata.create_all(engine)
    test_metadata.create_all(engine)
    sessions = session_factory(engine)
    topics = Topics(f"b{uuid.uuid4().hex[:8]}.")
    topic = topics.of("enrollment")
    if bootstrap:
        log.ensure_topics([topic])
    fill(sessions, topic)
    with timer() as relay_t:
        OutboxRelay(sessions, log, "enrollment", batch_size=5000).drain()
    raw_s = kafka_raw_consume(bootstrap, topic) if bootstrap else raw_consume(log, topics.prefix + "raw", [topic])
    group = topics.prefix + "tally"
    runner = ConsumerRunner(TallyProjection(), sessions, log, group, [topic], topics.dead_letter(group), max_batch=5000)
    projection_s = project(runner)
    runner.replay()
    replay_s = project(runner)
    with sessions() as s:
        assert TallyProjection().count(s) == N_EVENTS, "every event projected exactly once"
    runner.close()
    engine.dispose()
    raw, projected = rate(N_EVENTS, raw_s), rate(N_EVENTS, projection_s)
    return {"log": kind, "events": N_EVENTS, "relay_events_per_s": rate(N_EVENTS, relay_t["seconds"]),
            "raw_consume_events_per_s": raw, "projection_events_per_s": projected,
            "projection_vs_raw": round(projected / raw, 2), "replay_events_per_s": rate(N_EVENTS, replay_s)}


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    results: dict = {"peer": "raw consume of the same log (kafka-python KafkaConsumer on Kafka)"}
    log = SqliteLog(make_engine(f"sqlite:///{tmp / 'log.db'}"))
    results["embedded"] = run("embedded (SQLite log, SQLite projection)", log, f"sqlite:///{tmp / 'svc.db'}")
    bootstrap = os.environ.get("INJURYLEDGER_TEST_KAFKA")
    if bootstrap:
        from libs.events.kafka_log import KafkaLog
        from tests.harness.servers import PostgresServer

        url = PostgresServer().fresh_database("il_bench_projection")
        kafka = KafkaLog(bootstrap)
        results["kafka"] = run("Kafka → PostgreSQL projection", kafka, url, bootstrap)
        kafka.close()
    results["peak_rss_mib"] = peak_rss_mib()
    write_results("spine_projection", results)


if __name__ == "__main__":
    main()
