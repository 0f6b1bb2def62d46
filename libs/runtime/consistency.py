"""Read your writes on both runtimes (API.md, Conventions).

A write answers with `Injuryledger-Consistency: <token>`: the log positions — (topic, partition,
offset) — of the events it produced, which the relay records on each event when it publishes. A
request that carries a token is served only once every projection of the answering service that
reads one of those topics has applied the named offsets (each consumer group commits its
`consumer_positions` with its effects), waiting at most the projection wait, else a 503 with
`Retry-After`. The embedded runtime has projected everything before a write returns, so there the
wait ends at once; the distributed one really waits.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Mapping, Sequence

import anyio
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.db import driver_mark
from libs.events.envelope import Envelope
from libs.events.tables import consumer_positions
from libs.web.problems import Problem, problem_response

log = logging.getLogger(__name__)

HEADER = "Injuryledger-Consistency"
# Sent by the gateway with every request: the newest change of the API clients (a token issued or
# revoked), awaited only by the projections of the clients, so a token is known or refused on
# every service at once without tying every request to every other projection.
CLIENTS_HEADER = "Injuryledger-Clients-Consistency"
CLIENTS_GROUP_SUFFIX = ".clients"
TOKEN_PREFIX = "c1."
MAX_TOKEN_CHARS = 4_096
MAX_TOKEN_ENTRIES = 256  # (topic, partition) pairs: topics × partitions of one deployment
MAX_WRITES_PER_REQUEST = 100_000  # events a request may have to locate in the outbox
POLL_FIRST_MS, POLL_MAX_MS = 5, 100
RETRY_AFTER_S = 1

# (topic, partition) → offset of the newest event named
Positions = dict[tuple[str, int], int]


# ---- the token ---------------------------------------------------------------------------

def encode(positions: Mapping[tuple[str, int], int]) -> str:
    nested: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(positions.items()):
        nested.setdefault(topic, {})[str(partition)] = offset
    raw = json.dumps(nested, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> Positions:
    """The positions a token names; ValueError saying what is wrong with it."""
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"longer than {MAX_TOKEN_CHARS} characters")
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("not a consistency token of this system")
    body = token[len(TOKEN_PREFIX):]
    try:
        nested = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a consistency token of this system") from exc
    if not isinstance(nested, dict):
        raise ValueError("not a consistency token of this system")
    positions: Positions = {}
    for topic, partitions in nested.items():
        if not isinstance(partitions, dict):
            raise ValueError("not a consistency token of this system")
        for partition, offset in partitions.items():
            if not (partition.isdigit() and type(offset) is int and offset >= 0):
                raise ValueError("not a consistency token of this system")
            positions[(topic, int(partition))] = offset
    if len(positions) > MAX_TOKEN_ENTRIES:
        raise ValueError(f"names more than {MAX_TOKEN_ENTRIES} log partitions")
    return positions


def merge(*tokens: Positions) -> Positions:
    out: Positions = {}
    for positions in tokens:
        for key, offset in positions.items():
            out[key] = max(out.get(key, -1), offset)
    return out


# ---- what a request wrote ----------------------------------------------------------------

# The events each unit of work of this request committed, by the store they went to, each as
# (aggregate_id, sequence): the key the events table finds them by (event_id has no index).
Written = tuple[str, int]
_written: ContextVar[list[tuple[sessionmaker[Session], list[Written]]] | None] = ContextVar("written", default=None)


def record_committed(session_factory: sessionmaker[Session], recorded: Sequence[Envelope]) -> None:
    """Called after a unit of work commits (ServiceContext.uow)."""
    written = _written.get()
    if written is not None and recorded:
        written.append((session_factory, [(e.aggregate_id, e.sequence) for e in recorded]))


def positions_of(written: list[tuple[sessionmaker[Session], list[Written]]], wait_ms: int) -> tuple[Positions, bool]:
    """Where the relay put the written events, waiting for it at most `wait_ms`; the flag says
    whether every event was found published (False: the log was not reachable in time)."""
    by_store: dict[sessionmaker[Session], set[Written]] = {}
    for session_factory, keys in written:
        by_store.setdefault(session_factory, set()).update(keys)
    assert sum(len(keys) for keys in by_store.values()) <= MAX_WRITES_PER_REQUEST
    found: Positions = {}
    deadline = time.monotonic() + wait_ms / 1000
    pending = {sf: sorted(keys) for sf, keys in by_store.items()}
    delay_ms = POLL_FIRST_MS
    while True:
        for session_factory, keys in list(pending.items()):
            try:
                unsent = _locate(session_factory, keys, found)
            except DBAPIError:  # the database is away a moment: the write is committed, look again
                continue
            if unsent:
                pending[session_factory] = unsent
            else:
                del pending[session_factory]
        if not pending or time.monotonic() >= deadline:
            return found, not pending
        time.sleep(delay_ms / 1000)
        delay_ms = min(delay_ms * 2, POLL_MAX_MS)


LOCATE_CHUNK = 1_000  # events a statement: two parameters each


def _locate(session_factory: sessionmaker[Session], keys: list[Written], found: Positions) -> list[Written]:
    """Adds the log positions of the published events to `found`; returns the unpublished ones.
    Each chunk is a list of values joined to the events by (aggregate_id, sequence), its unique
    index (a row-value IN would scan the table on SQLite)."""
    unsent: list[Written] = []
    with session_factory() as session:
        conn = session.connection()
        pair = "({0}, {0})".format(driver_mark(conn.dialect.name))
        for start in range(0, len(keys), LOCATE_CHUNK):
            chunk = keys[start:start + LOCATE_CHUNK]
            # plain driver SQL: SQLAlchemy's text() parsed and bound the chunk's 2,000 named
            # parameters at a cost like the database's own work (a go-live's 30,000 events a request)
            rows = conn.exec_driver_sql(
                f"WITH w(aggregate_id, sequence) AS (VALUES {', '.join([pair] * len(chunk))}) "
                "SELECT e.aggregate_id, e.sequence, e.topic, e.log_partition, e.log_offset "
                "FROM w JOIN events AS e ON e.aggregate_id = w.aggregate_id AND e.sequence = w.sequence",
                tuple(value for key in chunk for value in key))
            for aggregate_id, sequence, topic, partition, offset in rows:
                if offset is None:
                    unsent.append((aggregate_id, sequence))
                else:
                    key = (topic, partition)
                    found[key] = max(found.get(key, -1), offset)
    return unsent


# ---- serving a request that carries a token ------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """One store of the answering process and its consumer groups by the topic they read."""

    session_factory: sessionmaker[Session]
    groups_by_topic: Mapping[str, Sequence[str]]


class Gate:
    def __init__(self, readers: Sequence[Reader], wait_ms: int) -> None:
        assert 0 <= wait_ms <= 600_000
        self.readers, self.wait_ms = list(readers), wait_ms

    def behind(self, wanted: Positions, clients: Positions | None = None) -> list[str]:
        """The projections that have not yet applied `wanted` (and the projections of the API
        clients `clients`), as 'group topic/partition': one read of each store's positions."""
        lagging: list[str] = []
        for reader in self.readers:
            needs = [(group, topic, partition, offset) for (topic, partition), offset in wanted.items()
                     for group in reader.groups_by_topic.get(topic, ())]
            needs += [(group, topic, partition, offset) for (topic, partition), offset in (clients or {}).items()
                      for group in reader.groups_by_topic.get(topic, ()) if group.endswith(CLIENTS_GROUP_SUFFIX)]
            if not needs:
                continue
            groups = sorted({n[0] for n in needs})
            try:
                with reader.session_factory() as session:
                    have = {(r.consumer, r.topic, r.log_partition): r.next_offset for r in session.execute(
                        select(consumer_positions).where(consumer_positions.c.consumer.in_(groups)))}
            except DBAPIError:
                lagging.append("the database (unavailable)")
                continue
            lagging += [f"{g} {t}/{p}" for g, t, p, offset in needs if have.get((g, t, p), 0) <= offset]
        return lagging

    def wait(self, wanted: Positions, clients: Positions | None = None) -> list[str]:
        """Wait until every projection has applied `wanted` (and the clients' projections
        `clients`); the ones still behind at the end."""
        deadline = time.monotonic() + self.wait_ms / 1000
        delay_ms = POLL_FIRST_MS
        while True:
            lagging = self.behind(wanted, clients)
            if not lagging or time.monotonic() >= deadline:
                return lagging
            time.sleep(delay_ms / 1000)
            delay_ms = min(delay_ms * 2, POLL_MAX_MS)


class ConsistencyMiddleware:
    """Waits for the token a request carries; answers every successful write with its token."""

    def __init__(self, app: ASGIApp, gate: Gate, publish_wait_ms: int) -> None:
        self.app, self.gate, self.publish_wait_ms = app, gate, publish_wait_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carried_headers = Headers(scope=scope)
        wanted: dict[str, Positions] = {}
        for name in (HEADER, CLIENTS_HEADER):
            carried = carried_headers.get(name)
            if carried is None:
                continue
            try:
                wanted[name] = decode(carried)
            except ValueError as exc:
                await _send_problem(scope, receive, send, 422, "Invalid consistency token",
                                    f"the {name} header is {exc}", errors=[{"field": name, "message": str(exc)}])
                return
        if wanted:
            lagging = await anyio.to_thread.run_sync(self.gate.wait, wanted.get(HEADER, {}), wanted.get(CLIENTS_HEADER))
            if lagging:
                await _send_problem(
                    scope, receive, send, 503, "Not yet consistent",
                    f"the state this request must include has not reached {', '.join(lagging[:5])} yet; retry",
                    headers={"Retry-After": str(RETRY_AFTER_S)})
                return
        writes = scope["method"] not in ("GET", "HEAD", "OPTIONS")
        written: list[tuple[sessionmaker[Session], list[str]]] = []
        reset = _written.set(written)

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start" and writes and message["status"] < 400:
                positions, complete = await anyio.to_thread.run_sync(positions_of, written, self.publish_wait_ms)
                headers = MutableHeaders(scope=message)
                headers.append(HEADER, encode(positions))
                if not complete:
                    log.warning("a write's events were not published within %d ms", self.publish_wait_ms)
                    headers.append("warning", '199 injuryledger "recorded, not yet published: reads '
                                              'elsewhere may not include this write"')
            await send(message)

        try:
            await self.app(scope, receive, send_with_token)
        finally:
            _written.reset(reset)


async def _send_problem(scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str,
                        headers: dict[str, str] | None = None, **extra) -> None:  # noqa: ANN003
    response = problem_response(Problem(status, title, detail, **extra))
    response.headers.update(headers or {})
    await response(scope, receive, send)
