"""RULES.md "Clarifications": a new national default applies at once to every region that falls
back to it, and to no other.

Embedded only, on purpose: the distributed cluster is shared by every test of a session, and a
new national version would change the figures of every other test's fallback regions."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from libs.policy import load_national_default
from services.payments.entitlements.projection import regions_falling_back
from tests.claims.support import appraise, decide, lines, new_claim, new_region, new_worker, ok, per_month

FALLBACK = "440300"  # no policy of its own in a fresh runtime: the national default applies


def graded_partial_care(api, region: str) -> str:  # noqa: ANN001
    claim_id = new_claim(api, new_worker(api, region, wage="9000.00"))
    decide(api, claim_id)
    appraise(api, claim_id, 3, "partial", concluded_on="2026-05-04")
    return claim_id


def test_a_new_national_default_re_indexes_the_regions_that_fall_back_to_it(api, runtime) -> None:  # noqa: ANN001
    own = new_region(api)  # its own policy since 2024: never falls back
    falls_back, keeps_own = graded_partial_care(api, FALLBACK), graded_partial_care(api, own)
    # R.34: partial care 0.30 × 8000.00 = 2400.00 a month in both.
    for claim_id in (falls_back, keeps_own):
        assert set(per_month(lines(api, claim_id), "care_allowance", through="2026-10").values()) == {D("2400.00")}

    national = load_national_default().model_dump(mode="json")
    ok(api.put("/v1/policies/000000/2026-09-01", json={**national, "average_monthly_wage": "9000.00"}), 201)

    # The fallback region: 0.30 × 9000.00 = 2700.00 from September, by +300.00 adjustment lines.
    after = lines(api, falls_back)
    care = per_month(after, "care_allowance", through="2026-10")
    assert (care["2026-08"], care["2026-09"], care["2026-10"]) == (D("2400.00"), D("2700.00"), D("2700.00"))
    adjusted = [ln for ln in after if ln["kind"] == "care_allowance" and ln["adjusts"]]
    assert adjusted and {ln["amount"] for ln in adjusted} == {"300.00"}
    assert all("PolicyPublished 000000 v2 effective 2026-09-01" in ln["reason"] for ln in adjusted)
    # The region with its own policy: nothing moved.
    kept = lines(api, keeps_own)
    assert set(per_month(kept, "care_allowance", through="2026-10").values()) == {D("2400.00")}
    assert not any(ln["adjusts"] for ln in kept)

    # Which regions a national version reaches: those without their own version in force by its date.
    with runtime.services["payments"].ctx.session_factory() as session:
        assert regions_falling_back(session, date(2026, 9, 1)) == {FALLBACK}
        assert regions_falling_back(session, date(2023, 1, 1)) == {FALLBACK, own}
