"""A browser-like client of the console: no bearer token of its own, only the session cookie."""
from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

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
