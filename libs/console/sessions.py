"""Console sessions: a personal agency token exchanged for a random session id in a cookie.

The token stays on the server (in this process's memory), the browser holds only the session id
(HttpOnly, SameSite=Strict, path /console). A session ends after INJURYLEDGER_CONSOLE_IDLE_MINUTES
without a request, on sign-out, or when the API refuses its token (revoked). Each session has
its CSRF token, required on every form and htmx request that changes anything.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

COOKIE = "il_console"
PRE_COOKIE = "il_console_signin"  # the sign-in form's CSRF token (double submit, before a session)
MAX_SESSIONS = 10_000


@dataclass
class ConsoleSession:
    sid: str
    token: str
    client_id: str
    name: str
    person: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    last_seen: float = 0.0

    @property
    def who(self) -> str:
        return self.person or self.name


class SessionStore:
    def __init__(self, idle_seconds: float, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        assert idle_seconds > 0 and max_sessions > 0
        self.idle_seconds, self.max_sessions, self.clock = idle_seconds, max_sessions, clock
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, token: str, client_id: str, name: str, person: str | None) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), token, client_id, name, person, last_seen=self.clock())
        with self._lock:
            self._sessions[session.sid] = session
            while len(self._sessions) > self.max_sessions:  # the least recently used goes first
                self._sessions.popitem(last=False)
        return session

    def get(self, sid: str | None) -> ConsoleSession | None:
        """The live session of `sid` (its idle clock restarted), or None once it has idled out."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[sid]
                return None
            session.last_seen = now
            self._sessions.move_to_end(sid)
            return session

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
