"""`make run` loads the demo region through the public API; a second load changes nothing."""
from __future__ import annotations

from libs.runtime.demo import load_demo
from tests.conftest import AGENCY_TOKEN


def test_the_demo_loads_and_loads_again_without_doubling(api, runtime) -> None:  # noqa: ANN001
    app = runtime.app()
    load_demo(app, AGENCY_TOKEN)
    load_demo(app, AGENCY_TOKEN)
    employers = api.get("/v1/employers", params={"region": "440300"}).json()["items"]
    assert sorted((e["industry_code"], e["risk_class"], e["base_rate"]) for e in employers) == [
        ("B1011", 8, "0.0190"), ("C3311", 4, "0.0090"), ("I6510", 1, "0.0020")]
    policy = api.get("/v1/policies/440300", params={"on": "2025-08-01"}).json()
    assert (policy["version"], policy["average_monthly_wage"]) == (1, "13730.00")
    quarry = next(e for e in employers if e["industry_code"] == "B1011")
    metal = next(e for e in employers if e["industry_code"] == "C3311")
    staff = api.get(f"/v1/employers/{quarry['employer_id']}/employees").json()["items"]
    assert len(staff) == 2
    moved = [s["employee_id"] for s in staff
             if s["employee_id"] in {m["employee_id"] for m in
                                      api.get(f"/v1/employers/{metal['employer_id']}/employees").json()["items"]}]
    assert len(moved) == 1  # Wang: one employee_id at both employers
    wang = api.get(f"/v1/employers/{quarry['employer_id']}/employees/{moved[0]}").json()
    assert [(j["hired_on"], j["separated_on"]) for j in wang["employments"]] == [
        ("2025-07-01", "2025-09-30"), ("2025-10-08", None)]
    assert len(api.get("/v1/events", params={"aggregate_id": moved[0]}).json()["items"]) == 3


def test_a_rerun_with_a_new_token_survives_the_409s(api, runtime) -> None:  # noqa: ANN001
    """`make run` without a fixed token makes a new one each start: the Idempotency-Keys of the
    first run do not replay, so the second run meets 409s and must still go through."""
    app = runtime.app()
    load_demo(app, AGENCY_TOKEN)
    staff = api.post("/v1/clients", json={"name": "second run", "role": "agency"}).json()
    load_demo(app, staff["token"])
    assert len(api.get("/v1/employers").json()["items"]) == 3
    assert len(api.get("/v1/events", params={"aggregate_id": "policy-440300"}).json()["items"]) == 1
