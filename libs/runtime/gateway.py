"""The gateway of the distributed runtime: one base URL, routing each v1 path to its service.

Clients cannot tell it from the embedded process: same paths, same answers. The audit trail
(`/v1/events`) and the operator's status (`/v1/ops/status`) live in every service, so the gateway
asks each and merges; it is ready (`/readyz`) when every service is.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import OrderedDict
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.apidocs import docs_routes
from libs.console import console_routes
from libs.db import make_engine, session_factory
from libs.settings import SERVICE_NAMES, Settings

from . import consistency
from .observability import ROUTE_LABEL, UNMATCHED, RequestMetricsMiddleware, app_registry, metrics_response
from .ops_api import route_ops
from .wiring import load_specs

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
UPSTREAM_TIMEOUT_S = 120
KEEPALIVE_S = 2
READY_TIMEOUT_S = 15  # a service's /readyz may wait on its broker's admin requests (5 s each)


def route_table(settings: Settings) -> list[tuple[re.Pattern[str], str]]:
    specs = load_specs()
    table = [(re.compile(p), settings.service_url(s.name)) for s in specs for p in s.priority_routes]
    table += [(re.compile(p), settings.service_url(s.name)) for s in specs for p in s.routes]
    return table


def create_gateway(settings: Settings) -> Starlette:
    table = route_table(settings)
    # Idle upstream connections are dropped before uvicorn drops them (its keep-alive is 5 s): a
    # request sent on a connection the service is closing would fail without ever reaching it.
    client = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_S,
                               limits=httpx.Limits(max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_S))
    sessions = Sessions()
    registry, request_metrics = app_registry()  # the gateway's own requests; the services expose the rest

    async def forward(request: Request, base: str) -> Response:
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        session = Sessions.key(request.headers.get("authorization"))
        if consistency.HEADER not in request.headers:
            carried = sessions.token(session)
            if carried:
                headers.append((consistency.HEADER, carried))
        clients = sessions.clients_token()
        if clients:
            headers.append((consistency.CLIENTS_HEADER, clients))
        try:
            upstream = await client.request(request.method, url, headers=headers, content=await request.body())
        except httpx.TransportError:
            return _problem(503, "Service unavailable", "the service behind this path is not answering")
        written = upstream.headers.get(consistency.HEADER)
        if written:
            sessions.observe(session, written)
            if request.method == "POST" and request.url.path.startswith("/v1/clients") and upstream.status_code < 300:
                # Who may do what changed: every later request, of any client, waits for the
                # clients' projections to have it, so a new token is known and a revoked one
                # refused on every service at once.
                sessions.observe_everyone(written)
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        request.scope[ROUTE_LABEL] = UNMATCHED
        if path == "/v1/events":
            request.scope[ROUTE_LABEL] = path
            return await audit_fan_out(request)
        if path.startswith("/v1/ops/"):
            routed = await route_ops(request, forward, settings)
            if routed is not None:
                return routed
        for pattern, base in table:
            if pattern.match(path):
                request.scope[ROUTE_LABEL] = route_label_of(pattern)
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

    async def ops_status_fan_out(request: Request) -> Response:
        """Every service's status, in one list (the same shape as the embedded process answers)."""
        answers = await asyncio.gather(*(forward(request, settings.service_url(s)) for s in SERVICE_NAMES))
        if any(a.status_code != 200 for a in answers):
            return max(answers, key=lambda a: a.status_code)
        return JSONResponse({"services": [s for a in answers for s in json.loads(a.body)["services"]]})

    async def readyz(_request: Request) -> Response:
        """Ready only if every service says it is. The body has the embedded process's shape: the
        services' checks merged (a shared name keeps its worst answer), and every projection."""
        async def ask(name: str) -> tuple[str, dict]:
            try:
                r = await client.get(settings.service_url(name) + "/readyz", timeout=READY_TIMEOUT_S)
                return name, r.json()
            except (httpx.TransportError, ValueError) as exc:
                return name, {"ready": False, "detail": f"unreachable ({exc.__class__.__name__})"}

        checks: dict[str, str] = {}
        projections: list[dict] = []
        max_lag = None
        for name, body in await asyncio.gather(*(ask(s) for s in SERVICE_NAMES)):
            checks[f"service:{name}"] = "ok" if body.get("ready") is True else str(body.get("detail", "not ready"))
            for check, answer in body.get("checks", {}).items():
                if checks.get(check, "ok") == "ok":
                    checks[check] = answer
            projections += body.get("projections", [])
            max_lag = body.get("max_lag", max_lag)
        doc = {"ready": all(v == "ok" for v in checks.values()), "checks": checks, "max_lag": max_lag,
               "projections": projections}
        if doc["ready"]:
            return JSONResponse({"status": "ready", **doc})
        failed = [f"{name}: {why}" for name, why in checks.items() if why != "ok" and not name.startswith("service:")]
        failed = failed or [f"{name}: {why}" for name, why in checks.items() if why != "ok"]
        return JSONResponse({"type": "about:blank", "title": "Not ready", "status": 503, "detail": "; ".join(failed[:5]),
                             **doc}, status_code=503, media_type="application/problem+json")

    async def metrics(_request: Request) -> Response:
        return metrics_response(registry)

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
    gateway = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/v1/ops/status", ops_status_fan_out),
            Route("/openapi.json", openapi),
            *docs_routes("injuryledger"),  # /docs, /redoc: assets from the package, not a CDN
            # The console asks the gateway itself (in-process), which routes to the services as
            # for any client: the same pages and the same checks as on the embedded runtime.
            # Its sessions are in the gateway's database, so any gateway process knows them.
            *console_routes(lambda: gateway, session_factory(make_engine(
                settings.gateway_database_url(), pool_size=4, sqlite_cache_mib=settings.sqlite_cache_mib)),
                settings.console_idle_minutes),
            Route("/{path:path}", dispatch, methods=methods),
        ],
        lifespan=lifespan,
        middleware=[Middleware(RequestMetricsMiddleware, metrics=request_metrics)],
    )
    return gateway


class Sessions:
    """Session consistency per bearer token: the merged consistency token of everything a client
    wrote through this gateway, sent along with its later requests that carry none of their own.
    Kept for the most recent MAX_SESSIONS tokens (by their SHA-256, never the token itself)."""

    MAX_SESSIONS = 10_000

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, consistency.Positions] = OrderedDict()
        self._everyone: consistency.Positions = {}  # the newest change of the API clients
        self._clients_token: str | None = None

    @staticmethod
    def key(authorization: str | None) -> str | None:
        return hashlib.sha256(authorization.encode()).hexdigest() if authorization else None

    def token(self, key: str | None) -> str | None:
        positions = self._tokens.get(key) if key else None
        if positions is None:
            return None
        self._tokens.move_to_end(key)
        return consistency.encode(positions)

    def clients_token(self) -> str | None:
        return self._clients_token

    def observe_everyone(self, token: str) -> None:
        try:
            self._everyone = consistency.merge(self._everyone, consistency.decode(token))
        except ValueError:
            return
        self._clients_token = consistency.encode(self._everyone)

    def observe(self, key: str | None, token: str) -> None:
        if key is None:
            return
        try:
            written = consistency.decode(token)
        except ValueError:
            return
        self._tokens[key] = consistency.merge(self._tokens.get(key, {}), written)
        self._tokens.move_to_end(key)
        while len(self._tokens) > self.MAX_SESSIONS:
            self._tokens.popitem(last=False)


def route_label_of(pattern: re.Pattern[str]) -> str:
    """A gateway route as a metric label: `^/v1/claims(/|$)` → `/v1/claims*`,
    `^/v1/employers/[^/]+/account$` → `/v1/employers/{id}/account`."""
    label = pattern.pattern.removeprefix("^").removesuffix("$").replace("(/|$)", "*").replace("[^/]+", "{id}")
    return label if label.endswith("*") or not label.endswith("/") else label + "*"


def _problem(status: int, title: str, detail: str) -> Response:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type="application/problem+json")
