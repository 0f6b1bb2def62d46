"""Our reading of Kafka's record batches (libs.events.kafka_records) gives exactly the records
kafka-python's own reading gives, made into our Records: in memory over batches built by
kafka-python's own builder (every shape: null and empty keys and values, no headers, many, null
header values, compressed, legacy format, a fetch offset inside a batch, taken in pieces), and
through a real broker beside kafka-python's own consumer."""
from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.structs import TopicPartition

from libs.events.kafka_log import KafkaLog
from libs.events.kafka_records import BatchReader
from libs.events.log import Record

TP = TopicPartition("t.enrollment", 3)
HEADERS = [("type", b"SpineDeposited"), ("schema_version", b"2"), ("origin", b"store")]


def record_shapes(i: int) -> tuple[bytes | None, bytes | None, list]:
    """Key, value and headers of the i-th record: the relay's shape mostly, every odd one too."""
    odd = i % 11
    key = None if odd == 1 else b"" if odd == 2 else f"acct-{i}".encode()
    value = None if odd == 3 else b"" if odd == 4 else b'{"n":%d,"text":"%s"}' % (i, b"x" * (i * 37 % 300))
    headers = ([] if odd == 5 else [("h", None), ("\u00e9t\u00e9", b"\x00\xff")] if odd == 6
               else [(f"k{j}", bytes([j]) * j * 20) for j in range(9)] if odd == 7 else HEADERS)
    return key, value, headers


def batches(n: int, per_batch: int, magic: int = 2, compression: int = 0, base: int = 0) -> bytes:
    out, offset = b"", base
    while offset < base + n:
        builder = MemoryRecordsBuilder(magic=magic, compression_type=compression, batch_size=10**7, offset=offset)
        for i in range(offset, min(offset + per_batch, base + n)):
            key, value, headers = record_shapes(i)
            builder.append(timestamp=1_700_000_000_000 + i * 997, key=key, value=value,
                           headers=headers if magic == 2 else None)
        builder.close()
        out += builder.buffer()
        offset += per_batch
    return out


def read(reader_class: type, data: bytes, fetch_offset: int = 0, take: int = 10_000) -> tuple[list, int]:
    reader = reader_class(fetch_offset, TP, MemoryRecords(data))
    got: list = []
    while reader:
        taken = reader.take(take)
        if not taken:
            break
        got += taken
    return got, reader.next_fetch_offset


def as_ours(records: list) -> list[Record]:
    """kafka-python's records as the consumer made them into Records before."""
    return [Record(TP.topic, m.key or b"", m.value, tuple(m.headers) if m.headers else (), TP.partition, m.offset)
            for m in records]


@pytest.mark.parametrize("magic,compression,per_batch", [
    (2, 0, 500), (2, 0, 1), (2, 1, 64), (2, 1, 1_000), (1, 0, 50), (0, 0, 50), (1, 1, 40),
], ids=["v2", "v2-one-a-batch", "v2-gzip", "v2-gzip-one-batch", "v1", "v0", "v1-gzip"])
@pytest.mark.parametrize("fetch_offset,take", [(0, 10_000), (0, 7), (777, 500), (999, 1)])
def test_batches_read_as_kafka_python_reads_them(magic: int, compression: int, per_batch: int,
                                                   fetch_offset: int, take: int) -> None:
    data = batches(1_000, per_batch, magic, compression)
    theirs, their_next = read(Fetcher.PartitionRecords, data, fetch_offset, take)
    ours, our_next = read(BatchReader, data, fetch_offset, take)
    assert len(ours) == 1_000 - fetch_offset
    assert [tuple(r) for r in ours] == [tuple(r) for r in as_ours(theirs)]
    assert all(type(r) is Record for r in ours)
    assert our_next == their_next == 1_000


def test_a_corrupt_batch_fails_its_crc_check_as_in_kafka_python() -> None:
    data = bytearray(batches(100, 50))
    data[len(data) - 20] ^= 0x01  # a byte of the second batch's last record
    for reader_class in (Fetcher.PartitionRecords, BatchReader):
        reader = reader_class(0, TP, MemoryRecords(bytes(data)))
        first = reader.take(10_000)  # the first batch, then the error held for the next take
        assert [r.offset for r in first] == list(range(50))
        with pytest.raises(CorruptRecordError):
            reader.take(10_000)
    with pytest.raises(CorruptRecordError):  # and again: never read on past it (its records lost)
        reader.take(10_000)


def test_a_record_longer_than_its_batch_is_corrupt() -> None:
    data = bytearray(batches(3, 3))
    data[61] += 40  # the first record's length (a varint right after the 61-byte batch header)
    reader = BatchReader(0, TP, MemoryRecords(bytes(data)))
    reader.check_crcs = False  # past the CRC: the record's own length is checked
    with pytest.raises(CorruptRecordError):
        reader.take(10)
    with pytest.raises(CorruptRecordError):
        reader.take(10)


def test_through_a_broker_our_consumer_reads_what_kafka_pythons_reads(kafka_bootstrap: str) -> None:
    log = KafkaLog(kafka_bootstrap)
    topic = f"t{uuid.uuid4().hex[:10]}.records"
    log.ensure_topics([topic], partitions=3)
    published = []
    for i in range(600):  # kafka-python's producer takes neither a null key and value nor a null header
        key, value, headers = record_shapes(i)
        published.append(Record(topic, key or b"", value or b"v", tuple((k, v or b"") for k, v in headers)))
    log.publish(published)
    ours: list[Record] = []
    consumer = log.consumer(f"{topic}-ours", [topic])
    assert consumer._records_ours, "kafka-python's fetcher no longer takes our reader: its own reads again"
    while len(ours) < 600:
        ours += consumer.poll(250, 1_000)
    consumer.close()
    theirs: list[Record] = []
    raw = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"{topic}-raw",
                        auto_offset_reset="earliest", enable_auto_commit=False)
    while len(theirs) < 600:
        for tp, records in raw.poll(timeout_ms=1_000, max_records=250).items():
            theirs += [Record(tp.topic, m.key or b"", m.value, tuple(m.headers) if m.headers else (), tp.partition,
                              m.offset) for m in records]
    raw.close()
    log.close()
    assert len(ours) == len(theirs) == 600
    assert all(type(r) is Record for r in ours)
    assert sorted(map(tuple, ours), key=position) == sorted(map(tuple, theirs), key=position)


def position(record: tuple) -> tuple[int, int]:
    return record[4], record[5]


def test_a_read_committed_readers_batches_are_kafka_pythons_own_made_into_records() -> None:
    from kafka.consumer.fetcher import IsolationLevel

    data = batches(300, 100)
    theirs, _ = read(Fetcher.PartitionRecords, data)
    reader = BatchReader(0, TP, MemoryRecords(data), isolation_level=IsolationLevel.READ_COMMITTED)
    ours = reader.take(10_000)
    assert all(type(r) is Record for r in ours)
    assert [tuple(r) for r in ours] == [tuple(r) for r in as_ours(theirs)]
