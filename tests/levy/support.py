"""Enrolling employers and workers through the enrollment API, for the levy's API tests."""
from __future__ import annotations

from datetime import date
from itertools import count

from libs.identifiers import make_id_number, make_uscc

_serial = count(1)


def uscc(n: int) -> str:
    return make_uscc(f"91440300{n:08d}")


def enroll_employer(api, industry_code: str = "C3311", region: str = "440300",  # noqa: ANN001
                    enrolled_on: str = "2025-07-01") -> str:
    r = api.post("/v1/employers", json={"uscc": uscc(next(_serial)), "name": "深圳测试制造有限公司",
                                        "industry_code": industry_code, "region": region, "enrolled_on": enrolled_on})
    assert r.status_code == 201, r.text
    return r.json()["employer_id"]


def hire(api, employer_id: str, hired_on: str, birth: date = date(1990, 3, 7)) -> tuple[str, str]:  # noqa: ANN001
    id_number = make_id_number("440304", birth, next(_serial) % 1000)
    r = api.post(f"/v1/employers/{employer_id}/employees",
                 json={"id_number": id_number, "name": "张三", "hired_on": hired_on})
    assert r.status_code == 201, r.text
    return id_number, r.json()["employee_id"]


def separate(api, employer_id: str, employee_id: str, on: str) -> None:  # noqa: ANN001
    r = api.post(f"/v1/employers/{employer_id}/employees/{employee_id}/separation", json={"separated_on": on})
    assert r.status_code in (200, 201), r.text
