"""The gateway of the distributed runtime: one base URL, routing each v1 path to its service.

Clients cannot tell it from the embedded process: same paths, same answers. The audit trail
(`/v1/events`) lives in every service's store, so the gateway asks each and merges.
"""
from __future__ import annotations

import asyncio
import json
import re
from contextlib import asynccontextmanager

import httpx
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.settings import SERVICE_NAMES, Settings

from .ops_api import route_ops
from .wiring import load_specs

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
UPSTREAM_TIMEOUT_S = 120


def route_table(settings: Settings) -> list[tuple[re.Pattern[str], str]]:
    specs = load_specs()
    table = [(re.compile(p), settings.service_url(s.name)) for s in specs for p in s.priority_routes]
    table += [(re.compile(p), settings.service_url(s.name)) for s in specs for p in s.routes]
    return table


def create_gateway(settings: Settings) -> Starlette:
    table = route_table(settings)
    client = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_S)

    async def forward(request: Request, base: str) -> Response:
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        try:
            upstream = await client.request(request.method, url, headers=headers, content=await request.body())
        except httpx.TransportError:
            return _problem(503, "Service unavailable", "the service behind this path is not answering")
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if path == "/v1/events":
            return await audit_fan_out(request)
        if path.startswith("/v1/ops/"):
            routed = await route_ops(request, forward, settings)
            if routed is not None:
                return routed
        for pattern, base in table:
            if pattern.match(path):
                return await forward(request, base)
        return _problem(404, "Not found", f"no route for {path}")

    async def audit_fan_out(request: Request) -> Response:
        bases = [settings.service_url(s) for s in SERVICE_NAMES]
        answers = await asyncio.gather(*(forward(request, b) for b in bases))
        if any(a.status_code != 200 for a in answers):
            worst = max(answers, key=lambda a: a.status_code)
            return worst
        docs = [json.loads(a.body) for a in answers]
        items = sorted((i for d in docs for i in d["items"]), key=lambda e: e["sequence"])
        limit = int(request.query_params.get("limit", "100"))
        more = any(d.get("next_cursor") for d in docs) or len(items) > limit
        page = items[:limit]
        return JSONResponse({"items": page, "next_cursor": str(page[-1]["sequence"]) if more and page else None})

    async def docs(_request: Request) -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="injuryledger")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(_request: Request) -> Response:
        """The services' OpenAPI documents merged, so /docs of the gateway shows the contract."""
        docs = await asyncio.gather(*(client.get(settings.service_url(s) + "/openapi.json") for s in SERVICE_NAMES))
        merged = docs[0].json()
        for d in docs[1:]:
            other = d.json()
            merged["paths"].update(other.get("paths", {}))
            merged.setdefault("components", {}).setdefault("schemas", {}).update(
                other.get("components", {}).get("schemas", {}))
        merged["info"]["title"] = "injuryledger"
        return JSONResponse(merged)

    @asynccontextmanager
    async def lifespan(_app: Starlette):  # noqa: ANN202
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/openapi.json", openapi),
            Route("/docs", docs),
            Route("/{path:path}", dispatch, methods=methods),
        ],
        lifespan=lifespan,
    )


def _problem(status: int, title: str, detail: str) -> Response:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type="application/problem+json")
