"""The distributed runtime: one service per process, its own PostgreSQL, events over Kafka.

Scale out by starting more processes of a service: the relay publishes under an advisory lock
(one at a time, in order), and each projection is a Kafka consumer group whose partitions the
processes share.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from typing import Sequence

import anyio
from fastapi import FastAPI

from libs.events.consumer import MAX_BATCH, ConsumerRunner
from libs.events.envelope import Envelope
from libs.events.kafka_log import KafkaLog
from libs.events.log import Topics
from libs.policy.projection import PoliciesProjection
from libs.settings import SERVICE_NAMES, Settings
from libs.web.auth import Authenticator

from .app import create_app
from .ops import Observed
from .lifecycle import SERVICE_STOP_MS
from .wiring import Wired, load_specs, wire

log = logging.getLogger(__name__)
RELAY_IDLE_S = 0.2
STARTUP_WAIT_S = 60


class ServiceProcess:
    def __init__(self, settings: Settings, name: str) -> None:
        assert name in SERVICE_NAMES, name
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.log = KafkaLog(settings.kafka_bootstrap, client_id=f"injuryledger-{name}")
        self.log.ensure_topics([self.topics.of(s) for s in SERVICE_NAMES], settings.topic_partitions)
        (spec,) = load_specs((name,))
        # A consumer's batch is one PostgreSQL transaction, which no other writer waits for: as big as
        # a poll (CONSUMER_TUNING), so a catch-up costs a few round trips and commits per 5,000 events.
        self.wired: Wired = wire(spec, settings, self.log, self.topics, settings.projection_wait_ms, max_batch=MAX_BATCH)
        self.wired.ctx.notify = self._on_commit
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stop_deadline_ns = 0  # time.monotonic_ns(); set by stop()

    def _on_commit(self, _events: Sequence[Envelope]) -> None:
        self._wake.set()

    def start(self) -> None:
        self._threads.append(threading.Thread(target=self._relay_loop, name="relay", daemon=True))
        for runner in self.wired.runners:
            self._threads.append(threading.Thread(target=self._consume, args=(runner,), name=runner.group, daemon=True))
        for t in self._threads:
            t.start()

    def _relay_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.wired.relay.run_once() == 0:
                    self._wake.wait(RELAY_IDLE_S)
                    self._wake.clear()
            except Exception:  # broker or database away: the outbox keeps the events
                log.warning("relay could not publish; retrying", exc_info=True)
                self._stop.wait(1.0)
        self._last_drain()

    def _last_drain(self) -> None:
        """On stop, after the requests in flight have finished: publish what they committed."""
        try:
            while time.monotonic_ns() < self._stop_deadline_ns and self.wired.relay.run_once():
                pass
        except Exception:  # the outbox keeps the rest for the next start
            log.warning("relay could not publish before stopping", exc_info=True)

    def _consume(self, runner: ConsumerRunner) -> None:
        """One consumer group: each batch's offsets are committed before the stop flag is
        looked at, so a stop leaves nothing applied and uncommitted; then it leaves the group."""
        try:
            runner.run_forever(self._stop.is_set)
        finally:
            runner.close()

    def app(self) -> FastAPI:
        token = self.settings.agency_token.get_secret_value() if self.settings.agency_token else None
        ctx = self.wired.ctx
        app = create_app(
            [(self.wired.spec, ctx)],
            Authenticator(ctx.session_factory, token),
            ctx.session_factory,
            self.settings.max_body_bytes,
            title=f"injuryledger {ctx.name}",
            lifespan=self._lifespan,
            observed=[Observed(ctx, self.log, self.wired.runners)],
        )
        return app

    @asynccontextmanager
    async def _lifespan(self, _app: FastAPI):  # noqa: ANN202
        self.start()
        await anyio.to_thread.run_sync(self.wait_for_national_default)
        try:
            yield
        finally:
            self.stop()

    def wait_for_national_default(self) -> None:
        """Serve only once the national default policy (published by enrollment's own start) has
        reached this service's projection, so a fresh deployment answers as the embedded one."""
        deadline = time.monotonic() + STARTUP_WAIT_S
        while time.monotonic() < deadline:
            with self.wired.ctx.session_factory() as session:
                if PoliciesProjection.has_national_default(session):
                    return
            time.sleep(0.05)
        log.warning("the national default policy has not reached %s after %d s", self.wired.spec.name, STARTUP_WAIT_S)

    def stop(self, budget_ms: int = SERVICE_STOP_MS) -> None:
        """Stop the relay (after a last drain) and the consumers (after their last commit), each
        within `budget_ms` together; a thread still busy then is left to the process's exit."""
        self._stop_deadline_ns = time.monotonic_ns() + budget_ms * 1_000_000
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=self._stop_left_ms() / 1_000)  # threading takes seconds
        if busy := [t.name for t in self._threads if t.is_alive()]:
            log.warning("still busy after %d ms, left to the exit: %s", budget_ms, ", ".join(busy))
        self.log.close(timeout_ms=max(100, self._stop_left_ms()))
        self.wired.ctx.engine.dispose()

    def _stop_left_ms(self) -> int:
        return max(0, self._stop_deadline_ns - time.monotonic_ns()) // 1_000_000
