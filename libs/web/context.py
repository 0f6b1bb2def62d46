"""Per-request context (the correlation id) and the logs that carry it: JSON, or readable lines
on a terminal.

Logs never hold a whole identity or account number: `mask_personal_data` masks any 18-character
ID number and any long digit run before a line is written.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_ID_NUMBER = re.compile(r"\b(\d{6})\d{8}(\d{3}[0-9Xx])\b")
_LONG_DIGITS = re.compile(r"\b(\d{4})\d{4,24}(\d{4})\b")


def mask_personal_data(text: str) -> str:
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _LONG_DIGITS.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 8) + m.group(2), text)


FIELDS = ("method", "path", "status", "duration_ms", "client_id")
TEXT_NAMES = {"duration_ms": "ms"}  # shorter on a terminal


def _fields(record: logging.LogRecord) -> dict[str, object]:
    """The structured fields a record carries (request lines), masked, then the correlation id."""
    out: dict[str, object] = {}
    for key in FIELDS:
        value = getattr(record, key, None)
        if value is not None:
            out[key] = mask_personal_data(value) if isinstance(value, str) else value  # a path may hold one
    cid = correlation_id.get()
    if cid:
        out["correlation_id"] = cid
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_personal_data(record.getMessage()),
            **_fields(record),
        }
        if record.exc_info:
            doc["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One readable line: `INFO injuryledger.http request method=GET path=/v1/… status=200 ms=3.1
    correlation_id=…`, masked like the JSON form."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name} {mask_personal_data(record.getMessage())}"
        for key, value in _fields(record).items():
            text = str(value)
            line += f" {TEXT_NAMES.get(key, key)}={json.dumps(text, ensure_ascii=False) if ' ' in text else text}"
        if record.exc_info:
            line += "\n" + mask_personal_data(self.formatException(record.exc_info))
        return line


def configure_logging(level: str = "INFO", as_json: bool | None = None) -> None:
    """JSON lines for a collector, readable lines on a terminal; `as_json=None` decides by
    whether stderr is a terminal."""
    if as_json is None:
        as_json = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def quieted(*names: str, level: int = logging.WARNING) -> Iterator[None]:
    """Only `level` and above from the loggers `names` for a while (e.g. no request lines while
    `make run` loads its demo)."""
    loggers = [logging.getLogger(n) for n in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, before):
            logger.setLevel(old)
