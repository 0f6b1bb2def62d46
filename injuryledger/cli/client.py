"""The operator's HTTP client: one base URL (the embedded process or the distributed gateway) and
an agency token; problems become one readable line and a non-zero exit."""
from __future__ import annotations

import uuid
from typing import Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 120  # a read-model rebuild answers when done

UrlOption = typer.Option(DEFAULT_URL, "--url", envvar="INJURYLEDGER_URL",
                         help="the running system: the embedded process or the distributed gateway")
TokenOption = typer.Option(None, "--token", envvar=["INJURYLEDGER_TOKEN", "INJURYLEDGER_AGENCY_TOKEN"],
                           help="an agency token", show_default=False)


class OpsError(Exception):
    """What went wrong, said in one line; `exit_code` 1 for a refusal, 2 when nothing answered."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class OpsClient:
    def __init__(self, url: str, token: str | None) -> None:
        if not token:
            raise OpsError("no token: pass --token or set INJURYLEDGER_TOKEN (or INJURYLEDGER_AGENCY_TOKEN)", 2)
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=TIMEOUT_S,
                                  headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict | None = None) -> Any:
        # A fresh key a call: a retried connection never starts the same work twice.
        return self._call("POST", path, json=body or {}, headers={"Idempotency-Key": f"cli-{uuid.uuid4()}"})

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise OpsError(f"cannot reach {self.url} ({type(exc).__name__}): is the system running?", 2) from exc
        if response.status_code >= 400:
            raise OpsError(_problem_line(response))
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OpsClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _problem_line(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"
    if not isinstance(doc, dict):
        return f"{response.status_code}: {str(doc)[:300]}"
    line = f"{response.status_code} {doc.get('title', '')}".strip()
    if doc.get("detail"):
        line += f": {doc['detail']}"
    for error in doc.get("errors") or []:
        line += f"\n  {error.get('field')}: {error.get('message')}"
    return line
