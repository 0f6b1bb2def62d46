"""A group consumer's fetched record batches read straight into our `Record`s (libs.events.kafka_log).

kafka-python reads a fetched batch a record at a time through some twenty Python calls (a varint
each field and header, a DefaultRecord, a ConsumerRecord and its sizes): about 20 µs a record,
most of a consumer's CPU, and the consumer then made a `Record` of each. This reads a batch of the
v2 format (what every broker since 0.11 writes) in one loop into `Record`s: a record's key, value
and offset, and its headers parsed once for each distinct header bytes in the batch (a relay's
batch carries a few, the same on every record of a type).

The same checks as kafka-python's: the batch's CRC (the only CRC of a v2 record), each record's
length against its fields, the batch's record count against its bytes. Control batches are passed
over and a batch starting before the fetch offset is cut to it, as kafka-python does. Anything
else (the legacy message formats, a read_committed consumer's transactions) is read by
kafka-python's own code, its records made into ours.

It plugs into kafka-python's fetcher (`Fetcher.PartitionRecords`, its per-partition reader; the
fetcher looks it up on itself): internal API, hence the version pin in pyproject; `install`
leaves a fetcher without that hook as it is (its records are then made into ours by the caller).
"""
from __future__ import annotations

import struct
from typing import Any

from kafka.consumer.fetcher import Fetcher, IsolationLevel
from kafka.errors import CorruptRecordError

from .log import Record

_new = tuple.__new__


def install(consumer: Any) -> bool:  # noqa: ANN401 - a kafka.KafkaConsumer
    """Make `consumer`'s polls return our Records, read by `BatchReader`; False if this
    kafka-python has no such hook (then its polls return its own ConsumerRecords)."""
    fetcher = getattr(consumer, "_fetcher", None)
    base = getattr(fetcher, "PartitionRecords", None)
    if base is not Fetcher.PartitionRecords or not hasattr(base, "take"):
        return False
    fetcher.PartitionRecords = BatchReader
    return True


class BatchReader(Fetcher.PartitionRecords):
    """kafka-python's reader of one partition's fetched records, giving `Record`s a batch at a time."""

    def __init__(self, fetch_offset: int, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(fetch_offset, tp, records, *args, **kwargs)
        self._records_in = records
        self._batch: list[Record] = []  # the current batch's records not yet taken
        self._taken = 0
        self._last_batch = None
        self._own = self.isolation_level == IsolationLevel.READ_UNCOMMITTED  # else kafka-python's reading, whole
        # A batch that failed its checks fails every later take: the batches after it must not be
        # read past it (their offsets committed, its records lost); the consumer stops there.
        self._failed: Exception | None = None

    def take(self, n: int | None = None) -> list:
        if not self._own:
            return [_record_of(self.topic_partition, r) for r in super().take(n)]
        self._maybe_raise_next_inline_exception()
        if self._failed is not None:
            raise self._failed
        out: list[Record] = []
        try:
            while n is None or len(out) < n:
                batch, taken = self._batch, self._taken
                if taken >= len(batch):
                    if not self._next_batch():
                        break
                    continue
                end = len(batch) if n is None else min(len(batch), taken + n - len(out))
                out += batch[taken:end] if taken or end < len(batch) else batch
                self._taken = end
                self.records_read += end - taken
                self.next_fetch_offset = batch[end - 1][5] + 1
        except Exception as exc:  # as kafka-python's take: the records read so far first, then the error
            if not out:
                raise
            self._next_inline_exception = exc
        return out

    def _next_batch(self) -> bool:
        """Read the next batch into `_batch`; False (and the reader drained) at the end."""
        self._batch, self._taken = [], 0
        try:
            batch = self._records_in.next_batch()
            records = None if batch is None else self._read(batch)
        except Exception as exc:
            self._failed = exc
            raise
        if batch is None:
            if self._last_batch is not None and self._last_batch.magic == 2:
                # v2 keeps a batch's last offset when compaction removed its record: go past it
                self.next_fetch_offset = self._last_batch.next_offset
            self.drain()
            return False
        self._last_batch = batch
        if records is None:  # a control batch
            self.next_fetch_offset = batch.next_offset
            return True
        if records and records[0][5] < self.fetch_offset:  # a batch begun before the fetch offset
            records = [r for r in records if r[5] >= self.fetch_offset]
        self._batch = records
        return True

    def _read(self, batch: Any) -> list[Record] | None:  # noqa: ANN401 - a record batch of kafka-python
        """A batch's records, checked; None for a control batch."""
        tp = self.topic_partition
        if self.check_crcs and not batch.validate_crc():
            raise CorruptRecordError(f"Record batch for partition {tp} at offset {batch.base_offset} failed crc check")
        self.bytes_read += batch.size_in_bytes
        if batch.magic != 2:  # the legacy formats: kafka-python's reading
            records = []
            try:
                for r in batch:
                    if self.check_crcs and not r.validate_crc():
                        raise CorruptRecordError(f"Record for partition {tp} at offset {r.offset} failed crc check")
                    records.append(_record_of(tp, r))
            except (ValueError, IndexError, struct.error) as exc:
                raise CorruptRecordError(f"Found invalid record structure: {exc!r}") from exc
            return records
        self.leader_epoch = batch.leader_epoch
        if batch.is_control_batch:  # a transaction's marker, not a record for consumers
            return None
        return read_v2(batch, tp.topic, tp.partition)


def _record_of(tp: Any, r: Any) -> Record:  # noqa: ANN401 - kafka-python's topic partition and record
    return _new(Record, (tp.topic, r.key or b"", r.value, tuple(r.headers) if r.headers else (), tp.partition, r.offset))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at `pos` (the protocol's signed varint/varlong) and the position after it."""
    b = data[pos]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    result, shift = b & 0x7F, 7
    while True:
        pos += 1
        b = data[pos]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return (result >> 1) ^ -(result & 1), pos + 1
        shift += 7
        if shift >= 64:
            raise CorruptRecordError("a varint out of the int64 range")


def read_v2(batch: Any, topic: str, partition: int) -> list[Record]:  # noqa: ANN401 - a DefaultRecordBatch
    """Every record of a v2 batch (decompressed by kafka-python first if it is compressed), in order.

    A record: length, attributes (a byte), timestamp delta, offset delta, key, value (each a
    length and bytes, -1 for null), headers (a count, then key and value each a length and bytes)."""
    batch._maybe_uncompress()
    data = bytes(batch._buffer)  # slices of bytes are the keys and values, no copy again
    pos, count, base = batch._pos, batch.records_count, batch.base_offset
    size = len(data)
    varint = _varint
    headers_of: dict[bytes, tuple] = {}
    out: list[Record] = []
    append = out.append
    try:
        for _ in range(count):
            length, pos = varint(data, pos)
            end = pos + length
            pos += 1  # attributes: unused in v2
            while data[pos] >= 0x80:  # the timestamp delta: not kept
                pos += 1
            offset_delta, pos = varint(data, pos + 1)
            n, pos = varint(data, pos)
            if n >= 0:
                key, pos = data[pos:pos + n], pos + n
            else:
                key = b""
            n, pos = varint(data, pos)
            if n >= 0:
                value, pos = data[pos:pos + n], pos + n
            else:
                value = None
            if pos > end or length < 0 or end > size:
                raise CorruptRecordError(f"record of {length} bytes read past its end at offset {base + offset_delta}")
            raw = data[pos:end]
            headers = headers_of.get(raw)
            if headers is None:
                headers = headers_of[raw] = _headers(raw)
            append(_new(Record, (topic, key, value, headers, partition, base + offset_delta)))
            pos = end
    except (IndexError, ValueError) as exc:  # past the end of the batch; a header key not UTF-8
        raise CorruptRecordError(f"Found invalid record structure: {exc!r}") from exc
    if pos != size:
        raise CorruptRecordError(f"{size - pos} unconsumed bytes after all records consumed")
    return out


def _headers(raw: bytes) -> tuple[tuple[str, bytes | None], ...]:
    """A record's headers from their bytes (a count, then each key's and value's length and bytes)."""
    count, pos = _varint(raw, 0)
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    headers = []
    for _ in range(count):
        n, pos = _varint(raw, pos)
        if n < 0:
            raise CorruptRecordError(f"Invalid negative header key size {n}")
        key, pos = raw[pos:pos + n].decode("utf-8"), pos + n
        n, pos = _varint(raw, pos)
        if n >= 0:
            value, pos = raw[pos:pos + n], pos + n
        else:
            value = None
        headers.append((key, value))
    if pos != len(raw):
        raise CorruptRecordError(f"record headers of {len(raw)} bytes read as {pos}")
    return tuple(headers)
