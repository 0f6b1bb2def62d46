"""Every route × every role (agency, hospital, bank, none, unknown, revoked): nobody reaches
anything without a valid token, and a role reaches only the routes that name it."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from tests.conftest import AGENCY_TOKEN

pytestmark = pytest.mark.both_runtimes

OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def roles_of(route: APIRoute) -> set[str] | None:
    """The roles a route's `require(...)` dependency admits (None if it has none)."""
    found: set[str] = set()
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "roles", None)
        if roles:
            found |= set(roles)
        stack.extend(dep.dependencies)
    return found or None


def concrete(path: str) -> str:
    """A path with its parameters filled in with plausible but unknown values."""
    return re.sub(r"\{[^}]+\}", lambda m: "2026-01-01" if "effective" in m.group(0) else "000000"
                  if "region" in m.group(0) else "x-unknown", path)


def flatten(routes_):  # noqa: ANN001, ANN201
    """FastAPI keeps included routers as lazy `_IncludedRouter` entries: walk into them."""
    for route in routes_:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flatten(inner.routes)
        else:
            yield route


def routes(app) -> list[tuple[str, str, APIRoute]]:  # noqa: ANN001
    out = []
    for route in flatten(app.routes):
        if isinstance(route, APIRoute) and route.path not in OPEN_PATHS:
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                out.append((method, route.path, route))
    return out


@pytest.fixture
def tokens(api) -> dict[str, str | None]:  # noqa: ANN001
    def issue(body: dict) -> dict:
        r = api.post("/v1/clients", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    hospital = issue({"name": "H", "role": "hospital", "hospital_id": "H-1"})
    bank = issue({"name": "B", "role": "bank", "bank_code": "102100099996"})
    revoked = issue({"name": "R", "role": "agency"})
    assert api.post(f"/v1/clients/{revoked['client_id']}/revocation", json={"reason": "test"}).status_code == 200
    return {"agency": AGENCY_TOKEN, "hospital": hospital["token"], "bank": bank["token"],
            "revoked": revoked["token"], "unknown": "il_" + "x" * 43, "none": None}


def test_every_route_names_the_roles_it_admits(runtime) -> None:  # noqa: ANN001
    app = runtime.app()
    missing = [f"{m} {p}" for m, p, r in routes(app) if roles_of(r) is None]
    assert missing == [], "routes without a role check"
    assert len(routes(app)) >= 3


def test_the_matrix(api, runtime, tokens) -> None:  # noqa: ANN001
    app = runtime.app()
    failures = []
    for method, path, route in routes(app):
        allowed = roles_of(route) or set()
        for who, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {"Authorization": ""}
            status = api.request(method, concrete(path), headers=headers, json={}).status_code
            if who in ("none", "unknown", "revoked"):
                ok = status == 401
            elif who in allowed:
                ok = status not in (401, 403) or (who != "agency" and status == 403)  # scoped data may still be 403
            else:
                ok = status == 403
            if not ok:
                failures.append(f"{who:8} {method:6} {path} → {status}")
    assert failures == []
