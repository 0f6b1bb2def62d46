"""Four eyes in tests: the bootstrap token (agency and admin at once, no person) proposes payment
runs; a personal agency client of another person, issued by that admin, approves them."""
from __future__ import annotations

from typing import Any

CHECKER = "checker"


def personal_client(api: Any, person: str, role: str = "agency", name: str | None = None) -> dict[str, str]:
    """The request headers of a new client of `role` naming `person` (issued by the bootstrap admin)."""
    r = api.post("/v1/clients", json={"name": name or f"{role} desk of {person}", "role": role, "person": person})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def checker(api: Any) -> dict[str, str]:
    """The headers of the second person, one per client of the system under test."""
    headers = getattr(api, "_four_eyes_checker", None)
    if headers is None:
        headers = personal_client(api, CHECKER)
        api._four_eyes_checker = headers
    return headers


def approve(api: Any, run_id: str, note: str = "checked") -> dict:
    """Approve a run as a second person; its files may leave afterwards."""
    r = api.post(f"/v1/payment-runs/{run_id}/approval", json={"decision": "approved", "note": note},
                 headers=checker(api))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    return r.json()


def reject(api: Any, run_id: str, note: str = "not this month") -> dict:
    r = api.post(f"/v1/payment-runs/{run_id}/approval", json={"decision": "rejected", "note": note},
                 headers=checker(api))
    assert r.status_code == 200, r.text
    return r.json()
