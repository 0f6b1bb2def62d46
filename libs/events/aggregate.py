"""Aggregates decide by triggering events and change state only by applying them.

A subclass names its type and defines `apply_<EventType>(payload)` for each event it knows;
replaying the same events through `rehydrate` rebuilds exactly the same state.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import ClassVar, Iterable, Iterator, NamedTuple

from pydantic import BaseModel

from .envelope import Envelope
from .registry import REGISTRY


class Pending(NamedTuple):
    """An event decided, not yet saved (immutable: a tuple, made on every decision)."""

    type: str
    payload: BaseModel
    occurred_on: date


class Aggregate:
    aggregate_type: ClassVar[str]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        # The versions it has from an event of another stream, its own going on after them: a
        # worker an import's chunk of workers enrolled (its enrollment is the chunk's event).
        self.base_version = 0
        self.pending: list[Pending] = []
        self._source: BaseModel | None = None

    def trigger(self, payload: BaseModel, occurred_on: date) -> None:
        """Decide: record a new event and apply it at once."""
        type_name = REGISTRY.name_of(type(payload))
        if self._source is not None:
            assert "source" in type(payload).model_fields, f"{type_name} cannot carry a source"
            payload = payload.model_copy(update={"source": self._source})
        self.pending.append(_tuple_new(Pending, (type_name, payload, occurred_on)))  # not a Python __new__ a decision
        self._apply(type_name, payload)
        self.version += 1

    def _apply(self, type_name: str, payload: BaseModel) -> None:
        getattr(self, f"apply_{type_name}")(payload)

    @contextmanager
    def sourced(self, source: BaseModel) -> Iterator[None]:
        """Every event the aggregate triggers meanwhile carries `source` (a go-live import's row:
        libs.events.source), so the decisions stay the aggregate's own, whoever asked for them."""
        assert self._source is None, "sources do not nest"
        self._source = source
        try:
            yield
        finally:
            self._source = None

    @property
    def persisted_version(self) -> int:
        return self.version - len(self.pending)

    @classmethod
    def rehydrate(cls, aggregate_id: str, history: Iterable[Envelope]):  # noqa: ANN206
        aggregate = cls(aggregate_id)
        for envelope in history:
            assert envelope.sequence == aggregate.version + 1, "history has a gap"
            aggregate._apply(envelope.type, REGISTRY.payload(envelope))
            aggregate.version = envelope.sequence
        return aggregate


_tuple_new = tuple.__new__
