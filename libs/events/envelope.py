"""The envelope every domain event travels in: immutable, versioned, self-describing."""
from __future__ import annotations

import os
import random
import threading
import time
import uuid
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Limits (TigerBeetle style): nothing unbounded crosses the wire.
MAX_TYPE_LEN = 64
MAX_ID_LEN = 64
MAX_PAYLOAD_BYTES = 1_000_000


class Envelope(BaseModel):
    """One domain event. `payload` is JSON-safe (Decimals are strings) so it round-trips exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: str = Field(max_length=MAX_TYPE_LEN)
    schema_version: int = Field(ge=1)
    aggregate_type: str = Field(max_length=MAX_TYPE_LEN)
    aggregate_id: str = Field(max_length=MAX_ID_LEN)
    sequence: int = Field(ge=1)
    occurred_on: date
    recorded_at: datetime
    causation_id: uuid.UUID | None = None
    correlation_id: str | None = Field(default=None, max_length=MAX_ID_LEN)
    actor: str = Field(max_length=MAX_ID_LEN)
    payload: dict[str, Any]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> "Envelope":
        return cls.model_validate_json(data)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


_ids_lock = threading.Lock()
_last_id = 0  # the last id's 60 bits of time and counter (see new_event_id)


def new_event_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter, then 62 random
    bits. Ids made one after the other sort in the order they were made (in this process), so
    the unique indexes on event ids (events, processed_events, projections keyed by event id)
    take each new id at their right edge rather than on a random page: a batch of events dirties
    a page or two of each index, not one page per event. Two ids collide only if two processes
    draw the same 62 random bits for the same millisecond and counter."""
    return _uuid7(next_heads(1))


def new_event_id_and_text() -> tuple[uuid.UUID, str]:
    """new_event_id and its text (`str(event_id)`), formatted from the id's own parts: the event
    store writes the text of every id it makes, and UUID.__str__ formats the whole 128-bit number
    anew in Python, a tenth of a one-event append's Python."""
    return _uuid7_and_text(next_heads(1))


def new_event_ids_and_texts(count: int) -> list[tuple[uuid.UUID, str]]:
    """new_event_id_and_text `count` times, as new_event_ids makes them (one turn of the lock)."""
    last = next_heads(count)
    return [_uuid7_and_text(head) for head in range(last - count + 1, last + 1)]


def new_event_ids(count: int) -> list[uuid.UUID]:
    """`count` ids, as `count` calls of new_event_id make them (one turn of the lock: an append's
    batch of events)."""
    last = next_heads(count)
    if count == 1:  # most commands' append
        return [_uuid7(last)]
    return [_uuid7(head) for head in range(last - count + 1, last + 1)]


def time_ordered_ids(prefix: str, count: int) -> list[str]:
    """`count` new ids of an aggregate, ascending: `prefix`, 15 hex digits of a time-ordered head
    (Unix milliseconds and a counter, from `next_heads`: the process's one sequence, which event
    ids take theirs from too), then 16 hex digits of random bits (os.urandom, 64 bits).

    Ids made one after the other sort in the order they were made, so every b-tree keyed by them
    (workers', employers' and claims' tables, the event store's aggregate index, the payments'
    lines of a month by claim) takes new rows at its right edge, a page or two a request, not a
    random leaf page a row. Unique as before and more: two ids made in one process differ in
    their heads; ids of two processes (replicas) collide only if they draw the same head and the
    same 64 random bits. Ids made before in other shapes stay in the books and keep working
    beside these: nothing reads meaning out of an id."""
    last = next_heads(count)
    digits = os.urandom(8 * count).hex()
    return [f"{prefix}{head:015x}{digits[i:i + 16]}"
            for i, head in zip(range(0, 16 * count, 16), range(last - count + 1, last + 1))]


def next_heads(count: int) -> int:
    """Takes the next `count` 60-bit heads (time and counter as one number) and returns the last:
    a new millisecond starts a new range; within one (or if the clock steps back) the counter goes
    on, spilling into the milliseconds. Event ids take theirs here, and so do other ids that should
    sort by when they were made (workers', employers' and claims': `time_ordered_ids`): one
    sequence in a process, every head drawn once."""
    global _last_id
    with _ids_lock:
        now = (_time_ns() // 1_000_000) << 12
        first = now if now > _last_id else _last_id + 1
        _last_id = first + count - 1
        return _last_id


def _uuid7(head: int, random_bits: int | None = None) -> uuid.UUID:
    """The version 7 id of a head (48 bits of milliseconds, 12 of counter) and 62 random bits."""
    if random_bits is None:
        random_bits = _getrandbits(62)
    return uuid_of(((head >> 12) << 80) | _VERSION_7 | ((head & 0xFFF) << 64) | random_bits)


def _uuid7_and_text(head: int) -> tuple[uuid.UUID, str]:
    """_uuid7 and its canonical text: 8-4-4-4-12 hex digits, that is the milliseconds (48 bits),
    the version 7 and the counter (12 bits), the variant bits 10 and the random bits (62)."""
    event_id = _uuid7(head)
    # The id's 16 bytes as hex, cut in its groups: cheaper than %-formatting its five parts.
    digits = event_id.int.to_bytes(16, "big").hex()
    return event_id, f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def uuid_of(value: int) -> uuid.UUID:
    """`uuid.UUID(int=value)` for a value that is a UUID by construction: UUID(int=…) re-checks
    what is true already; this is what it stores."""
    event_id = _new(uuid.UUID)
    _set_uuid_int(event_id, value)
    _set_uuid_is_safe(event_id, _UNKNOWN)
    return event_id


_VERSION_7 = (0x7 << 76) | (0b10 << 62)  # the version nibble and the RFC variant bits
_getrandbits = random.getrandbits  # reseeded in every forked child by the random module
_time_ns = time.time_ns
_new, _set = object.__new__, object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown
# The slots' own setters: object.__setattr__ finds the same slot by its name first, every call.
_set_uuid_int, _set_uuid_is_safe = uuid.UUID.__dict__["int"].__set__, uuid.UUID.__dict__["is_safe"].__set__


_FIELDS = frozenset(Envelope.model_fields)


def trusted_envelope(**fields: Any) -> Envelope:
    """An envelope from fields our own store already validated: skips validation (and the cost
    of `model_construct`) on the hot paths — append and replay. Never for outside input."""
    assert fields.keys() == _FIELDS, sorted(fields.keys() ^ _FIELDS)
    return envelope_of(fields)


def envelope_of(fields: dict[str, Any]) -> Envelope:
    """trusted_envelope for a dict the caller spells out with every field (the append's), taken
    as the envelope's own: no keyword arguments to pack, no keys to compare on every event."""
    env = _new(Envelope)
    _set(env, "__dict__", fields)
    _set_fields_set(env, _FIELDS)
    _set_extra(env, None)
    _set_private(env, None)
    return env


_set_fields_set, _set_extra, _set_private = (
    BaseModel.__dict__[name].__set__ for name in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))
