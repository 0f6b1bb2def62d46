"""A consumer's decoding of log records into envelopes, validated once.

An envelope the relay published was made by the event store from validated fields (the payload
by its model, the rest by the store itself) and written as the relay's JSON; the relay marks such
records with `FROM_STORE`. A batch of them is decoded without validating again, and lazily: one
JSON parse of the whole batch (pydantic-core; the embedded log's `Page` brings the array and the
marks of its records made by SQLite, without its records), and each record's dict becomes a `StoredEnvelope`,
whose fields are read as they were written and whose ids, dates and times are converted only when
a consumer reads them. Anything else (a record without the mark, a batch whose JSON is not the
relay's shape) goes through the full validation of `Envelope`, which names a bad record (Poison).
"""
from __future__ import annotations

import builtins
import uuid
from collections import deque
from datetime import date, datetime
from itertools import repeat
from operator import contains, itemgetter
from typing import Any, Sequence

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from .envelope import Envelope
from .log import FROM_STORE, Page, Record


class Poison(Exception):
    pass


_UUID_INT = uuid.UUID.int  # the descriptor of UUID's `int` slot


class EventId(uuid.UUID):
    """A UUID read from the log that keeps its text (the store wrote `str(uuid)`, the canonical
    form): `str()` of it, which every consumer asks (processed-event ids, projections keyed by
    event id), costs nothing, and its number is parsed only when asked (comparisons, hashing).
    Equal to, hashes as, sorts as and pickles as the plain UUID."""

    __slots__ = ("_text",)
    is_safe = uuid.SafeUUID.unknown

    @property
    def int(self) -> builtins.int:
        try:
            return _UUID_INT.__get__(self)
        except AttributeError:
            value = builtins.int(self._text.replace("-", ""), 16)
            _UUID_INT.__set__(self, value)
            return value

    def __str__(self) -> str:
        return self._text

    def __reduce__(self):  # noqa: ANN204 - copies and pickles as a plain UUID
        return (uuid.UUID, (self._text,))


_new, _set = object.__new__, object.__setattr__
_VALUE = itemgetter(2)  # Record.value
_FIELDS = frozenset(Envelope.model_fields)
_ENVELOPES = TypeAdapter(list[Envelope])


def event_id(text: str) -> EventId:
    """The EventId of a canonical UUID text (the store's `str(uuid)`)."""
    value = _new(EventId)
    _set(value, "_text", text)
    return value


class StoredEnvelope:
    """An envelope the store wrote, as read from the log: reads as an `Envelope` (the same fields,
    of the same types), its fields kept as parsed and converted when read (`event_id` once).
    Anything but a field (`model_copy`, `model_dump`, `to_json`, equality) is the validated
    `Envelope`'s, made on first use. Immutable, as an Envelope is."""

    # The fields that need no conversion are the parsed dict's own entries (the instance's
    # __dict__): reading one is a plain attribute read.
    type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    sequence: int
    correlation_id: str | None
    actor: str
    payload: dict[str, Any]

    @property
    def event_id(self) -> EventId:
        fields = self.__dict__
        value = fields.get("_event_id")
        if value is None:
            value = fields["_event_id"] = _new(EventId)
            _set(value, "_text", fields["event_id"])
        return value

    @property
    def causation_id(self) -> EventId | None:
        text = self.__dict__["causation_id"]
        return None if text is None else event_id(text)

    @property
    def occurred_on(self) -> date:
        return date.fromisoformat(self.__dict__["occurred_on"])

    @property
    def recorded_at(self) -> datetime:
        return datetime.fromisoformat(self.__dict__["recorded_at"])

    def validated(self) -> Envelope:
        """The Envelope itself, validated from the fields as read."""
        fields = self.__dict__
        envelope = fields.get("_validated")
        if envelope is None:
            envelope = fields["_validated"] = Envelope.model_validate({k: fields[k] for k in _FIELDS})
        return envelope

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - what the Envelope answers
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.validated(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredEnvelope):
            other = other.validated()
        return self.validated() == other

    def __hash__(self) -> int:
        return hash(self.validated())

    def __repr__(self) -> str:
        return repr(self.validated())

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("an envelope is immutable")

    def __delattr__(self, name: str) -> None:
        raise TypeError("an envelope is immutable")


def decode_batch(records: Sequence[Record]) -> tuple[list[Envelope], list[str]]:
    """The records' envelopes and their event ids as text, in order; Poison names a bad record."""
    if from_store(records):
        stored = decode_stored(records)
        if stored is not None:
            return stored
    envelopes = validate_all(records)
    return envelopes, [str(e.event_id) for e in envelopes]


def from_store(records: Sequence[Record]) -> bool:
    """Whether every record carries the relay's FROM_STORE (a page knows it without its records)."""
    if isinstance(records, Page):
        return records.from_store
    return all(map(contains, map(itemgetter(3), records), repeat(FROM_STORE, len(records))))  # r.headers


def decode_stored(records: Sequence[Record]) -> tuple[list[StoredEnvelope], list[str]] | None:
    """Records the relay published from the store, decoded without validating again (the store
    did); None if the batch is not the relay's JSON objects of an envelope's fields (then
    validate it)."""
    try:  # keys cached (a dozen names), values not: ids and times are all distinct
        found = from_json(json_array(records), cache_strings="keys")
    except ValueError:
        return None
    if type(found) is not list or len(found) != len(records):
        return None
    try:  # each an object of exactly an envelope's fields (as many, none other), its event id text
        if set(map(len, found)) != {len(_FIELDS)} or not all(map(_FIELDS.issuperset, found)):
            return None
        ids = list(map(itemgetter("event_id"), found))
    except TypeError:
        return None
    if set(map(type, ids)) != {str}:
        return None
    return stored_envelopes(found), ids


def json_array(records: Sequence[Record]) -> bytes:
    """The records' values as one JSON array, in one copy: the first and last values take the
    brackets, then one join (`b"[" + b",".join(...) + b"]"` copied a batch's megabytes three
    times, each a fresh allocation: ≈ 0.4 µs an event of a replay). A page has it already."""
    if isinstance(records, Page):
        return records.values_json
    values = list(map(_VALUE, records))
    if not values:
        return b"[]"
    values[0] = b"[" + values[0]
    values[-1] = values[-1] + b"]"
    return b",".join(values)


def stored_envelopes(found: list[dict[str, Any]]) -> list[StoredEnvelope]:
    """A StoredEnvelope over each parsed dict (its `__dict__`), made by C-level maps: no Python
    call an event (≈ 2 µs an event less than a comprehension calling a helper, in a loop over
    the records of a replay)."""
    n = len(found)
    envelopes = list(map(_new, repeat(StoredEnvelope, n)))
    deque(map(_set, envelopes, repeat("__dict__", n), found), maxlen=0)
    return envelopes


def validate_all(records: Sequence[Record]) -> list[Envelope]:
    """A batch's envelopes in one call of pydantic-core: the same validation as record by record,
    without a Python call per record. A batch that does not decode whole (or not into one envelope
    a record) is decoded record by record, which names the bad record (Poison)."""
    try:
        found = _ENVELOPES.validate_json(json_array(records))
        if len(found) == len(records):
            return found
    except (ValidationError, ValueError):
        pass
    return [validate(r) for r in records]


def validate(record: Record) -> Envelope:
    try:
        return Envelope.from_json(record.value)
    except (ValidationError, ValueError) as exc:
        raise Poison(f"undecodable envelope: {exc}") from exc


def event_id_of(record: Record) -> str | None:
    try:
        return str(Envelope.from_json(record.value).event_id)
    except (ValidationError, ValueError):
        return None


class DecodedOnce:
    """`decode_batch` for the consumers of one process that read the same log records (the
    embedded runtime's, a pump round after another): each record decoded once, by the first
    consumer that reads it; the others take its envelope, which is immutable (a go-live's
    `EmployeesImported`, a quarter of a megabyte, was parsed by every one of some seven consumers).
    A record is known by its place in the log (topic, partition, offset), where the log never
    writes another. Past `max_records` all are forgotten before a batch is kept; `forget` after a
    round. Safe for the pump and its consumers' poll-ahead threads (dictionary reads and writes;
    two threads may decode one record both, to equal envelopes)."""

    def __init__(self, max_records: int = 20_000) -> None:
        self.max_records = max_records
        self._known: dict[tuple[str, int, int], tuple[Envelope, str]] = {}

    def __call__(self, records: Sequence[Record]) -> tuple[list[Envelope], list[str]]:
        known = self._known
        # topic, partition, offset (a page tells them without its records)
        places = records.places() if isinstance(records, Page) else [(r[0], r[4], r[5]) for r in records]
        unknown = [i for i, place in enumerate(places) if place not in known]
        if unknown:
            new = records if len(unknown) == len(records) else [records[i] for i in unknown]
            envelopes, ids = decode_batch(new)  # Poison names a bad record, as ever
            if len(known) + len(new) > self.max_records:
                known.clear()
            if len(new) == len(records):
                known.update(zip(places, zip(envelopes, ids)))
                return envelopes, ids
            fresh = dict(zip([places[i] for i in unknown], zip(envelopes, ids)))
            known.update(fresh)
            found = [fresh.get(place) or known[place] for place in places]
        else:
            found = [known[place] for place in places]
        return [envelope for envelope, _ in found], [event_id for _, event_id in found]

    def forget(self) -> None:
        self._known.clear()
