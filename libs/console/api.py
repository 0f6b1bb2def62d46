"""The console's way to the ledger: the public API with the signed-in person's token, so every
page is checked by the API's roles and every action lands in the audit trail as theirs.

The target is the process's own ASGI app, called in-process (httpx ASGITransport): the embedded
app, or the gateway, which routes to the services over HTTP as for any client.
"""
from __future__ import annotations

from typing import Any, Callable

import httpx

from libs.web.context import correlation_id

TIMEOUT_S = 120


class ApiError(Exception):
    """A problem answer of the API (RFC 9457), kept whole for the page to show."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or str(status))
        self.status, self.problem = status, problem

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.problem.get("errors") or [])


class Api:
    def __init__(self, target: Callable[[], Any], token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        cid = correlation_id.get()
        if cid:
            headers["X-Correlation-Id"] = cid
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=target()), base_url="http://console.local",
                                         headers=headers, timeout=TIMEOUT_S)

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._client.aclose()

    async def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.request(method, path, **kwargs)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.raw(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "status": response.status_code}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self.call("POST", path, json=body)
