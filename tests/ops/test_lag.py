"""`lag(group, topics)` and `log_end(topics)` of both event logs: the log end minus what the
group committed, per partition — on the SQLite twin and on a real Kafka broker."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from libs.db import make_engine
from libs.events.kafka_log import KafkaLog
from libs.events.log import Record
from libs.events.sqlite_log import SqliteLog

MAX_POLLS = 300


def test_sqlite_log_lag(tmp_path: Path) -> None:
    log = SqliteLog(make_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    log.publish([Record("a", b"k", b"v")] * 5 + [Record("b", b"k", b"v")] * 2)
    assert log.log_end(["a", "b", "c"]) == {("a", 0): 5, ("b", 0): 2, ("c", 0): 0}
    assert log.lag("g", ["a", "b"]) == {("a", 0): 5, ("b", 0): 2}  # never committed: all of it
    consumer = log.consumer("g", ["a", "b"])
    records = consumer.poll(3)
    consumer.commit(records)
    assert log.lag("g", ["a", "b"]) == {("a", 0): 2, ("b", 0): 2}
    assert log.lag("other", ["a"]) == {("a", 0): 5}
    log.close()


@pytest.mark.kafka
def test_kafka_log_lag_per_partition(kafka_bootstrap: str) -> None:
    run = uuid.uuid4().hex[:8]
    topic, group = f"t{run}.lag", f"t{run}.lag-group"
    log = KafkaLog(kafka_bootstrap, client_id=f"t{run}")
    try:
        log.ensure_topics([topic], partitions=2)
        log.publish([Record(topic, f"key-{i}".encode(), b"v") for i in range(20)])
        ends = log.log_end([topic])
        assert set(ends) == {(topic, 0), (topic, 1)} and sum(ends.values()) == 20
        assert log.lag(group, [topic]) == ends  # a group that never committed starts at the beginning

        consumer = log.consumer(group, [topic])
        got: list[Record] = []
        for _ in range(MAX_POLLS):  # a new group is assigned its partitions after a rebalance
            got += consumer.poll(100, 100)
            if len(got) == 20:
                break
        assert len(got) == 20
        consumer.commit([r for r in got if r.partition == 0])
        assert log.lag(group, [topic]) == {(topic, 0): 0, (topic, 1): ends[(topic, 1)]}
        consumer.close()
    finally:
        log.close()
