"""Bearer tokens with roles. A token is stored only as its SHA-256 (tokens are 256 random bits,
so a plain hash cannot be reversed by guessing); it can be revoked.

Roles: `agency` (the fund's work), `admin` (issuing and revoking clients, nothing else),
`hospital` (bound to one hospital id), `bank` (one bank code). An agency or admin client may
name the `person` behind it: approvals that need four eyes compare persons. The token from
INJURYLEDGER_AGENCY_TOKEN is the bootstrap, agency and admin at once.
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

ROLES = ("agency", "admin", "hospital", "bank")
ENV_AGENCY_CLIENT = "env-agency"
MAX_TOKEN_LEN = 256


@dataclass(frozen=True)
class Principal:
    client_id: str
    role: str
    hospital_id: str | None = None
    bank_code: str | None = None
    person: str | None = None
    bootstrap: bool = False  # the environment's token: agency and admin at once

    @property
    def roles(self) -> frozenset[str]:
        return frozenset({"agency", "admin"}) if self.bootstrap else frozenset({self.role})

    @property
    def identity(self) -> str:
        """Who acts, for four eyes: the named person, else the client itself."""
        return f"person:{self.person}" if self.person else f"client:{self.client_id}"


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
            return Principal(ENV_AGENCY_CLIENT, "agency", bootstrap=True)
        with self.session_factory() as session:
            row = session.execute(
                select(clients).where(clients.c.token_sha256 == token_hash(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.client_id, row.role, row.hospital_id, row.bank_code, row.person)


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
        if not principal.roles & set(roles):
            raise forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the access-matrix test
    return dependency


agency_only = require("agency")
admin_only = require("admin")
