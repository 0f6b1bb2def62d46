"""The demo region `make run` loads: the national defaults, a region, employers, workers.

It goes through the public API (in process), so the demo is also a smoke test of the contract.
Each step is idempotent (an Idempotency-Key), so a restart does not load it twice.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

DEMO_STEPS: list[tuple[str, str, dict]] = []  # (method, path, body) — filled as services land


def load_demo(app: FastAPI, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        for i, (method, path, body) in enumerate(DEMO_STEPS):
            response = client.request(method, path, json=body, headers={**headers, "Idempotency-Key": f"demo-{i}"})
            assert response.status_code < 400 or response.status_code == 409, (path, response.text)
