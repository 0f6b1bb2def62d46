"""A browser-like client of the console: no bearer token of its own, only the session cookie."""
from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

import httpx
from fastapi.testclient import TestClient

from libs.runtime.layout import Process
from tests.four_eyes import personal_client


def browser_like(api: Any) -> Any:
    """A client of the same system as `api` that sends no Authorization header."""
    if isinstance(api, TestClient):
        return TestClient(api.app, base_url="http://testserver")
    return httpx.Client(base_url=str(api.base_url), timeout=120, follow_redirects=True)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: Any, token: str) -> httpx.Response:
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return client.post("/console/sign-in", data={"csrf": csrf_of(form.text), "token": token}, follow_redirects=False)


def signed_in(api: Any, person: str) -> tuple[Any, dict[str, str]]:
    """A browser signed in with a new personal agency token of `person` (and that token's headers)."""
    headers = personal_client(api, person)
    client = browser_like(api)
    r = sign_in(client, headers["Authorization"].removeprefix("Bearer "))
    assert r.status_code == 303 and r.headers["location"] == "/console/claims", r.text
    return client, headers


@contextlib.contextmanager
def another_console(api: Any) -> Iterator[Any]:
    """A browser-like client of a second process serving the console on the same database: on
    the distributed runtime a second gateway process (its port 10 above the first's); embedded,
    a second console app over the embedded app's database (one process serves it there)."""
    if isinstance(api, TestClient):
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from libs.console import console_routes

        mounted = next(r for r in api.app.router.routes if isinstance(r, Mount) and r.path == "/console")
        database = mounted.app.state.console.sessions.db
        yield TestClient(Starlette(routes=console_routes(lambda: api.app, database)), base_url="http://testserver")
        return
    cluster = api.cluster.cluster
    first = next(p for p in cluster.layout if p.name == "gateway")
    port = int(first.env["INJURYLEDGER_PORT"]) + 10
    cluster.layout.append(Process("gateway-b", first.argv, {**first.env, "INJURYLEDGER_PORT": str(port)}))
    try:
        cluster.start(["gateway-b"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120, follow_redirects=True) as client:
            yield client
    finally:
        cluster.kill("gateway-b")
        cluster.layout.pop()
