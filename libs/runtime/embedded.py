"""The embedded default: every service in one process, SQLite files, the in-process log.

After each command commits, `pump` relays every outbox to the log and runs every consumer until
nothing is left, so a client's next request sees the effects everywhere (read-your-writes).
"""
from __future__ import annotations

import logging
import threading
from typing import Sequence

from fastapi import FastAPI

from libs.db import make_engine, session_factory
from libs.events.decode import DecodedOnce
from libs.events.envelope import Envelope
from libs.events.log import Topics
from libs.events.sqlite_log import SqliteLog
from libs.settings import SERVICE_NAMES, Settings
from libs.web.auth import Authenticator

from libs.console import console_routes

from .app import create_app
from .ops import Observed
from .wiring import Wired, load_specs, wire

log = logging.getLogger(__name__)
MAX_PUMP_ROUNDS = 1_000


class EmbeddedRuntime:
    def __init__(self, settings: Settings, names: tuple[str, ...] = SERVICE_NAMES) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.log = SqliteLog(make_engine(settings.log_database_url(), sqlite_cache_mib=settings.sqlite_cache_mib))
        self.services: dict[str, Wired] = {}
        for spec in load_specs(names):
            wired = wire(spec, settings, self.log, self.topics, projection_wait_ms=0)
            wired.ctx.notify = self._on_commit
            self.services[spec.name] = wired
        self._topics = sorted({t for r in self.runners() for t in r.topics})
        # A record read by several consumers (an import's events by some seven) decoded once a round.
        self._decoded = DecodedOnce()
        for runner in self.runners():
            runner.decode = self._decoded
        self._lock = threading.RLock()
        self._pumping = threading.local()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.pump()  # anything a crash left in an outbox goes out now

    def _on_commit(self, _events: Sequence[Envelope]) -> None:
        # A consumer that writes events of its own commits inside a pump: the running pump's
        # loop picks those up, so don't start a second one inside it.
        if not getattr(self._pumping, "active", False):
            self.pump()

    def pump(self) -> int:
        """Relay and project until quiescent; returns how many records were consumed."""
        consumed = 0
        with self._lock:
            self._pumping.active = True
            try:
                for _ in range(MAX_PUMP_ROUNDS):
                    sent = sum(w.relay.drain() for w in self.services.values())
                    # Poll only the consumers that have something to read: one query for the
                    # ends of the log instead of a poll by every consumer after every commit.
                    ends = self.log.end_offsets(self._topics)
                    read = sum(r.run_until_idle() for r in self.runners() if r.consumer.behind(ends))
                    consumed += read
                    if sent == 0 and read == 0:
                        return consumed
            finally:
                self._pumping.active = False
                self._decoded.forget()
        raise RuntimeError("the embedded log did not settle")

    def runners(self):  # noqa: ANN201
        return [r for w in self.services.values() for r in w.runners]

    def start_background(self, interval_ms: int = 1_000) -> None:
        """A safety net: pump now and then, in case a commit's own pump failed midway."""

        def tick() -> None:
            while not self._stop.wait(interval_ms / 1000):
                try:
                    self.pump()
                except Exception:
                    log.exception("background pump failed")

        self._ticker = threading.Thread(target=tick, name="embedded-pump", daemon=True)
        self._ticker.start()

    def app(self) -> FastAPI:
        owner = self.services.get("payments") or next(iter(self.services.values()))
        token = self.settings.agency_token.get_secret_value() if self.settings.agency_token else None
        gateway_db = session_factory(make_engine(self.settings.gateway_database_url(),
                                                 sqlite_cache_mib=self.settings.sqlite_cache_mib))
        _create_gateway_tables(gateway_db)
        app = create_app(
            [(w.spec, w.ctx) for w in self.services.values()],
            Authenticator(owner.ctx.session_factory, token),
            gateway_db,
            self.settings.max_body_bytes,
            observed=[Observed(w.ctx, self.log, w.runners) for w in self.services.values()],
        )
        # The console asks this same app's API, in-process, with the signed-in person's token.
        app.router.routes.extend(console_routes(lambda: app, gateway_db, self.settings.console_idle_minutes))
        return app

    def close(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
        for w in self.services.values():
            for r in w.runners:
                r.close()
            w.ctx.engine.dispose()
        self.log.close()


def _create_gateway_tables(sessions) -> None:  # noqa: ANN001
    from libs.events.tables import idempotency_keys

    with sessions() as s:
        idempotency_keys.create(s.get_bind(), checkfirst=True)
