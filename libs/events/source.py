"""Where an event came from when it did not come from a command of a client: a row of a
go-live import (MIGRATION.md). Events that may be migrated carry it as `source` in their payload
(null for every ordinary command), so the audit trail and every explanation can name it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_LEGACY_ID_LEN = 64


class Source(BaseModel):
    """One row of one import: the import's id, the kind of file, the row's number in the file
    (the header is row 1) and the old system's key of the row."""

    model_config = ConfigDict(frozen=True)
    import_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    row: int = Field(ge=2)
    legacy_id: str = Field(max_length=MAX_LEGACY_ID_LEN * 3 + 2)  # wages: three keys joined by "/"


def describe(source: Source | Mapping[str, Any] | None) -> str | None:
    """The words the audit trail and the explanations use: `migrated: import imp_…, row 12`."""
    if source is None:
        return None
    s = source if isinstance(source, Mapping) else source.model_dump()
    return f"migrated: import {s['import_id']}, row {s['row']}"


def add_source(payload: dict[str, Any]) -> dict[str, Any]:
    """The upcaster of every event that gained `source`: an event recorded before had none."""
    return {**payload, "source": payload.get("source")}
