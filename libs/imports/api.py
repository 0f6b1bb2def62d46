"""The import routes (API.md "Going live"). Each importing service serves
`POST /v1/imports/{kind}` for the kinds it owns; `GET /v1/imports/{import_id}` is served by the
process (like the audit trail), from whichever of its databases holds the import — the gateway of
the distributed runtime sends it to the owner by the kind in the id (`imp_<kind>_…`)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.problems import Problem

from .runner import KINDS, Kind, find_summary, run_import

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
IMPORT_ID = r"^imp_[a-z]+_[0-9a-f]{16}$"
SUMMARY_EXAMPLE = {
    "import_id": "imp_employers_3f2a9c0d41b7e8a6", "kind": "employers", "dry_run": False, "rows": 3,
    "accepted": 2, "skipped": 0, "rejected": 1,
    "errors": [{"row": 3, "field": "uscc", "message": "check character is wrong"}], "errors_shown": 1,
    "totals": {"employers": 2}, "created_at": "2026-12-01T02:00:00+00:00", "updated_at": "2026-12-01T02:00:00+00:00"}


def gateway_pattern(kinds: Sequence[str], fallback: bool = False) -> str:
    """The path pattern a service's ServiceSpec routes: its kinds' POSTs and their imports' GETs.
    The `fallback` service also answers every other path under /v1/imports (an unknown kind or
    id: after the token check, a 404 or a 422 like any route), so the gateway never 404s first."""
    if fallback:
        others = [k for k in KINDS if k not in kinds]
        return rf"^/v1/imports/(?!(imp_)?({'|'.join(others)})(_|$))"
    return rf"^/v1/imports/(imp_)?({'|'.join(kinds)})(_|$)"


def import_router(ctx: ServiceContext, kinds: Sequence[Kind]) -> APIRouter:
    router = APIRouter(tags=["imports"])
    for kind in kinds:
        assert kind.name in KINDS
        router.add_api_route(
            f"/v1/imports/{kind.name}", _endpoint(ctx, kind), methods=["POST"], status_code=201,
            name=f"import_{kind.name}",
            summary=f"Import the old system's {kind.name} (CSV; MIGRATION.md): each good row recorded, "
                    "each bad one rejected with its row and field",
            responses={201: {"content": {"application/json": {"example": {**SUMMARY_EXAMPLE, "kind": kind.name}}}},
                       413: {"description": "more rows than one request takes: post the file in chunks"}},
            openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                "schema": {"type": "string"},
                "example": ",".join((*kind.columns, *kind.optional)) + "\n"}}}})
    return router


def _endpoint(ctx: ServiceContext, kind: Kind):  # noqa: ANN202
    async def post_import(
        request: Request,
        dry_run: bool = Query(False, description="check every row and record nothing"),
        import_id: str | None = Query(None, pattern=IMPORT_ID,
                                      description="continue this import with the next chunk of its file"),
        first_row: int = Query(2, ge=2, le=100_000_000,
                               description="the file's number of the body's first data row (the header is row 1)"),
        principal: Principal = Depends(agency_only),
    ) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in CSV_TYPES:
            raise Problem(415, "Unsupported media type", "post the file as text/csv (UTF-8, a header row)")
        body = await request.body()
        return await run_in_threadpool(run_import, ctx, principal, kind, body, dry_run=dry_run,
                                       import_id=import_id, first_row=first_row)

    return post_import


def status_router(stores: Sequence[sessionmaker[Session]]) -> APIRouter:
    router = APIRouter(tags=["imports"])

    @router.get("/v1/imports/{import_id}", summary="An import's summary: its counts, errors and totals",
                responses={200: {"content": {"application/json": {"example": SUMMARY_EXAMPLE}}}})
    def get_import(import_id: str = Path(pattern=IMPORT_ID), _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        return find_summary(stores, import_id)

    return router
