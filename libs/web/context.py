"""Per-request context (the correlation id) and JSON logs that carry it.

Logs never hold a whole identity or account number: `mask_personal_data` masks any 18-character
ID number and any long digit run before a line is written.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_ID_NUMBER = re.compile(r"\b(\d{6})\d{8}(\d{3}[0-9Xx])\b")
_LONG_DIGITS = re.compile(r"\b(\d{4})\d{4,24}(\d{4})\b")


def mask_personal_data(text: str) -> str:
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _LONG_DIGITS.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 8) + m.group(2), text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_personal_data(record.getMessage()),
        }
        cid = correlation_id.get()
        if cid:
            doc["correlation_id"] = cid
        for key in ("method", "path", "status", "duration_ms", "client_id"):
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = mask_personal_data(value) if isinstance(value, str) else value  # a path may hold one
        if record.exc_info:
            doc["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
