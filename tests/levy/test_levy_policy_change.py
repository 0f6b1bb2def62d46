"""A region's policy published for a date already assessed (API.md: a policy whose date lies in
the past is recalculated as arrears or recovery, never an edit of history): the months from its
date are assessed again where their base rates moved, and only those. Worked by hand; through
the public API on both runtimes."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.claims.support import new_region, new_worker, ok

pytestmark = pytest.mark.both_runtimes


def report(api, w, period: str, wage: str) -> dict:  # noqa: ANN001
    return ok(api.post("/v1/wage-reports", json={"employer_id": w.employer_id, "period": period,
                                                 "reported_on": f"{period}-28",
                                                 "lines": [{"id_number": w.id_number, "wage": wage}]}), 201)


def reassessments(api, w, period: str) -> list[dict]:  # noqa: ANN001
    items = ok(api.get("/v1/events", params={"aggregate_id": f"wages-{w.employer_id}-{period}"}))["items"]
    return [e["payload"] for e in items if e["type"] == "ContributionReassessed"]


def publish(api, region: str, effective_from: str, **changes) -> dict:  # noqa: ANN001, ANN003
    doc = ok(api.get(f"/v1/policies/{region}", params={"on": effective_from}))
    for field in ("region", "effective_from", "version"):
        doc.pop(field)
    doc.update(changes)
    return ok(api.put(f"/v1/policies/{region}/{effective_from}", json=doc), 201)


def test_a_back_dated_rate_reassesses_the_months_from_its_date_and_no_other(api) -> None:  # noqa: ANN001
    region = new_region(api)
    w = new_worker(api, region, wage=None)  # industry C33: class 4, base rate 0.9 %
    january = report(api, w, "2025-01", "10000.00")
    february = report(api, w, "2025-02", "10000.00")
    assert (january["contribution_due"], february["contribution_due"]) == ("90.00", "90.00")

    # Benefit levels only, back to January: no month's contribution can move, none is reassessed.
    publish(api, region, "2025-01-01", average_monthly_wage="8500.00")
    assert reassessments(api, w, "2025-01") == [] and reassessments(api, w, "2025-02") == []

    # Class IV at 1.2 % from 1 February, published in March: February is 10000.00 × 0.012 = 120.00,
    # arrears of 30.00 from its own due date; January keeps 90.00.
    base_rates = ok(api.get(f"/v1/policies/{region}", params={"on": "2025-01-01"}))["base_rates"]
    publish(api, region, "2025-02-01", base_rates={**base_rates, "4": "0.012"})
    [p] = reassessments(api, w, "2025-02")
    assert (p["reassesses"], p["contribution_due"], p["delta_due"], Decimal(p["rate"]), p["reason"], p["due_date"]) == (
        february["report_id"], "120.00", "30.00", Decimal("0.012"), "policy_changed", "2025-03-15")
    assert p["policy_ref"]["effective_from"] == "2025-02-01"
    assert reassessments(api, w, "2025-01") == []

    account = ok(api.get(f"/v1/employers/{w.employer_id}/account"))  # as known today, when it was published
    assert account["assessed"] == "210.00"  # 90.00 + 120.00
    assert {x["period"]: x["contribution"] for x in account["periods"]} == {"2025-01": "90.00", "2025-02": "120.00"}

    # March, reported after: the new rate, 10000.00 × 0.012 = 120.00. Publishing the same rates again
    # from January (a new version, nothing moved) reassesses nothing more.
    assert report(api, w, "2025-03", "10000.00")["contribution_due"] == "120.00"
    publish(api, region, "2025-02-01", average_monthly_wage="8600.00")
    assert len(reassessments(api, w, "2025-02")) == 1 and reassessments(api, w, "2025-03") == []
