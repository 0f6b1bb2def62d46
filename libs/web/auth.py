"""Bearer tokens with roles. A token is stored only as its SHA-256 (tokens are 256 random bits,
so a plain hash cannot be reversed by guessing); it can be revoked.

Roles: `agency` (everything), `hospital` (bound to one hospital id), `bank` (one bank code).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Callable

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from libs.events.tables import clients

from .problems import forbidden, unauthorized

ROLES = ("agency", "hospital", "bank")
ENV_AGENCY_CLIENT = "env-agency"
MAX_TOKEN_LEN = 256


@dataclass(frozen=True)
class Principal:
    client_id: str
    role: str
    hospital_id: str | None = None
    bank_code: str | None = None


def new_token() -> str:
    return "il_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, session_factory: sessionmaker[Session], agency_token: str | None) -> None:
        self.session_factory = session_factory
        self.agency_token = agency_token

    def authenticate(self, token: str) -> Principal | None:
        if self.agency_token and hmac.compare_digest(token.encode(), self.agency_token.encode()):
            return Principal(ENV_AGENCY_CLIENT, "agency")
        with self.session_factory() as session:
            row = session.execute(
                select(clients).where(clients.c.token_sha256 == token_hash(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.client_id, row.role, row.hospital_id, row.bank_code)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LEN:
        return None
    return token.strip()


def current_principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    principal = request.app.state.authenticator.authenticate(token)
    if principal is None:
        raise unauthorized("the token is unknown or revoked")
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency: the caller's principal, if its role is one of `roles`."""
    assert roles and all(r in ROLES for r in roles)

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the access-matrix test
    return dependency


agency_only = require("agency")
