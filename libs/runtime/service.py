"""What a service declares, and the context the runtime hands it.

Each `services/<name>/service.py` exposes `SPEC`; the runtimes wire it the same way whether the
four run in one process (embedded) or each alone (distributed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

from fastapi import APIRouter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from libs.events.consumer import Projector
from libs.events.envelope import Envelope
from libs.events.log import Topics
from libs.events.store import Context
from libs.events.uow import UnitOfWork
from libs.settings import Settings
from libs.web.auth import Principal
from libs.web.context import correlation_id

from . import consistency
from .observability import ServiceMetrics

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    build_router: Callable[["ServiceContext"], APIRouter]
    build_projectors: Callable[["ServiceContext"], list[Projector]]
    # Path regexes the gateway routes to this service (checked in order, most specific first).
    routes: tuple[str, ...] = ()
    # Routes that must be served by this service even though a broader pattern elsewhere matches.
    priority_routes: tuple[str, ...] = ()
    # Run once when the service starts, after migrations (e.g. publish the national default
    # policy if none exists). Must be idempotent: it runs on every start of every instance.
    on_start: Callable[["ServiceContext"], None] | None = None
    # The audit trail of an aggregate some of whose events are another stream's (a worker an
    # import's chunk of workers enrolled): its events in order, or None for its own stream alone.
    audit_history: Callable[[Session, str], list[Envelope] | None] | None = None


@dataclass
class ServiceContext:
    name: str
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    topics: Topics
    # Called after a command commits: the embedded runtime pumps the log, the distributed one
    # wakes its relay.
    notify: Callable[[Sequence[Envelope]], None] = field(default=lambda _events: None)
    # How long `await_projection` waits for another service's events (0 when embedded: the
    # embedded runtime has projected everything before a request returns).
    projection_wait_ms: int = 0
    # The consumer groups of this service by the topic they read (read-your-writes waits on them).
    consumer_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Figures the service's code records as they happen (payment runs), exposed at /metrics.
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    # The service's consumer runners (set by wiring): the operator's endpoints redrive and replay
    # through them.
    runners: list = field(default_factory=list)

    @property
    def topic(self) -> str:
        return self.topics.of(self.name)

    def uow(self, actor: Principal | str) -> UnitOfWork:
        client_id = actor.client_id if isinstance(actor, Principal) else actor
        return UnitOfWork(
            self.session_factory,
            self.topic,
            Context(actor=client_id, correlation_id=correlation_id.get()),
            on_commit=self._committed,
        )

    def _committed(self, recorded: Sequence[Envelope]) -> None:
        consistency.record_committed(self.session_factory, recorded)  # before the embedded pump
        self.notify(recorded)

    def await_projection(self, lookup: Callable[[Session], T | None]) -> T | None:
        """Read something another service owns from this service's projection of it.

        In the distributed runtime the event may still be on its way; wait for it a bounded time
        rather than refusing a command a client made right after the one that created it.
        """
        deadline = time.monotonic() + self.projection_wait_ms / 1000
        delay = 0.01
        while True:
            with self.session_factory() as session:
                found = lookup(session)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
