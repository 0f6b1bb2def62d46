"""A worker's claim through the public API, in a region of the test's own (the distributed
cluster is shared by every test): the policy, the employer, the worker and a year of wages."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from libs.identifiers import make_id_number, make_uscc
from libs.policy import load_national_default
from tests.conftest import new_unique

ACCOUNT = {"bank_code": "102584000001", "account_no": "6222020200000000001", "holder": "Li Lei"}


def ok(response, status: int | tuple[int, ...] = 200) -> Any:  # noqa: ANN001, ANN401
    wanted = status if isinstance(status, tuple) else (status,)
    assert response.status_code in wanted, response.text
    return response.json()


def problem_field(response, status: int = 422) -> str:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()["errors"][0]["field"]


def region_policy(**changes: Any) -> dict:  # noqa: ANN401
    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00", **changes})
    return doc


def new_region(api, **changes: Any) -> str:  # noqa: ANN001, ANN401
    region = new_unique().region
    ok(api.put(f"/v1/policies/{region}/2024-01-01", json=region_policy(**changes)), 201)
    return region


@dataclass(frozen=True)
class Worker:
    region: str
    employer_id: str
    employee_id: str
    id_number: str


def new_worker(api, region: str, *, wage: str | None = "9000.00", born: date = date(1980, 5, 17),  # noqa: ANN001
               employer_id: str | None = None, account: dict | None = ACCOUNT) -> Worker:
    """A worker hired 2024-12-01 with `wage` reported every month of 2025 (None: no wages)."""
    if employer_id is None:
        employer_id = ok(api.post("/v1/employers", json={
            "uscc": make_uscc(f"91{region}{uuid.uuid4().int % 10**8:08d}"), "name": "Pearl River Metalworks",
            "industry_code": "C3311", "region": region, "enrolled_on": "2024-12-01"}), 201)["employer_id"]
    id_number = make_id_number(region, born, uuid.uuid4().int % 900 + 100)
    employee_id = ok(api.post(f"/v1/employers/{employer_id}/employees", json={
        "id_number": id_number, "name": "Li Lei", "hired_on": "2024-12-01", "bank_account": account}), 201)[
        "employee_id"]
    if wage is not None:
        for month in range(1, 13):
            ok(api.post("/v1/wage-reports", json={"employer_id": employer_id, "period": f"2025-{month:02d}",
                                                  "lines": [{"id_number": id_number, "wage": wage}]}), 201)
    return Worker(region, employer_id, employee_id, id_number)


def new_claim(api, w: Worker, *, occurred_on: str = "2026-01-10", applied_on: str = "2026-01-20") -> str:  # noqa: ANN001
    return ok(api.post("/v1/claims", json={
        "employer_id": w.employer_id, "employee_id": w.employee_id, "kind": "accident", "occurred_on": occurred_on,
        "applied_on": applied_on, "applicant": "employer", "description": "hand caught in a press"}), 201)["claim_id"]


def decide(api, claim_id: str, decision: str = "recognized", decided_on: str = "2026-02-01") -> dict:  # noqa: ANN001
    return ok(api.post(f"/v1/claims/{claim_id}/recognition",
                       json={"decision": decision, "decided_on": decided_on, "basis": "R.14(1)"}))


def appraise(api, claim_id: str, grade: int | None, care_level: str = "none",  # noqa: ANN001
             concluded_on: str = "2026-05-04") -> dict:
    return ok(api.post(f"/v1/claims/{claim_id}/appraisals",
                       json={"grade": grade, "care_level": care_level, "concluded_on": concluded_on}))


def lines(api, claim_id: str) -> list[dict]:  # noqa: ANN001
    return ok(api.get(f"/v1/claims/{claim_id}/entitlements"))["items"]


def per_month(items: list[dict], kind: str, *, through: str = "9999-12") -> dict[str, Decimal]:
    """The sum of a kind's lines per period (a month, or a one-off's date), up to `through`."""
    out: dict[str, Decimal] = {}
    for ln in items:
        if ln["kind"] == kind and ln["period"][:7] <= through:
            out[ln["period"]] = out.get(ln["period"], Decimal("0.00")) + Decimal(ln["amount"])
    return out
