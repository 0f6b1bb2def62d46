"""Every service keeps its own copy of the API clients (projected from the payments service's
ClientRegistered / ClientRevoked events), so it can check a token without calling anyone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, rows_hash
from libs.events.envelope import Envelope
from libs.events.tables import clients


class ClientsProjection(Projection):
    name = "clients"
    sources = ("payments",)
    tables = (clients,)

    def on_ClientRegistered(self, session: Session, e: Envelope) -> None:
        p = e.payload
        exists = session.execute(select(clients.c.client_id).where(clients.c.client_id == p["client_id"])).first()
        if exists:
            return
        session.execute(
            insert(clients).values(
                client_id=p["client_id"], name=p["name"], role=p["role"], hospital_id=p.get("hospital_id"),
                bank_code=p.get("bank_code"), token_sha256=p["token_sha256"], created_at=e.recorded_at,
                person=p.get("person"),
            )
        )

    def on_ClientRevoked(self, session: Session, e: Envelope) -> None:
        session.execute(
            update(clients).where(clients.c.client_id == e.payload["client_id"]).values(
                revoked_at=datetime.fromisoformat(e.payload["revoked_at"]))
        )

    def reset(self, session: Session) -> None:
        session.execute(delete(clients))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(clients.c.client_id, clients.c.role, clients.c.token_sha256,
                                         clients.c.revoked_at, clients.c.person).order_by(clients.c.client_id))
