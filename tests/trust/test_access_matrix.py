"""Every route × every role (agency, admin, the bootstrap token, hospital, bank, none, unknown,
revoked): nobody reaches anything without a valid token, and a role reaches only the routes that
name it; the bootstrap token is agency and admin at once, and an admin does nothing else. The route
table is the code's (an embedded app built once for the module); the matrix is asked of the
running system, so on the distributed runtime every service must know the tokens issued and
revoked through the gateway."""
from __future__ import annotations

import re
from typing import Iterator

import pytest
from fastapi.routing import APIRoute

from libs.runtime.consistency import HEADER as CONSISTENCY
from libs.runtime.embedded import EmbeddedRuntime
from tests.conftest import AGENCY_TOKEN, embedded_settings, fresh_data_dir

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


@pytest.fixture(scope="module")
def route_table(tmp_path_factory, migrated_data_dir) -> Iterator[list[tuple[str, str, APIRoute]]]:  # noqa: ANN001
    """Every route of the system with its method: the same code serves both runtimes."""
    rt = EmbeddedRuntime(embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path_factory.mktemp("routes") / "data")))
    try:
        yield routes(rt.app())
    finally:
        rt.close()


@pytest.fixture
def tokens(api) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """The request headers of each kind of caller."""

    def issue(body: dict) -> dict:
        r = api.post("/v1/clients", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    agency = issue({"name": "A", "role": "agency", "person": "matrix-agency"})
    admin = issue({"name": "Admin", "role": "admin", "person": "matrix-admin"})
    hospital = issue({"name": "H", "role": "hospital", "hospital_id": "H-1"})
    bank = issue({"name": "B", "role": "bank", "bank_code": "102100099996"})
    revoked = issue({"name": "R", "role": "agency"})
    revocation = api.post(f"/v1/clients/{revoked['client_id']}/revocation", json={"reason": "test"})
    assert revocation.status_code == 200, revocation.text
    bearer = {who: {"Authorization": f"Bearer {token}"} for who, token in [
        ("agency", agency["token"]), ("admin", admin["token"]), ("bootstrap", AGENCY_TOKEN),
        ("hospital", hospital["token"]), ("bank", bank["token"]),
        ("revoked", revoked["token"]), ("unknown", "il_" + "x" * 43)]}
    # The revocation was the admin's write, not the revoked client's: its session does not know
    # it, so the revoked caller sends the revocation's consistency token (API.md, Conventions).
    bearer["revoked"][CONSISTENCY] = revocation.headers[CONSISTENCY]
    return {**bearer, "none": {"Authorization": ""}}


def test_every_route_names_the_roles_it_admits(route_table) -> None:  # noqa: ANN001
    missing = [f"{m} {p}" for m, p, r in route_table if roles_of(r) is None]
    assert missing == [], "routes without a role check"
    assert len(route_table) >= 3


def test_the_matrix(api, route_table, tokens) -> None:  # noqa: ANN001
    failures = []
    for method, path, route in route_table:
        allowed = roles_of(route) or set()
        for who, headers in tokens.items():
            status = api.request(method, concrete(path), headers=headers, json={}).status_code
            if who in ("none", "unknown", "revoked"):
                ok = status == 401
            elif who == "bootstrap":
                ok = status not in (401, 403) if allowed & {"agency", "admin"} else status == 403
            elif who in allowed:
                ok = status not in (401, 403) or who not in ("agency", "admin") and status == 403  # scoped data
            else:
                ok = status == 403
            if not ok:
                failures.append(f"{who:8} {method:6} {path} → {status}")
    assert failures == []


def test_only_an_admin_issues_and_revokes_clients_and_an_admin_does_nothing_else(route_table) -> None:  # noqa: ANN001
    admitting = {f"{m} {p}": roles_of(r) or set() for m, p, r in route_table}
    assert {k for k, roles in admitting.items() if "admin" in roles} == {
        "POST /v1/clients", "POST /v1/clients/{client_id}/revocation", "GET /v1/clients", "GET /v1/clients/me"}
    assert admitting["POST /v1/clients"] == admitting["POST /v1/clients/{client_id}/revocation"] == {"admin"}
    assert "admin" not in admitting["POST /v1/payment-runs"] | admitting["POST /v1/payment-runs/{run_id}/approval"]


def test_overpayments_and_their_write_off_are_the_agencys_alone(route_table) -> None:  # noqa: ANN001
    """RULES.md "Appeals, reversals and recovery": a write-off is the agency's decision (the matrix
    above asks each of these of every caller: anyone else is a 403, no token a 401)."""
    admitting = {f"{m} {p}": roles_of(r) or set() for m, p, r in route_table}
    routes_ = ("GET /v1/overpayments", "GET /v1/overpayments/{overpayment_id}",
               "POST /v1/overpayments/{overpayment_id}/write-off")
    assert {route: admitting.get(route) for route in routes_} == {route: {"agency"} for route in routes_}
