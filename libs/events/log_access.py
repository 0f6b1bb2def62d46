"""Reading the log by position, for operators: where each partition ends, one record at an offset,
a dead letter's copy in its dead-letter topic. Works on both logs (Kafka and its SQLite twin).

Kept apart from the logs' consumer protocol on purpose: consumers read by group; these reads
belong to no group and commit nothing.
"""
from __future__ import annotations

import time
from typing import Sequence

from sqlalchemy import select

from .log import EventLog, Record

READ_TIMEOUT_S = 15
MAX_DEAD_LETTER_SCAN = 100_000  # records of a dead-letter topic searched for one copy


def partition_ends(log: EventLog, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """The next offset of every partition of `topics` (0 for an empty one)."""
    from .kafka_log import KafkaLog
    from .sqlite_log import SqliteLog

    if isinstance(log, SqliteLog):
        return {(topic, 0): end for topic, end in log.end_offsets(topics).items()}
    if isinstance(log, KafkaLog):
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=log.bootstrap, client_id=f"{log.client_id}-ops")
        try:
            parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            return {(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()
    raise TypeError(f"no positional reads on {type(log).__name__}")


def read_record(log: EventLog, topic: str, partition: int, offset: int) -> Record | None:
    """The record at (topic, partition, offset), or None if the log no longer holds it."""
    from .kafka_log import KafkaLog
    from .sqlite_log import SqliteLog, _unpack_headers, log_records

    if isinstance(log, SqliteLog):
        with log.engine.connect() as conn:
            row = conn.execute(select(log_records).where(
                log_records.c.topic == topic, log_records.c.offset == offset)).first()
        if row is None or partition != 0:
            return None
        return Record(row.topic, row.key, row.value, _unpack_headers(row.headers), 0, row.offset)
    if isinstance(log, KafkaLog):
        for record in _kafka_scan(log, topic, [partition], start={partition: offset}, limit=1):
            return record if record.offset == offset else None
        return None
    raise TypeError(f"no positional reads on {type(log).__name__}")


def find_dead_letter_copy(log: EventLog, dead_letter_topic: str, source: str) -> Record | None:
    """The copy a consumer published to its dead-letter topic of the record at `source`
    ("topic/partition/offset"), with the original topic, partition and offset restored."""
    from .kafka_log import KafkaLog
    from .sqlite_log import SqliteLog, _unpack_headers, log_records

    if isinstance(log, SqliteLog):
        with log.engine.connect() as conn:
            rows = conn.execute(select(log_records).where(log_records.c.topic == dead_letter_topic)
                                .order_by(log_records.c.offset).limit(MAX_DEAD_LETTER_SCAN)).all()
        found = [Record(r.topic, r.key, r.value, _unpack_headers(r.headers), 0, r.offset) for r in rows]
    elif isinstance(log, KafkaLog):
        found = _kafka_scan(log, dead_letter_topic, None, start=None, limit=MAX_DEAD_LETTER_SCAN)
    else:
        raise TypeError(f"no positional reads on {type(log).__name__}")
    for record in found:
        headers = dict(record.headers)
        if headers.get("source", b"").decode() == source:
            topic, partition, offset = source.rsplit("/", 2)
            kept = tuple((k, v) for k, v in record.headers if k not in {"error", "consumer", "source"})
            return Record(topic, record.key, record.value, kept, int(partition), int(offset))
    return None


def _kafka_scan(log, topic: str, partitions: list[int] | None, start: dict[int, int] | None,  # noqa: ANN001
                limit: int) -> list[Record]:
    """Up to `limit` records of `topic` from `start` (or the beginning) to the current ends."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=log.bootstrap, client_id=f"{log.client_id}-ops",
                             enable_auto_commit=False, group_id=None)
    try:
        known = consumer.partitions_for_topic(topic) or set()
        parts = [TopicPartition(topic, p) for p in sorted(known) if partitions is None or p in partitions]
        if not parts:
            return []
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        for tp in parts:
            if start is not None:
                consumer.seek(tp, start[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        out: list[Record] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while len(out) < limit and time.monotonic() < deadline:
            if all(consumer.position(tp) >= ends[tp] for tp in parts):
                break
            for tp, messages in consumer.poll(timeout_ms=500, max_records=min(limit - len(out), 2000)).items():
                for m in messages:
                    out.append(Record(tp.topic, m.key or b"", m.value, tuple(m.headers or ()), tp.partition, m.offset))
        return out[:limit]
    finally:
        consumer.close()
