"""The event log the services publish to and consume from: Apache Kafka, or its embedded twin.

Both implementations give the same guarantees the rest of the code relies on:
- `publish` returns only when every record is durable (Kafka: acks=all and a flush);
- records with the same key stay in order (Kafka: key = aggregate id → one partition);
- a consumer group reads each partition in order and resumes after its last committed offset.
"""
from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Iterator, NamedTuple, Protocol, Sequence


class Record(NamedTuple):
    """One log record. A named tuple, not a frozen dataclass: a consumer makes one a record read
    (a replay, millions), and a frozen dataclass's __init__ costs several times a tuple's."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = 0
    offset: int = -1  # set on records read back from the log


# The header the outbox relay puts on every record it publishes from the event store: the
# envelope was made by the store from validated fields, so a consumer need not validate it again
# (libs/events/decode.py). Any other record is validated in full.
FROM_STORE = ("origin", b"store")

_TOPIC_PARTITION, _OFFSET = itemgetter(0, 4), itemgetter(5)  # Record's topic and partition; offset


class Page(SequenceABC):
    """A batch of one topic and partition that a log read in one step, without a Record a row (an
    embedded replay reads millions): how many, the offset after its last, whether every record
    carries FROM_STORE, and its values as one JSON array (what a consumer's decode parses). Its
    Records are read only when asked for (a batch that fails goes record by record; a dead
    letter): a log's records never change, so they are the ones the page was read from."""

    __slots__ = ("topic", "partition", "first", "last", "count", "from_store", "values_json", "_records")

    def __init__(self, topic: str, partition: int, first: int, last: int, count: int, from_store: bool,
                 values_json: bytes) -> None:
        self.topic, self.partition, self.first, self.last, self.count = topic, partition, first, last, count
        self.from_store, self.values_json = from_store, values_json
        self._records: list[Record] | None = None

    def ends(self) -> dict[tuple[str, int], int]:
        return {(self.topic, self.partition): self.last + 1}

    def places(self) -> list[tuple[str, int, int]]:
        """Each record's (topic, partition, offset), in order."""
        if self.count == self.last - self.first + 1:  # offsets one after another (the embedded log's)
            return [(self.topic, self.partition, offset) for offset in range(self.first, self.last + 1)]
        return [(r[0], r[4], r[5]) for r in self.records()]

    def records(self) -> list[Record]:
        if self._records is None:
            self._records = self._read()
            assert len(self._records) == self.count, (len(self._records), self.count)
        return self._records

    def _read(self) -> list[Record]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - as a list's
        return self.records()[index]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())


def next_offsets(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """The offset after the last of `records` in each (topic, partition) they came from."""
    if isinstance(records, Page):
        return records.ends()
    if not records:
        return {}
    first, last = records[0], records[-1]
    if first[0] == last[0] and first[4] == last[4]:
        # Mostly one partition (the embedded log's topic; a Kafka poll of one partition): the
        # highest offset of the batch by C-level maps, not a Python step a record (a replay reads
        # millions). Checked whole: a batch of several partitions takes the loop.
        if len(set(map(_TOPIC_PARTITION, records))) == 1:
            return {(first[0], first[4]): max(map(_OFFSET, records)) + 1}
    ends: dict[tuple[str, int], int] = {}
    get = ends.get
    for r in records:
        key = (r.topic, r.partition)
        if r.offset >= get(key, -1):  # a partition's records come in order: mostly true
            ends[key] = r.offset + 1
    return ends


class LogConsumer(Protocol):
    """A log's consumer may also have `poll_page(max_records, timeout_ms)`: the records `poll`
    would give (of one topic, up to a whole batch), as a `Page`, or a list as `poll`'s."""

    def poll(self, max_records: int, timeout_ms: int) -> list[Record]: ...

    def commit(self, records: Sequence[Record]) -> None:
        """Commit, per partition, the offset after the last of `records`."""

    def commit_offsets(self, ends: dict[tuple[str, int], int]) -> None:
        """Commit the next offset of each (topic, partition) (`next_offsets` of a batch)."""

    def seek_to_beginning(self) -> None: ...

    def close(self) -> None: ...


class EventLog(Protocol):
    def publish(self, records: Sequence[Record]) -> list[tuple[int, int]]:
        """Durable on return; the (partition, offset) each record got, in order."""

    def consumer(self, group: str, topics: Sequence[str]) -> LogConsumer: ...

    def reset_group(self, group: str, topics: Sequence[str]) -> None:
        """Forget a group's committed offsets so it reads the topics again from the start."""

    def log_end(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The next offset of each (topic, partition)."""

    def lag(self, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Per (topic, partition): the log end minus the group's committed offset."""

    def close(self) -> None: ...


@dataclass
class Topics:
    """Topic names: one per service, plus a dead-letter topic per consumer group."""

    prefix: str = "injuryledger."
    names: dict[str, str] = field(default_factory=dict)

    def of(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def dead_letter(self, group: str) -> str:
        return f"{self.prefix}dlq.{group}"
