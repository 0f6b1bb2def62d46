"""Treatment outside the region (R.30): an approved referral, then travel costs as fund lines —
transport as billed up to the policy's cap per referral, lodging and food per day — explained
like any line and paid by the payment run. Figures worked by hand in the comments."""
from __future__ import annotations

import pytest

from .support import lines_of, ok, recognized_claim

pytestmark = pytest.mark.both_runtimes
OUT_OF_REGION = {"transport_cap": "2000.00", "lodging_daily": "250.00", "food_daily": "80.00"}


def test_travel_costs_up_to_the_cap_and_the_referrals_days_then_paid(api, unique) -> None:  # noqa: ANN001
    c = recognized_claim(api, unique, out_of_region=OUT_OF_REGION)
    referral = ok(api.post(f"/v1/claims/{c.claim_id}/referrals", json={
        "from_date": "2026-03-02", "to_date": "2026-03-06", "destination": "北京积水潭医院",
        "destination_region": "110102"}))
    assert (referral["status"], referral["days"]) == ("approved", 5)  # 2 to 6 March: 5 days away

    # 1250.00 billed, under the cap 2000.00: 1250.00 + 3 × (250.00 + 80.00) = 1250.00 + 990.00 = 2240.00
    first = ok(api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={
        "referral_id": referral["referral_id"], "transport": "1250.00", "days": 3}))
    assert (first["transport_allowed"], first["lodging"], first["food"], first["amount"]) == \
        ("1250.00", "750.00", "240.00", "2240.00")
    # 1000.00 billed, 2000.00 − 1250.00 = 750.00 left under the cap: 750.00 + 2 × 330.00 = 1410.00
    second = ok(api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={
        "referral_id": referral["referral_id"], "transport": "1000.00", "days": 2}))
    assert (second["transport_allowed"], second["amount"], second["days_remaining"]) == ("750.00", "1410.00", 0)

    # the five days are all claimed: a sixth is refused naming `days`, and records nothing
    r = api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={
        "referral_id": referral["referral_id"], "transport": "0.00", "days": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "days", r.text
    # the cap is reached: more transport is recorded but pays nothing, and makes no line
    third = ok(api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={
        "referral_id": referral["referral_id"], "transport": "80.00", "days": 0}))
    assert (third["amount"], third["line_id"]) == ("0.00", None)

    lines = lines_of(api, c.claim_id, "out_of_region")
    assert sorted(ln["amount"] for ln in lines) == ["1410.00", "2240.00"]
    assert all(ln["payer"] == "fund" and ln["payee"] == f"employee:{c.employee_id}" and ln["family"] == "medical"
               and (ln["period_start"], ln["period_end"]) == ("2026-03-02", "2026-03-06") for ln in lines)

    why = ok(api.get(f"/v1/payouts/{first['line_id']}/explain"), 200)
    assert why["article"] == "R.30"
    assert why["formula"] == ("min(transport, transport_cap − allowed_before) + days × (lodging_daily + food_daily) = "
                              "min(1250.00, 2000.00 − 0.00) + 3 × (250.00 + 80.00) = 1250.00 + 990.00 = 2240.00")
    assert why["inputs"]["out_of_region.transport_cap"] == "2000.00"
    assert why["policy_ref"]["region"] == c.region and len(why["source_event_ids"]) == 2
    why2 = ok(api.get(f"/v1/payouts/{second['line_id']}/explain"), 200)
    assert why2["notes"] == ["transport capped: 250.00 of the bill is beyond the cap"]
    trail = ok(api.get("/v1/events", params={"aggregate_id": referral["referral_id"]}), 200)["items"]
    assert [e["type"] for e in trail] == ["ReferralApproved"] + ["TravelCostsRecorded"] * 3

    listed = ok(api.get(f"/v1/claims/{c.claim_id}/referrals"), 200)["items"]
    assert [(x["days_claimed"], x["transport_allowed"]) for x in listed] == [(5, "2000.00")]

    # The payment run of March pays the worker both lines: 2240.00 + 1410.00 = 3650.00
    run = ok(api.post("/v1/payment-runs", json={"region": c.region, "period": "2026-03"}))
    assert (run["count"], run["total"]) == (1, "3650.00")


def test_a_referral_is_refused_for_what_it_cannot_be(api, unique) -> None:  # noqa: ANN001
    c = recognized_claim(api, unique)
    body = {"from_date": "2026-03-02", "to_date": "2026-03-06", "destination": "Guangzhou"}
    for change, field in (({"from_date": "2026-01-09"}, "from_date"),   # before the injury of 2026-01-10
                          ({"to_date": "2026-03-01"}, "to_date"),       # ends before it starts
                          ({"to_date": "2027-03-06"}, "to_date"),       # more than 366 days away
                          ({"destination_region": c.region}, "destination_region")):  # its own region
        r = api.post(f"/v1/claims/{c.claim_id}/referrals", json={**body, **change})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (change, r.text)
    r = api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={"referral_id": "rfl_nope", "transport": "1.00",
                                                                "days": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "referral_id", r.text
    assert api.post("/v1/claims/clm_never/referrals", json=body).status_code == 422
