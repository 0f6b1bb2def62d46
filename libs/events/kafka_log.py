"""The event log over a real Apache Kafka broker (kafka-python).

Producer: acks=all (idempotent by default in kafka-python 3), key = aggregate id, so one
aggregate's events land in one partition in order. Consumer: a group with auto-commit off; the
caller commits offset + 1 only after its database transaction has committed.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from .log import Record

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 30
DEFAULT_PARTITIONS = 4
METADATA_WAIT_S = 30


class KafkaLog:
    def __init__(self, bootstrap: str, client_id: str = "injuryledger") -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._producer: KafkaProducer | None = None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                linger_ms=5,
                batch_size=256 * 1024,
                max_request_size=4 * 1024 * 1024,
                request_timeout_ms=15_000,
                retries=2**31 - 1,
                delivery_timeout_ms=PUBLISH_TIMEOUT_S * 1000,
            )
        return self._producer

    def ensure_topics(self, topics: Sequence[str], partitions: int = DEFAULT_PARTITIONS) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            existing = set(admin.list_topics())
            wanted = {t: {"num_partitions": partitions, "replication_factor": 1}
                      for t in topics if t not in existing}
            if wanted:
                try:
                    admin.create_topics(wanted, wait_for_metadata=True)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()

    def publish(self, records: Sequence[Record]) -> None:
        """Durable on return: every record acknowledged by all in-sync replicas, or an error."""
        futures = [
            self.producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))
            for r in records
        ]
        self.producer.flush(timeout=PUBLISH_TIMEOUT_S)
        for future in futures:
            future.get(timeout=PUBLISH_TIMEOUT_S)

    def consumer(self, group: str, topics: Sequence[str]) -> "KafkaGroupConsumer":
        return KafkaGroupConsumer(self.bootstrap, group, topics)

    def reset_group(self, group: str, topics: Sequence[str]) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            admin.delete_groups([group])  # no committed offsets → auto_offset_reset=earliest
        except Exception as exc:  # a group that never committed does not exist yet
            log.info("reset of group %s: %s", group, exc)
        finally:
            admin.close()

    def close(self, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        if self._producer is not None:
            self._producer.close(timeout=timeout_s)
            self._producer = None


class KafkaGroupConsumer:
    def __init__(self, bootstrap: str, group: str, topics: Sequence[str]) -> None:
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_poll_interval_ms=300_000,
            metadata_max_age_ms=5_000,  # notice new topics and partitions soon
        )
        # Join the group only once the topics' partitions are known: a group that assigns before
        # the metadata arrives assigns nothing, and waits for the next metadata refresh.
        deadline = time.monotonic() + METADATA_WAIT_S
        while any(not self._consumer.partitions_for_topic(t) for t in topics):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partition metadata for {list(topics)} after {METADATA_WAIT_S}s")
            time.sleep(0.1)

    def poll(self, max_records: int, timeout_ms: int) -> list[Record]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        out: list[Record] = []
        for tp, messages in batches.items():
            for m in messages:
                headers = tuple((k, v) for k, v in (m.headers or []))
                out.append(Record(tp.topic, m.key or b"", m.value, headers, tp.partition, m.offset))
        return out

    def commit(self, records: Sequence[Record]) -> None:
        last: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            last[tp] = max(last.get(tp, -1), r.offset)
        if last:
            self._consumer.commit({tp: OffsetAndMetadata(o + 1, None, -1) for tp, o in last.items()})

    def seek_to_beginning(self) -> None:
        self._consumer.seek_to_beginning()

    def close(self) -> None:
        self._consumer.close(autocommit=False)
