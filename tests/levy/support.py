"""Enrolling employers and workers through the enrollment API, for the levy's API tests: in the
test's own region, with USCCs and ID numbers of its own (`unique`, tests/conftest.py)."""
from __future__ import annotations

from datetime import date


def other_region(unique) -> str:  # noqa: ANN001
    """A second region of the test's own: its division number in Sichuan (51), where no other
    test's region (all 44nnnn) can be."""
    return "51" + unique.region[2:]


def enroll_employer(api, unique, industry_code: str = "C3311", region: str | None = None,  # noqa: ANN001
                    enrolled_on: str = "2025-07-01") -> str:
    r = api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "深圳测试制造有限公司",
                                        "industry_code": industry_code, "region": region or unique.region,
                                        "enrolled_on": enrolled_on})
    assert r.status_code == 201, r.text
    return r.json()["employer_id"]


def hire(api, unique, employer_id: str, hired_on: str, birth: date = date(1990, 3, 7)) -> tuple[str, str]:  # noqa: ANN001
    id_number = unique.id_number(birth)
    r = api.post(f"/v1/employers/{employer_id}/employees",
                 json={"id_number": id_number, "name": "张三", "hired_on": hired_on})
    assert r.status_code == 201, r.text
    return id_number, r.json()["employee_id"]


def separate(api, employer_id: str, employee_id: str, on: str) -> None:  # noqa: ANN001
    r = api.post(f"/v1/employers/{employer_id}/employees/{employee_id}/separation", json={"separated_on": on})
    assert r.status_code in (200, 201), r.text
