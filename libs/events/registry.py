"""Maps an event `type` + `schema_version` to its payload model; upcasts old versions on read.

Payload models are plain frozen pydantic models declared in each service's domain/events.py:

    @event_type("InjuryRecognized", version=2)
    class InjuryRecognized(BaseModel): ...

    @upcaster("InjuryRecognized", from_version=1)
    def _v1_to_v2(payload: dict) -> dict: return {**payload, "basis": ""}
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from pydantic import BaseModel

from .envelope import Envelope

M = TypeVar("M", bound=type[BaseModel])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    pass


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[str, tuple[int, type[BaseModel]]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._names: dict[type[BaseModel], str] = {}

    def register(self, type_name: str, version: int, model: type[BaseModel]) -> None:
        known = self._models.get(type_name)
        assert known is None or known[1] is model, f"event type {type_name} registered twice"
        self._models[type_name] = (version, model)
        self._names[model] = type_name

    def register_upcaster(self, type_name: str, from_version: int, fn: Upcaster) -> None:
        self._upcasters[(type_name, from_version)] = fn

    def latest_version(self, type_name: str) -> int:
        try:  # asked for every event appended: the map itself, not through _lookup
            return self._models[type_name][0]
        except KeyError:
            return self._lookup(type_name)[0]  # raises UnknownEventType

    def name_of(self, model: type[BaseModel]) -> str:
        return self._names[model]

    def knows(self, type_name: str) -> bool:
        return type_name in self._models

    def upcast(self, envelope: Envelope) -> Envelope:
        """The envelope at the latest schema version of its type (old events are never rewritten)."""
        latest, _ = self._lookup(envelope.type)
        if envelope.schema_version == latest:
            return envelope
        payload, version = dict(envelope.payload), envelope.schema_version
        while version < latest:
            fn = self._upcasters.get((envelope.type, version))
            if fn is None:
                raise UnknownEventType(f"no upcaster for {envelope.type} v{version}")
            payload, version = fn(payload), version + 1
        return envelope.model_copy(update={"payload": payload, "schema_version": latest})

    def payload(self, envelope: Envelope) -> BaseModel:
        """The typed, validated payload of an envelope, upcast first."""
        envelope = self.upcast(envelope)
        return self._lookup(envelope.type)[1].model_validate(envelope.payload)

    def _lookup(self, type_name: str) -> tuple[int, type[BaseModel]]:
        try:
            return self._models[type_name]
        except KeyError:
            raise UnknownEventType(f"unknown event type {type_name!r}") from None


REGISTRY = EventRegistry()


def json_payload(payload: BaseModel) -> dict[str, Any]:
    """`payload.model_dump(mode="json")`: the very call of the model's serializer that pydantic's
    `model_dump` makes with its defaults, without that Python wrapper (most of the dump's cost for a
    small payload; one an event appended). tests/spine/test_json_payload.py compares the stored
    JSON of both ways for every registered event type."""
    return payload.__pydantic_serializer__.to_python(payload, mode="json")


def event_type(type_name: str, version: int = 1) -> Callable[[M], M]:
    def decorate(model: M) -> M:
        REGISTRY.register(type_name, version, model)
        return model

    return decorate


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def decorate(fn: Upcaster) -> Upcaster:
        REGISTRY.register_upcaster(type_name, from_version, fn)
        return fn

    return decorate
