"""Console sessions in the serving process's database, so any process serving the console (the
embedded app; each gateway of the distributed runtime, on the gateway database) knows them.

A row holds the session id's SHA-256 (the id itself is only in the browser's cookie), the CSRF
token, who signed in and when the session idles out. The person's API token, which every page
needs, is kept sealed (AES-256-GCM) with a key derived from the session id (HKDF): the database
alone gives no token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac  # compare_digest of the CSRF tokens
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, delete, func, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from libs.db import writing

COOKIE = "il_console"
PRE_COOKIE = "il_console_signin"  # the sign-in form's CSRF token (double submit, before a session)
MAX_SESSIONS = 10_000
NONCE_BYTES = 12  # AES-GCM's standard nonce, random per seal
SEAL_INFO = b"injuryledger console token"
# A request restarts the idle clock; the row is rewritten only when this much of it has run, so
# a burst of page loads and htmx calls costs one write, not one each.
REFRESH_PER_MILLE = 10

metadata = MetaData()
console_sessions = Table(
    "console_sessions", metadata,
    Column("sid_sha256", String(64), primary_key=True),
    Column("csrf", String(64), nullable=False),
    Column("sealed_token", String(512), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("person", String(100)),
    Column("idle_until_ms", BigInteger, nullable=False),  # epoch milliseconds
    Index("ix_console_sessions_idle_until", "idle_until_ms"),
)


@dataclass
class ConsoleSession:
    sid: str
    token: str
    client_id: str
    name: str
    person: str | None
    csrf: str

    @property
    def who(self) -> str:
        return self.person or self.name


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _key(sid: str) -> AESGCM:
    """A key of the session's own, derived from its id (HKDF-SHA256): no key to keep anywhere."""
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(sid.encode()))


def seal(sid: str, token: str) -> str:
    """The token encrypted and authenticated (AES-256-GCM) under the session's key."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return base64.urlsafe_b64encode(nonce + _key(sid).encrypt(nonce, token.encode(), None)).decode()


def unseal(sid: str, sealed_text: str) -> str | None:
    """The token, or None when the text was not sealed under this session's id (or was altered)."""
    raw = base64.urlsafe_b64decode(sealed_text.encode())
    try:
        return _key(sid).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
    except InvalidTag:
        return None


def create_table(sessions: sessionmaker[Session]) -> None:
    """The table, where it is missing. Two processes starting at once may both try: the one
    that loses finds it made by the other."""
    with sessions() as s:
        bind = s.get_bind()
    try:
        console_sessions.create(bind, checkfirst=True)
    except DBAPIError:
        if not inspect(bind).has_table(console_sessions.name):
            raise


class SessionStore:
    def __init__(self, sessions: sessionmaker[Session], idle_ms: int, max_sessions: int = MAX_SESSIONS,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        assert idle_ms > 0 and max_sessions > 0
        self.db, self.idle_ms, self.max_sessions, self.clock_ms = sessions, idle_ms, max_sessions, clock_ms
        create_table(sessions)

    def _now_ms(self) -> int:
        return self.clock_ms()

    def create(self, token: str, client_id: str, name: str, person: str | None) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), token, client_id, name, person, secrets.token_urlsafe(24))
        now = self._now_ms()
        c = console_sessions.c
        with writing(self.db) as s:
            s.execute(delete(console_sessions).where(c.idle_until_ms < now))
            s.execute(insert(console_sessions).values(
                sid_sha256=sid_hash(session.sid), csrf=session.csrf, sealed_token=seal(session.sid, token),
                client_id=client_id, name=name, person=person, idle_until_ms=now + self.idle_ms))
            live = s.execute(select(func.count()).select_from(console_sessions)).scalar_one()
            if live > self.max_sessions:  # the ones nearest their idle end go first
                oldest = select(c.sid_sha256).order_by(c.idle_until_ms, c.sid_sha256).limit(live - self.max_sessions)
                s.execute(delete(console_sessions).where(c.sid_sha256.in_(oldest.scalar_subquery())))
        return session

    def get(self, sid: str | None) -> ConsoleSession | None:
        """The live session of `sid` (its idle clock restarted), or None once it has idled out."""
        if not sid or len(sid) > 128:
            return None
        key, now = sid_hash(sid), self._now_ms()
        c = console_sessions.c
        with self.db() as s:
            row = s.execute(select(console_sessions).where(c.sid_sha256 == key)).first()
        if row is None:
            return None
        if row.idle_until_ms < now:
            self.drop(sid)
            return None
        token = unseal(sid, row.sealed_token)
        if token is None:
            return None
        if row.idle_until_ms - now < self.idle_ms * (1000 - REFRESH_PER_MILLE) // 1000:
            with writing(self.db) as s:  # only while it is still live: a sign-out meanwhile stands
                s.execute(update(console_sessions).where(c.sid_sha256 == key, c.idle_until_ms >= now)
                          .values(idle_until_ms=now + self.idle_ms))
        return ConsoleSession(sid, token, row.client_id, row.name, row.person, row.csrf)

    def drop(self, sid: str | None) -> None:
        if not sid:
            return
        with writing(self.db) as s:
            s.execute(delete(console_sessions).where(console_sessions.c.sid_sha256 == sid_hash(sid)))


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
