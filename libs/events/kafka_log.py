"""The event log over a real Apache Kafka broker (kafka-python).

Producer: acks=all (idempotent by default in kafka-python 3), key = aggregate id, so one
aggregate's events land in one partition in order. Consumer: a group with auto-commit off; the
caller commits offset + 1 only after its database transaction has committed.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from .kafka_records import install as read_records_as_ours
from .log import Record, next_offsets

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 30
DEFAULT_PARTITIONS = 4
METADATA_WAIT_S = 30
ADMIN_TIMEOUT_MS = 5_000  # a status or readiness check answers within seconds, broker or not

# How a consumer group reads: big fetches and up to a runner's largest batch per poll (a batch is
# one database transaction). No minimum fetch size: an event alone is read at once (the
# distributed runtime's reads wait for their writes' events). The benchmark's raw peer reads with
# exactly these.
CONSUMER_TUNING = {
    "max_poll_records": 20_000,  # a runner's largest batch (libs.events.consumer.MAX_BATCH)
    "fetch_max_bytes": 32 * 1024 * 1024,
    "max_partition_fetch_bytes": 8 * 1024 * 1024,
    "receive_buffer_bytes": 4 * 1024 * 1024,
}


class KafkaLog:
    def __init__(self, bootstrap: str, client_id: str = "injuryledger") -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._producer: KafkaProducer | None = None
        self._admin: KafkaAdminClient | None = None  # for lag and log ends, kept between checks
        self._admin_lock = threading.Lock()

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

    def publish(self, records: Sequence[Record]) -> list[tuple[int, int]]:
        """Durable on return: every record acknowledged by all in-sync replicas, or an error.
        Returns the (partition, offset) each record was written at."""
        futures = [
            self.producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))
            for r in records
        ]
        self.producer.flush(timeout=PUBLISH_TIMEOUT_S)
        positions = []
        for future in futures:
            metadata = future.get(timeout=PUBLISH_TIMEOUT_S)
            positions.append((metadata.partition, metadata.offset))
        return positions

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

    def log_end(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The next offset of each (topic, partition) of `topics` (missing topics are left out)."""
        return {(tp.topic, tp.partition): end for tp, end in self._admin_call(self._ends, topics).items()}

    def lag(self, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Records of each (topic, partition) the group has not committed yet: the log end minus
        the committed offset (minus the log start where the group never committed)."""
        return self._admin_call(self._lag, group, topics)

    def _admin_call(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        """One admin client for every check, rebuilt after a failure (the broker went away)."""
        with self._admin_lock:
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(
                        bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin",
                        request_timeout_ms=ADMIN_TIMEOUT_MS, bootstrap_timeout_ms=ADMIN_TIMEOUT_MS)
                return fn(self._admin, *args)
            except Exception:
                self._close_admin()
                raise

    @staticmethod
    def _partitions(admin: KafkaAdminClient, topics: Sequence[str]) -> list[TopicPartition]:
        return [TopicPartition(t["name"], p["partition_index"])
                for t in admin.describe_topics(list(topics)) if t["error_code"] == 0 for p in t["partitions"]]

    def _ends(self, admin: KafkaAdminClient, topics: Sequence[str]) -> dict[TopicPartition, int]:
        partitions = self._partitions(admin, topics)
        if not partitions:
            return {}
        found = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions}, timeout_ms=ADMIN_TIMEOUT_MS)
        return {tp: o.offset for tp, o in found.items()}

    def _lag(self, admin: KafkaAdminClient, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        ends = self._ends(admin, topics)
        if not ends:
            return {}
        committed = admin.list_group_offsets({group: list(ends)}).get(group, {})
        done = {tp: m.offset for tp, m in committed.items() if m is not None and m.offset >= 0}
        never = [tp for tp in ends if tp not in done]
        if never:  # the group starts at the earliest record still in the log
            starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in never},
                                                  timeout_ms=ADMIN_TIMEOUT_MS)
            done.update({tp: o.offset for tp, o in starts.items()})
        return {(tp.topic, tp.partition): max(end - done.get(tp, 0), 0) for tp, end in ends.items()}

    def _close_admin(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # already broken; nothing to keep
                log.debug("closing the admin client failed", exc_info=True)
            self._admin = None

    def close(self, timeout_ms: int = PUBLISH_TIMEOUT_S * 1000) -> None:
        with self._admin_lock:
            self._close_admin()
        if self._producer is not None:
            self._producer.close(timeout=timeout_ms / 1000)  # kafka-python takes seconds
            self._producer = None


class KafkaGroupConsumer:
    def __init__(self, bootstrap: str, group: str, topics: Sequence[str]) -> None:
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_poll_interval_ms=300_000,
            metadata_max_age_ms=5_000,  # notice new topics and partitions soon
            **CONSUMER_TUNING,
        )
        # Its fetched batches read straight into our Records (libs.events.kafka_records), where
        # kafka-python's own reading of a record was most of a consumer's CPU.
        self._records_ours = read_records_as_ours(self._consumer)
        # Join the group only once the topics' partitions are known: a group that assigns before
        # the metadata arrives assigns nothing, and waits for the next metadata refresh.
        deadline = time.monotonic() + METADATA_WAIT_S
        while any(not self._consumer.partitions_for_topic(t) for t in topics):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partition metadata for {list(topics)} after {METADATA_WAIT_S}s")
            time.sleep(0.1)

    def poll(self, max_records: int, timeout_ms: int) -> list[Record]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        if self._records_ours:
            if len(batches) == 1:
                return next(iter(batches.values()))
            return [record for records in batches.values() for record in records]
        out: list[Record] = []
        new = tuple.__new__  # a record made as the tuple it is
        for tp, messages in batches.items():
            topic, partition = tp.topic, tp.partition
            # kafka-python's headers are already (key, value) pairs.
            out += [new(Record, (topic, m.key or b"", m.value, tuple(m.headers) if m.headers else (), partition, m.offset))
                    for m in messages]
        return out

    def commit(self, records: Sequence[Record]) -> None:
        self.commit_offsets(next_offsets(records))

    def commit_offsets(self, ends: dict[tuple[str, int], int]) -> None:
        if ends:
            self._consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, None, -1) for (t, p), o in ends.items()})

    def seek_to_beginning(self) -> None:
        self._consumer.seek_to_beginning()

    def close(self) -> None:
        self._consumer.close(autocommit=False)
