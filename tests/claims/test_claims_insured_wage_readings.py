"""The insured wage as RULES.md "Clarifications" settles it, through the public API on both
runtimes: the floor and the cap are the region's policy data, and a worker insured by two
employers has the contributory wage of the one where the injury happened."""
from __future__ import annotations

import uuid

import pytest

from libs.identifiers import make_uscc

from .support import decide, new_claim, new_region, new_worker, ok

pytestmark = pytest.mark.both_runtimes


def test_a_worker_of_two_employers_has_the_wage_of_the_one_where_the_injury_happened(api) -> None:  # noqa: ANN001
    region = new_region(api)
    w = new_worker(api, region, wage="6000.00")
    other = ok(api.post("/v1/employers", json={
        "uscc": make_uscc(f"91{region}{uuid.uuid4().int % 10**8:08d}"), "name": "Night Shift Logistics",
        "industry_code": "G5430", "region": region, "enrolled_on": "2024-12-01"}), 201)["employer_id"]
    ok(api.post(f"/v1/employers/{other}/employees", json={"id_number": w.id_number, "name": "Li Lei",
                                                          "hired_on": "2024-12-01"}), 201)
    for month in range(1, 13):
        ok(api.post("/v1/wage-reports", json={"employer_id": other, "period": f"2025-{month:02d}",
                                              "lines": [{"id_number": w.id_number, "wage": "4000.00"}]}), 201)
    claim_id = new_claim(api, w)  # injured at the first employer
    # 6000.00 at the employer of the injury, not 6000.00 + 4000.00 = 10000.00 over both.
    assert decide(api, claim_id)["insured_wage"] == "6000.00"
    wage = ok(api.get(f"/v1/claims/{claim_id}"))["insured_wage"]
    assert {m["wage"] for m in wage["months"]} == {"6000.00"} and len(wage["months"]) == 12


def test_the_floor_and_the_cap_are_the_regions_policy(api) -> None:  # noqa: ANN001
    region = new_region(api, insured_wage_floor_ratio="0.70", insured_wage_cap_ratio="2.00")
    low = new_worker(api, region, wage="5000.00")
    high = new_worker(api, region, wage="20000.00")
    # floor 0.70 × 8000.00 = 5600.00 lifts 5000.00; cap 2.00 × 8000.00 = 16000.00 cuts 20000.00.
    low_claim, high_claim = new_claim(api, low), new_claim(api, high)
    assert decide(api, low_claim)["insured_wage"] == "5600.00"
    assert decide(api, high_claim)["insured_wage"] == "16000.00"
    wage = ok(api.get(f"/v1/claims/{high_claim}"))["insured_wage"]
    assert (wage["floor"], wage["cap"], wage["policy_ref"]["region"]) == ("5600.00", "16000.00", region)
    policy = ok(api.get(f"/v1/policies/{region}", params={"on": "2026-01-10"}))
    assert (policy["insured_wage_floor_ratio"], policy["insured_wage_cap_ratio"]) == ("0.70", "2.00")
