"""A recognized claim in a region of the test's own (`unique`), through the public API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from libs.policy import load_national_default

FUND = {"name": "Test work-injury fund", "bank_code": "102584000002", "account_no": "40000234092001",
        "bic": "ICBKCNBJSZN"}


def ok(response, status: int = 201) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def region_policy(**changes: Any) -> dict:
    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00", "fund_account": FUND,
                **changes})
    return doc


@dataclass(frozen=True)
class Claim:
    region: str
    claim_id: str
    employee_id: str
    employer_id: str


def recognized_claim(api, unique, *, region: str | None = None, **policy: Any) -> Claim:  # noqa: ANN001
    """A worker injured 2026-01-10, recognized 2026-02-01, in `region` (else `unique.region`)
    under its own policy."""
    region = region or unique.region
    ok(api.put(f"/v1/policies/{region}/2024-01-01", json=region_policy(**policy)))
    employer = ok(api.post("/v1/employers", json={
        "uscc": unique.uscc(), "name": "Pearl River Metalworks", "industry_code": "C3311", "region": region,
        "enrolled_on": "2024-12-01"}))
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": unique.id_number(date(1980, 5, 17), 101), "name": "Li Lei", "hired_on": "2024-12-01",
        "bank_account": {"bank_code": "102584000001", "account_no": "6222020200000000001", "holder": "Li Lei"}}))
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer",
        "description": "leg crushed by a falling beam"}))["claim_id"]
    r = api.post(f"/v1/claims/{claim_id}/recognition",
                 json={"decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14(1)"})
    assert r.status_code in (200, 201), r.text
    return Claim(region, claim_id, worker["employee_id"], employer["employer_id"])


def lines_of(api, claim_id: str, kind: str) -> list[dict]:  # noqa: ANN001
    body = ok(api.get(f"/v1/claims/{claim_id}/entitlements"), 200)
    return [ln for ln in body["items"] if ln["kind"] == kind]
