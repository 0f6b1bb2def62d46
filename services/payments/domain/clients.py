"""API clients: hospitals and banks, the agency's staff and systems, and admins get a token
bound to a role; an agency or admin client may name the person behind it (four eyes).

The token itself is never stored or written into an event: only its SHA-256.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from libs.events.aggregate import Aggregate
from libs.events.registry import event_type

Role = Literal["agency", "admin", "hospital", "bank"]


@event_type("ClientRegistered")
class ClientRegistered(BaseModel):
    model_config = ConfigDict(frozen=True)
    client_id: str
    name: str
    role: Role
    hospital_id: str | None = None
    bank_code: str | None = None
    token_sha256: str
    person: str | None = None


@event_type("ClientRevoked")
class ClientRevoked(BaseModel):
    model_config = ConfigDict(frozen=True)
    client_id: str
    revoked_at: datetime
    reason: str


class ClientRevokedAlready(Exception):
    pass


class Client(Aggregate):
    aggregate_type = "client"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.role: str = ""
        self.revoked = False

    @classmethod
    def register(cls, client_id: str, name: str, role: Role, hospital_id: str | None, bank_code: str | None,
                 token_sha256: str, on: date, person: str | None = None) -> "Client":
        assert (role == "hospital") == (hospital_id is not None) and (role == "bank") == (bank_code is not None)
        assert person is None or role in ("agency", "admin")
        client = cls(client_id)
        client.trigger(ClientRegistered(client_id=client_id, name=name, role=role, hospital_id=hospital_id,
                                        bank_code=bank_code, token_sha256=token_sha256, person=person), on)
        return client

    def revoke(self, at: datetime, reason: str) -> None:
        if self.revoked:
            raise ClientRevokedAlready(self.id)
        self.trigger(ClientRevoked(client_id=self.id, revoked_at=at, reason=reason), at.date())

    def apply_ClientRegistered(self, e: ClientRegistered) -> None:
        self.role = e.role

    def apply_ClientRevoked(self, _e: ClientRevoked) -> None:
        self.revoked = True
