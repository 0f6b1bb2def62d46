"""POST /v1/wage-reports/bulk on both runtimes: many reports in one request (JSON or CSV), each
assessed as POST /v1/wage-reports assesses it, a bad report refused alone naming its field (or
its CSV row and column), a body that is no list of reports refused whole with nothing recorded.

Worked figures (class 4, base rate 0.0090): July A 8123.45 + B 6000.00 = 14123.45 × 0.009 =
127.11105 → 127.11; August A 5000.00 + B 5000.00 = 10000.00 → 90.00.
"""
from __future__ import annotations

import pytest

from tests.levy.support import enroll_employer, hire

pytestmark = pytest.mark.both_runtimes


def test_many_reports_in_one_request_each_assessed_or_refused_alone(api, unique) -> None:  # noqa: ANN001
    eid = enroll_employer(api, unique)
    a, _ = hire(api, unique, eid, "2025-07-01")
    b, _ = hire(api, unique, eid, "2025-07-01")
    api.settle()
    r = api.post("/v1/wage-reports/bulk", json={"reports": [
        {"employer_id": eid, "period": "2025-07", "reported_on": "2025-08-05",
         "lines": [{"id_number": a, "wage": "8123.45"}, {"id_number": b, "wage": "6000.00"}]},
        {"employer_id": eid, "period": "2025-08", "reported_on": "2025-09-05",
         "lines": [{"id_number": a, "wage": "1.234"}]}]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["reports"], body["lines"]) == (1, 2)
    [july] = body["results"]
    assert (july["payroll"], july["contribution_due"], july["due_date"]) == ("14123.45", "127.11", "2025-08-15")
    assert body["refused"] == [{"report": 1, "employer_id": eid, "period": "2025-08", "errors": [
        {"field": "reports.1.lines.0.wage", "message": "must have at most two decimal places"}]}]

    csv = ("employer_id,period,reported_on,id_number,wage\n"
           f"{eid},2025-08,2025-09-05,{a},5000.00\n"
           f"{eid},2025-08,2025-09-05,{b},5000.00\n"
           f"{eid},2025-09,2025-10-32,{a},5000.00\n")
    r = api.post("/v1/wage-reports/bulk", content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(x["period"], x["contribution_due"]) for x in body["results"]] == [("2025-08", "90.00")]
    assert body["refused"] == [{"report": 1, "employer_id": eid, "period": "2025-09", "errors": [
        {"row": 4, "field": "reported_on", "message": "must be a date YYYY-MM-DD"}]}]

    api.settle()
    r = api.get(f"/v1/employers/{eid}/account", params={"on": "2025-09-10"})
    assert r.status_code == 200, r.text
    assert [(p["period"], p["contribution"]) for p in r.json()["periods"]] == [("2025-07", "127.11"),
                                                                                    ("2025-08", "90.00")]


def test_a_body_that_is_no_list_of_reports_records_nothing(api, unique) -> None:  # noqa: ANN001
    eid = enroll_employer(api, unique)
    a, _ = hire(api, unique, eid, "2025-07-01")
    api.settle()
    r = api.post("/v1/wage-reports/bulk", json={"reports": [
        {"employer_id": eid, "period": "2025-07", "lines": [{"id_number": a, "wage": "100.00"}]},
        {"employer_id": eid, "period": "2025-08", "lines": [{"id_number": a, "wage": "100.00", "bonus": "1"}]}]})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["reports.1.lines.0"]
    r = api.post("/v1/wage-reports/bulk", content=b"id_number,wage\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", r.text
    r = api.post("/v1/wage-reports/bulk", json={"reports": [
        {"employer_id": eid, "period": "2025-13", "lines": [{"id_number": a, "wage": "100.00"}]}]})
    assert r.status_code == 422, r.text  # every report refused: a plain problem
    assert [(e["report"], e["field"]) for e in r.json()["errors"]] == [(0, "reports.0.period")]
    api.settle()
    r = api.get(f"/v1/employers/{eid}/account", params={"on": "2025-09-10"})
    assert r.status_code == 200 and r.json()["periods"] == [], r.text
