"""The demo region `make run` loads: the national defaults, a region, employers, workers.

It goes through the public API (in process), so the demo is also a smoke test of the contract.
Each step is idempotent: an Idempotency-Key per POST, a PUT of the same policy records nothing,
and a 409 on a re-run (the employer or the employment is already there) is accepted; the 409
names the existing id, so the steps after it still find it.

A step is `(method, path, body)` or `(method, path, body, save_as)`: the JSON answer of a step
with `save_as` is kept under that name, and later paths may use it, e.g.
`/v1/employers/{soft[employer_id]}/employees`.
"""
from __future__ import annotations

import warnings
from datetime import date
from typing import Any

from fastapi import FastAPI

with warnings.catch_warnings():  # starlette nags about its httpx-based TestClient
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from libs.identifiers import make_id_number, make_uscc
from libs.policy import load_national_default

MAX_DEMO_STEPS = 1_000


def _shenzhen_policy() -> dict[str, Any]:
    """Shenzhen (440300) from 2025-07-01: the national defaults with illustrative local levels."""
    document = load_national_default().model_dump(mode="json")
    document.update(average_monthly_wage="13730.00", minimum_monthly_wage="2520.00", meal_subsidy_daily="50.00")
    return document


def _employee(id_number: str, name: str, hired_on: str, bank_code: str | None, account_no: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id_number": id_number, "name": name, "hired_on": hired_on}
    if bank_code:
        body["bank_account"] = {"bank_code": bank_code, "account_no": account_no, "holder": name}
    return body


ICBC_SZ = "102584000011"  # illustrative CNAPS codes of Shenzhen branches
CCB_SZ = "105584000012"
ZHANG = make_id_number("440304", date(1988, 4, 12), 11)
LI = make_id_number("440305", date(1994, 9, 30), 22)
WANG = make_id_number("440306", date(1979, 1, 5), 33)
ZHAO = make_id_number("440307", date(2000, 6, 18), 44)
CHEN = make_id_number("440303", date(1985, 12, 1), 55)

DEMO_STEPS: list[tuple[Any, ...]] = [
    # -- enrollment: Shenzhen's policy, three employers in classes I, IV and VIII, their workers
    ("PUT", "/v1/policies/440300/2025-07-01", _shenzhen_policy()),
    ("POST", "/v1/employers", {"uscc": make_uscc("91440300MA5FTE0T"), "name": "深圳前海云软件有限公司",
                               "industry_code": "I6510", "region": "440300", "enrolled_on": "2025-07-01"}, "soft"),
    ("POST", "/v1/employers", {"uscc": make_uscc("91440300MA5FMETL"), "name": "深圳宝安精密金属制品厂",
                               "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-07-01"}, "metal"),
    ("POST", "/v1/employers", {"uscc": make_uscc("91440300MA5FC0AL"), "name": "深圳龙岗石材开采有限公司",
                               "industry_code": "B1011", "region": "440300", "enrolled_on": "2025-08-01"}, "quarry"),
    ("POST", "/v1/employers/{soft[employer_id]}/employees",
     _employee(ZHANG, "张伟", "2025-07-01", ICBC_SZ, "6222024000012345678"), "zhang"),
    ("POST", "/v1/employers/{soft[employer_id]}/employees",
     _employee(LI, "李娜", "2025-07-01", CCB_SZ, "6217004000098765432"), "li"),
    ("POST", "/v1/employers/{metal[employer_id]}/employees",
     _employee(WANG, "王强", "2025-07-01", ICBC_SZ, "6222024000055556666"), "wang"),
    ("POST", "/v1/employers/{metal[employer_id]}/employees",
     _employee(ZHAO, "赵磊", "2025-07-15", None, ""), "zhao"),
    ("PUT", "/v1/employers/{metal[employer_id]}/employees/{zhao[employee_id]}/bank-account",
     {"bank_code": CCB_SZ, "account_no": "6217004000011112222", "holder": "赵磊", "changed_on": "2025-08-01"}),
    ("POST", "/v1/employers/{quarry[employer_id]}/employees",
     _employee(CHEN, "陈刚", "2025-08-01", ICBC_SZ, "6222024000077778888"), "chen"),
    # Wang leaves the metal works and joins the quarry: the same employee_id, a second employment.
    ("POST", "/v1/employers/{metal[employer_id]}/employees/{wang[employee_id]}/separation",
     {"separated_on": "2025-09-30"}),
    ("POST", "/v1/employers/{quarry[employer_id]}/employees",
     _employee(WANG, "王强", "2025-10-08", None, "")),
]


def load_demo(app: FastAPI, token: str) -> None:
    assert len(DEMO_STEPS) <= MAX_DEMO_STEPS
    headers = {"Authorization": f"Bearer {token}"}
    saved: dict[str, Any] = {}
    with TestClient(app) as client:
        for i, step in enumerate(DEMO_STEPS):
            method, path, body = step[:3]
            save_as = step[3] if len(step) > 3 else None
            response = client.request(method, path.format_map(saved), json=body,
                                      headers={**headers, "Idempotency-Key": f"demo-{i}"})
            assert response.status_code < 400 or response.status_code == 409, (path, response.text)
            if save_as:
                saved[save_as] = response.json()


CONSOLE_PEOPLE = ("demo-maker", "demo-checker")


def issue_console_tokens(app: FastAPI, token: str) -> list[tuple[str, str]]:
    """Two personal agency tokens for the console (four eyes need two people), issued by the
    bootstrap admin at each start: tokens are shown once, the ledger keeps only their hashes."""
    issued = []
    with TestClient(app) as client:
        for person in CONSOLE_PEOPLE:
            r = client.post("/v1/clients", json={"name": f"console ({person})", "role": "agency", "person": person},
                            headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text
            issued.append((person, r.json()["token"]))
    return issued
