"""The FastAPI application both runtimes serve: middleware, problems, health, audit trail."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from fastapi import Depends, FastAPI, Query
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from libs.events.store import row_to_envelope
from libs.events.tables import events
from libs.web import problems
from libs.web.auth import Authenticator, agency_only
from libs.web.middleware import BodyLimitMiddleware, IdempotencyMiddleware, RequestContextMiddleware

from .ops_api import build_ops_router
from .service import ServiceContext, ServiceSpec

DESCRIPTION = """The ledger of a work-injury insurance fund (工伤保险): enrollment, levy, claims
and payments. Money is a decimal string in yuan with two places; errors are RFC 9457 problems;
every POST takes an `Idempotency-Key`; every route but `/healthz` needs a bearer token."""


def create_app(
    contexts: Sequence[tuple[ServiceSpec, ServiceContext]],
    authenticator: Authenticator,
    idempotency_sessions: sessionmaker[Session],
    max_body_bytes: int,
    max_json_depth: int = 32,
    title: str = "injuryledger",
    lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.authenticator = authenticator
    problems.install(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers without a token")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    stores = [ctx.session_factory for _, ctx in contexts]

    @app.get("/v1/events", tags=["audit"], summary="The audit trail of one aggregate, in order")
    def audit_trail(
        aggregate_id: str = Query(min_length=1, max_length=64, examples=["6f1c..."]),
        cursor: int = Query(0, ge=0, description="the sequence after which to start"),
        limit: int = Query(100, ge=1, le=1000),
        _principal=Depends(agency_only),
    ) -> dict:
        return audit_page(stores, aggregate_id, cursor, limit)

    for spec, ctx in contexts:
        app.include_router(spec.build_router(ctx))
    app.include_router(build_ops_router(contexts))

    app.add_middleware(IdempotencyMiddleware, session_factory=lambda: idempotency_sessions)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, max_json_depth=max_json_depth)
    app.add_middleware(RequestContextMiddleware)
    return app


def audit_page(stores: Sequence[sessionmaker[Session]], aggregate_id: str, cursor: int, limit: int) -> dict:
    items = []
    for session_factory in stores:
        with session_factory() as session:
            rows = session.execute(
                select(events)
                .where(events.c.aggregate_id == aggregate_id, events.c.sequence > cursor)
                .order_by(events.c.sequence)
                .limit(limit + 1)
            ).all()
        items.extend(row_to_envelope(r).model_dump(mode="json") for r in rows)
    items.sort(key=lambda e: e["sequence"])
    page = items[:limit]
    next_cursor = str(page[-1]["sequence"]) if len(items) > limit else None
    return {"items": page, "next_cursor": next_cursor}
