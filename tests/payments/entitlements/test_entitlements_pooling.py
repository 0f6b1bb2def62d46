"""Pooling moves up (RULES.md "Prevention and pooling"): from the date a pool is consolidated,
its claims' benefits follow the new region's levels — learned later, as arrears (or recovery) by
adjustment lines naming the consolidation and the new region's policy; the months before stay."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.claims.support import appraise, decide, lines, new_claim, new_worker, ok, per_month, region_policy

pytestmark = pytest.mark.both_runtimes


def test_a_moved_claims_care_follows_the_new_regions_average_wage_from_the_date(api, unique) -> None:  # noqa: ANN001
    pool, into = "61" + unique.region[2:], unique.region  # Shaanxi: this test's alone
    ok(api.put(f"/v1/policies/{pool}/2024-01-01", json=region_policy()), 201)  # average wage 8000.00
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=region_policy(average_monthly_wage="9000.00")), 201)
    claim_id = new_claim(api, new_worker(api, pool, wage="9000.00"))
    decide(api, claim_id)
    appraise(api, claim_id, 3, "partial", concluded_on="2026-05-04")
    # R.34: partial care 0.30 × 8000.00 = 2400.00 a month
    assert set(per_month(lines(api, claim_id), "care_allowance", through="2026-10").values()) == {D("2400.00")}

    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-09-01"}), 201)
    api.settle()
    # From September: 0.30 × 9000.00 = 2700.00, by +300.00 adjustments; August stays 2400.00.
    after = lines(api, claim_id)
    care = per_month(after, "care_allowance", through="2026-10")
    assert (care["2026-08"], care["2026-09"], care["2026-10"]) == (D("2400.00"), D("2700.00"), D("2700.00"))
    adjusted = [ln for ln in after if ln["kind"] == "care_allowance" and ln["adjusts"]]
    assert adjusted and {ln["amount"] for ln in adjusted} == {"300.00"}
    assert all(f"PoolsConsolidated into {into} from 2026-09-01" in ln["reason"] for ln in adjusted), adjusted[0]
    why = ok(api.get(f"/v1/payouts/{adjusted[0]['line_id']}/explain"))
    assert (why["policy_ref"]["region"], why["region"]) == (into, pool)  # priced by P's policy; the claim's record keeps A
