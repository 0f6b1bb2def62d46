"""ASGI middleware: correlation ids and access logs, body limits, and Idempotency-Key replay."""
from __future__ import annotations

import hashlib
import json
import re
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from libs.db import writing
from libs.events.envelope import utc_now
from libs.events.tables import idempotency_keys

from .context import correlation_id
from .problems import PROBLEM_JSON, Problem, conflict, invalid

log = logging.getLogger("injuryledger.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_KEY_LEN = 128
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # asked every few seconds: logged at DEBUG only
MAX_STORED_RESPONSE_BYTES = 4 * 1024 * 1024


async def _send_problem(send: Send, problem: Problem) -> None:
    body = json.dumps(problem.body()).encode()
    await send({"type": "http.response.start", "status": problem.status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


class RequestContextMiddleware:
    """Sets the correlation id (from X-Correlation-Id or new), echoes it, logs one line a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = _header(scope, b"x-correlation-id")
        cid = given if given and len(given) <= 64 and given.isprintable() else str(uuid.uuid4())
        token = correlation_id.set(cid)
        scope.setdefault("state", {})["correlation_id"] = cid  # for a 500, answered outside this middleware
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-correlation-id", cid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            level = logging.DEBUG if scope["path"] in PROBES else logging.INFO
            log.log(level, "request", extra={"method": scope["method"], "path": scope["path"], "status": status["code"],
                                             "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            correlation_id.reset(token)


_JSON_TOKENS = re.compile(rb'[\[\]{}"\\]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True if JSON nests deeper than `limit` (strings and escapes skipped). Checked before
    parsing, because a deeply nested document makes the parser recurse until it fails."""
    depth, in_string, skip = 0, False, -1
    for match in _JSON_TOKENS.finditer(body):
        at, token = match.start(), match.group()
        if at == skip:
            continue
        if token == b"\\":
            skip = at + 1
        elif token == b'"':
            in_string = not in_string
        elif in_string:
            continue
        elif token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BodyLimitMiddleware:
    """Refuses a body over the limit with 413, and JSON nested too deep with 422, before any
    handler sees it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_json_depth: int = 32) -> None:
        self.app, self.max_body_bytes, self.max_json_depth = app, max_body_bytes, max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return await _send_problem(send, _too_large(self.max_body_bytes))
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            return await _send_problem(send, _too_large(self.max_body_bytes))
        if b"json" in (_header(scope, b"content-type") or "").encode():
            if json_depth_exceeds(body, self.max_json_depth):
                return await _send_problem(send, invalid("body", f"JSON nests deeper than {self.max_json_depth} levels"))
            if not _is_utf8(body):  # the JSON parser would fail with a bare 400 "error parsing the body"
                return await _send_problem(send, invalid("body", "JSON must be UTF-8 text (RFC 8259)"))
        await self.app(scope, replay_body(body, receive), send)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _too_large(limit: int) -> Problem:
    return Problem(413, "Payload too large", f"the body is larger than {limit} bytes")


async def read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay_body(body: bytes, then: Receive | None = None) -> Receive:
    """The body once, then the real channel: a streaming response listens for the client's
    disconnect, and a made-up one would cut every stream off after its first byte."""
    sent = {"done": False}

    async def receive() -> dict[str, Any]:
        if sent["done"]:
            return await then() if then is not None else {"type": "http.disconnect"}
        sent["done"] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class IdempotencyMiddleware:
    """`Idempotency-Key` on a POST: the same key and body replays the first response; the same
    key with another body is a 422; a key whose first request is still running is a 409.

    Keys are scoped by the caller's token hash, so two clients cannot see each other's replies.
    A 5xx is not stored: the request did nothing, and a retry should run again.
    """

    def __init__(self, app: ASGIApp, session_factory: Callable[[], sessionmaker[Session]]) -> None:
        self.app, self.session_factory = app, session_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
            return await _send_problem(send, invalid("Idempotency-Key", f"must be 1..{MAX_KEY_LEN} printable characters"))
        body = await read_body(receive, 2**31)
        assert body is not None
        client = hashlib.sha256((_header(scope, b"authorization") or "").encode()).hexdigest()[:64]
        request_hash = hashlib.sha256(scope["path"].encode() + b"\n" + (scope.get("query_string") or b"") + b"\n" + body).hexdigest()
        try:
            outcome = await run_in_threadpool(self._claim, client, key, request_hash)
        except Exception:  # the database is down: say so, change nothing
            return await _send_problem(send, Problem(503, "Service unavailable", "retry later"))
        if isinstance(outcome, Problem):
            return await _send_problem(send, outcome)
        if outcome is not None:
            status, content_type, stored = outcome
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", content_type.encode()), (b"idempotent-replayed", b"true")]})
            return await send({"type": "http.response.body", "body": stored.encode()})

        captured: dict[str, Any] = {"status": 500, "type": "application/json", "body": []}
        # The response is held until the key is settled: a client that retries the moment it has
        # the first answer must find that answer stored, not a key "still being processed".
        held: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for k, v in message.get("headers", []):
                    if k == b"content-type":
                        captured["type"] = v.decode()
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            held.append(message)

        try:
            await self.app(scope, replay_body(body, receive), capture)
        finally:
            response = b"".join(captured["body"])
            keep = captured["status"] < 500 and len(response) <= MAX_STORED_RESPONSE_BYTES
            try:
                await run_in_threadpool(self._settle, client, key, keep, captured["status"], captured["type"], response)
            except Exception:
                log.exception("could not settle idempotency key")
        for message in held:
            await send(message)

    def _claim(self, client: str, key: str, request_hash: str):  # noqa: ANN202
        with writing(self.session_factory()) as session:
            row = session.execute(
                select(idempotency_keys).where(idempotency_keys.c.client_id == client, idempotency_keys.c.key == key)
            ).first()
            if row is None:
                try:
                    with session.begin_nested():
                        session.execute(insert(idempotency_keys).values(
                            client_id=client, key=key, request_hash=request_hash, created_at=utc_now()))
                    return None
                except IntegrityError:
                    return conflict("a request with this Idempotency-Key is still being processed")
        if row.request_hash != request_hash:
            return invalid("Idempotency-Key", "was already used with a different request body")
        if row.status_code is None:
            return conflict("a request with this Idempotency-Key is still being processed")
        return row.status_code, row.content_type or "application/json", row.response_body or ""

    def _settle(self, client: str, key: str, keep: bool, status: int, content_type: str, body: bytes) -> None:
        where = (idempotency_keys.c.client_id == client, idempotency_keys.c.key == key)
        with writing(self.session_factory()) as session:
            if keep:
                session.execute(update(idempotency_keys).where(*where).values(
                    status_code=status, content_type=content_type, response_body=body.decode("utf-8", "replace")))
            else:
                session.execute(delete(idempotency_keys).where(*where))
