"""A class change is charged by date, from its effective date (RULES.md "Clarifications"): the
months it reaches are assessed again day by day, reported months included. Worked by hand;
through the public API on both runtimes."""
from __future__ import annotations

import pytest

from tests.claims.support import new_region, new_worker, ok

pytestmark = pytest.mark.both_runtimes


def report(api, w, period: str, wage: str, on: str) -> dict:  # noqa: ANN001
    return ok(api.post("/v1/wage-reports", json={"employer_id": w.employer_id, "period": period, "reported_on": on,
                                                 "lines": [{"id_number": w.id_number, "wage": wage}]}), 201)


def events(api, aggregate_id: str) -> list[dict]:  # noqa: ANN001
    return ok(api.get("/v1/events", params={"aggregate_id": aggregate_id}))["items"]


def test_a_class_change_reassesses_the_months_from_its_date(api) -> None:  # noqa: ANN001
    region = new_region(api)
    w = new_worker(api, region, wage=None)  # industry C33: class 4, base rate 0.9 %
    assert report(api, w, "2025-01", "10000.00", "2025-01-31")["contribution_due"] == "90.00"
    february = report(api, w, "2025-02", "10000.00", "2025-02-28")
    assert (february["contribution_due"], february["rate"]) == ("90.00", "0.009000")

    # From 15 February the employer mines coal (B06: class 8, base rate 1.9 %), recorded later.
    changed = ok(api.post(f"/v1/employers/{w.employer_id}/changes",
                          json={"changed_on": "2025-02-15", "industry_code": "B0610"}))
    assert changed["risk_class"] == 8
    # January stays 90.00. February: 14 days at 0.9 % and 14 at 1.9 % of 28:
    # 10000.00 × (0.009 × 14 + 0.019 × 14) / 28 = 140.00, a reassessment of +50.00.
    [reassessed] = [e for e in events(api, f"wages-{w.employer_id}-2025-02") if e["type"] == "ContributionReassessed"]
    p = reassessed["payload"]
    assert (p["reassesses"], p["contribution_due"], p["delta_due"], p["reason"]) == (
        february["report_id"], "140.00", "50.00", "class_changed")
    assert [(s["start"], s["end"], s["days"], s["risk_class"], s["rate"]) for s in p["rate_segments"]] == [
        ("2025-02-01", "2025-02-14", 14, 4, "0.009000"), ("2025-02-15", "2025-02-28", 14, 8, "0.019000")]
    assert not [e for e in events(api, f"wages-{w.employer_id}-2025-01") if e["type"] == "ContributionReassessed"]

    # March, reported after: the new class all month, 10000.00 × 0.019 = 190.00.
    assert report(api, w, "2025-03", "10000.00", "2025-03-31")["contribution_due"] == "190.00"
    # A correction of February after the change: 12000.00 × 0.014 = 168.00, +28.00 on the 140.00.
    corrected = report(api, w, "2025-02", "12000.00", "2025-04-02")
    assert (corrected["contribution_due"], corrected["delta_due"], corrected["correction_of"]) == (
        "168.00", "28.00", p["report_id"])
    account = ok(api.get(f"/v1/employers/{w.employer_id}/account"))
    assert account["assessed"] == "448.00"  # 90.00 + 168.00 + 190.00
    assert {x["period"]: x["contribution"] for x in account["periods"]} == {
        "2025-01": "90.00", "2025-02": "168.00", "2025-03": "190.00"}
