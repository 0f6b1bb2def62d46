"""The FastAPI application both runtimes serve: middleware, problems, health, audit trail."""
from __future__ import annotations

from itertools import zip_longest
from typing import Any, Callable, Sequence

from fastapi import Depends, FastAPI, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from libs.apidocs import docs_routes
from libs.events.store import row_to_envelope
from libs.events.tables import events
from libs.imports.api import status_router
from libs.web import problems
from libs.web.auth import Authenticator, agency_only
from libs.web.middleware import BodyLimitMiddleware, IdempotencyMiddleware, RequestContextMiddleware
from libs.web.problems import PROBLEM_JSON, Problem

from . import consistency
from .observability import RequestMetricsMiddleware, app_registry, metrics_response
from .ops import Observed, readiness, service_status
from .ops_api import build_ops_router
from .service import ServiceContext, ServiceSpec

DESCRIPTION = """The ledger of a work-injury insurance fund (工伤保险): enrollment, levy, claims
and payments. Money is a decimal string in yuan with two places; errors are RFC 9457 problems;
every POST takes an `Idempotency-Key`; every route but `/healthz`, `/readyz` and `/metrics` needs a bearer
token."""


def create_app(
    contexts: Sequence[tuple[ServiceSpec, ServiceContext]],
    authenticator: Authenticator,
    idempotency_sessions: sessionmaker[Session],
    max_body_bytes: int,
    max_json_depth: int = 32,
    title: str = "injuryledger",
    lifespan: Callable[[FastAPI], Any] | None = None,
    observed: Sequence[Observed] = (),
) -> FastAPI:
    """`observed`: the services of this process with their log and consumers, for /readyz,
    /metrics and /v1/ops/status."""
    app = FastAPI(title=title, version="1", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.router.routes.extend(docs_routes(title))  # /docs, /redoc: assets from the package, not a CDN
    app.state.authenticator = authenticator
    problems.install(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers without a token")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_ops_routes(app, observed, {"idempotency": idempotency_sessions.kw["bind"]},
                   contexts[0][1].settings.ready_max_lag)

    stores = [ctx.session_factory for _, ctx in contexts]

    @app.get("/v1/events", tags=["audit"], summary="The audit trail of one aggregate, in order")
    def audit_trail(
        aggregate_id: str = Query(min_length=1, max_length=64, examples=["6f1c..."]),
        cursor: int = Query(0, ge=0, description="the sequence after which to start"),
        limit: int = Query(100, ge=1, le=1000),
        _principal=Depends(agency_only),
    ) -> dict:
        return audit_page(stores, aggregate_id, cursor, limit, [spec.audit_history for spec, _ in contexts])

    for spec, ctx in contexts:
        app.include_router(spec.build_router(ctx))
    app.include_router(build_ops_router(contexts))
    app.include_router(status_router(stores))  # GET /v1/imports/{import_id}, wherever it is held

    app.add_middleware(IdempotencyMiddleware, session_factory=lambda: idempotency_sessions)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, max_json_depth=max_json_depth)
    wait_ms = contexts[0][1].settings.projection_wait_ms
    gate = consistency.Gate([consistency.Reader(ctx.session_factory, ctx.consumer_groups) for _, ctx in contexts],
                            wait_ms)
    app.add_middleware(consistency.ConsistencyMiddleware, gate=gate, publish_wait_ms=wait_ms)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.request_metrics)
    return app


def add_ops_routes(app: FastAPI, observed: Sequence[Observed], databases: dict, max_lag: int) -> None:
    """/readyz and /metrics (no token), /v1/ops/status (agency): see libs/runtime/ops.py."""
    registry, app.state.request_metrics = app_registry(observed)

    @app.get("/readyz", tags=["health"], summary="Readiness: databases and log reachable, projections within "
             "the lag limit; the lag in the body; 503 when not ready. No token",
             responses={503: {"description": "not ready (a problem document naming the failed checks)"}})
    def readyz() -> JSONResponse:
        ready, body = readiness(observed, databases, max_lag)
        return JSONResponse(body, status_code=200 if ready else 503, media_type=None if ready else PROBLEM_JSON)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse,
             summary="Prometheus metrics (injuryledger_*; no personal data). No token")
    def metrics() -> Response:
        return metrics_response(registry)

    @app.get("/v1/ops/status", tags=["operations"], summary="Per service of this process: log position, "
             "lag of each projection, outbox backlog, dead letters")
    def ops_status(_principal=Depends(agency_only)) -> dict:
        try:
            return {"services": [service_status(o.ctx, o.log, o.runners) for o in observed]}
        except Exception as exc:
            raise Problem(503, "Service unavailable", f"the log or a database is not answering ({exc.__class__.__name__})") from exc


def audit_page(stores: Sequence[sessionmaker[Session]], aggregate_id: str, cursor: int, limit: int,
               histories: Sequence[Callable[[Session, str], list | None] | None] = ()) -> dict:
    """`histories`: each store's service's `ServiceSpec.audit_history`, if it has one."""
    items = []
    for session_factory, history in zip_longest(stores, histories[:len(stores)]):
        with session_factory() as session:
            found = history(session, aggregate_id) if history is not None else None
            if found is not None:
                items.extend(e.model_dump(mode="json") for e in found if e.sequence > cursor)
                continue
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
