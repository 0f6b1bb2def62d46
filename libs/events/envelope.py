"""The envelope every domain event travels in: immutable, versioned, self-describing."""
from __future__ import annotations

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


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


_FIELDS = frozenset(Envelope.model_fields)


def trusted_envelope(**fields: Any) -> Envelope:
    """An envelope from fields our own store already validated: skips validation (and the cost
    of `model_construct`) on the hot paths — append and replay. Never for outside input."""
    assert fields.keys() == _FIELDS, sorted(fields.keys() ^ _FIELDS)
    env = Envelope.__new__(Envelope)
    object.__setattr__(env, "__dict__", fields)
    object.__setattr__(env, "__pydantic_fields_set__", _FIELDS)
    object.__setattr__(env, "__pydantic_extra__", None)
    object.__setattr__(env, "__pydantic_private__", None)
    return env
