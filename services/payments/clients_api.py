"""`POST /v1/clients`: an admin issues tokens to hospitals, banks, the agency's staff and systems,
and other admins. Issuing and revoking needs the `admin` role, which does nothing else, and an
agency client cannot issue clients: nobody can mint the second pair of eyes for themselves."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from libs.events.tables import clients
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, admin_only, new_token, require, token_hash
from libs.web.problems import conflict, not_found

from .domain.clients import Client


class ClientRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"name": "Shenzhen People's Hospital", "role": "hospital", "hospital_id": "H-440300-001"},
                     {"name": "Payments desk, Wang Fang", "role": "agency", "person": "wangfang"}]})
    name: str = Field(min_length=1, max_length=200)
    role: Literal["agency", "admin", "hospital", "bank"]
    person: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^\S(.*\S)?$",
                               description="who is behind an agency or admin token (a staff id): approvals "
                                           "that need four eyes compare persons")
    hospital_id: str | None = Field(default=None, min_length=1, max_length=64)
    bank_code: str | None = Field(default=None, pattern=r"^\d{12}$", description="12-digit CNAPS code")

    @model_validator(mode="after")
    def _binding(self) -> "ClientRequest":
        if self.role == "hospital" and not self.hospital_id:
            raise ValueError("hospital_id is required for a hospital client")
        if self.role == "bank" and not self.bank_code:
            raise ValueError("bank_code is required for a bank client")
        if self.role != "hospital" and self.hospital_id:
            raise ValueError("hospital_id is only for a hospital client")
        if self.role != "bank" and self.bank_code:
            raise ValueError("bank_code is only for a bank client")
        if self.person and self.role not in ("agency", "admin"):
            raise ValueError("person is only for an agency or admin client")
        return self


class ClientIssued(BaseModel):
    client_id: str
    role: str
    hospital_id: str | None
    bank_code: str | None
    person: str | None = None
    token: str = Field(description="shown once; the ledger keeps only its hash")


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "the hospital's key leaked"}]})
    reason: str = Field(min_length=1, max_length=500)


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["clients"])
    agency_or_admin = require("agency", "admin")
    anyone = require("agency", "admin", "hospital", "bank")

    @router.post("/v1/clients", status_code=201, response_model=ClientIssued, summary="Issue a token to a client (admin)")
    def issue(body: ClientRequest, principal: Principal = Depends(admin_only)) -> ClientIssued:
        token = new_token()
        client_id = "cl_" + uuid.uuid4().hex[:16]
        with ctx.uow(principal) as uow:
            uow.save(Client.register(client_id, body.name, body.role, body.hospital_id, body.bank_code,
                                     token_hash(token), datetime.now(timezone.utc).date(), body.person))
        return ClientIssued(client_id=client_id, role=body.role, hospital_id=body.hospital_id,
                            bank_code=body.bank_code, person=body.person, token=token)

    @router.get("/v1/clients/me", summary="The calling client: its id, name, role and person (any role)")
    def me(principal: Principal = Depends(anyone)) -> dict:
        with ctx.session_factory() as s:
            row = s.execute(select(clients.c.name).where(clients.c.client_id == principal.client_id)).first()
        return {"client_id": principal.client_id, "name": row.name if row else "bootstrap token",
                "role": principal.role, "roles": sorted(principal.roles), "person": principal.person,
                "hospital_id": principal.hospital_id, "bank_code": principal.bank_code}

    @router.post("/v1/clients/{client_id}/revocation", status_code=200, summary="Revoke a client's token (admin)")
    def revoke(client_id: str, body: RevokeRequest, principal: Principal = Depends(admin_only)) -> dict:
        if not re.fullmatch(r"cl_[0-9a-f]{16}", client_id):
            raise not_found("client", client_id)
        with ctx.uow(principal) as uow:
            client = uow.load(Client, client_id)
            if client is None:
                raise not_found("client", client_id)
            if client.revoked:
                raise conflict(f"client {client_id} is already revoked")
            client.revoke(datetime.now(timezone.utc), body.reason)
            uow.save(client)
        return {"client_id": client_id, "revoked": True}

    @router.get("/v1/clients", summary="List clients (never their tokens): admin, or agency for the audit")
    def list_clients(_p: Principal = Depends(agency_or_admin)) -> dict:
        with ctx.session_factory() as s:
            rows = s.execute(select(clients).order_by(clients.c.created_at).limit(1000)).all()
        return {"items": [{"client_id": r.client_id, "name": r.name, "role": r.role, "hospital_id": r.hospital_id,
                           "bank_code": r.bank_code, "person": r.person, "revoked": r.revoked_at is not None}
                          for r in rows],
                "next_cursor": None}

    return router
