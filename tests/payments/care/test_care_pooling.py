"""Pooling moves up (RULES.md "Prevention and pooling"): from the date a pool is consolidated, its
claims' devices, travel costs and bills are priced by the new region's policy (device catalog,
`out_of_region` rates, medical catalog); before the date by the pool's own. Figures by hand."""
from __future__ import annotations

import pytest

from libs.policy import load_national_default

from .support import lines_of, ok, recognized_claim

pytestmark = pytest.mark.both_runtimes


def test_a_moved_claims_care_is_priced_by_the_new_regions_policy_from_the_date(api, unique) -> None:  # noqa: ANN001
    pool, into = "63" + unique.region[2:], unique.region  # Qinghai: this test's alone
    national = load_national_default().model_dump(mode="json")
    catalog = national["device_catalog"]
    # the pool: crutches 150.00 (the national price), travel capped at 2000.00, 250.00 + 80.00 a day
    c = recognized_claim(api, unique, region=pool, out_of_region={
        "transport_cap": "2000.00", "lodging_daily": "250.00", "food_daily": "80.00"})
    # the new region: crutches 180.00, a wheelchair 1300.00, the national travel rates (3000.00;
    # 300.00 + 100.00 a day), a consultation at most 8.00
    medical = national["medical_catalog"] | {"110200001": {**national["medical_catalog"]["110200001"],
                                                           "max_unit_price": "8.00"}}
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=national | {
        "device_catalog": catalog | {"FZ-CRUTCH": {**catalog["FZ-CRUTCH"], "standard_price": "180.00"},
                                     "FZ-WHEEL-M": {**catalog["FZ-WHEEL-M"], "standard_price": "1300.00"}},
        "medical_catalog": medical}))
    supplier, hospital = f"FZ-{pool}-1", f"H-{pool}-1"
    ok(api.put(f"/v1/hospitals/{supplier}", json={
        "name": "Orthopaedic workshop", "region": pool, "kind": "supplier",
        "bank_account": {"bank_code": "103584000004", "account_no": f"4100{pool}0001", "holder": "假肢厂"}}))
    ok(api.put(f"/v1/hospitals/{hospital}", json={
        "name": "County hospital", "region": pool,
        "bank_account": {"bank_code": "103584000004", "account_no": f"4100{pool}0002", "holder": "县医院"}}))
    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-06-01"}))
    api.settle()

    def device(code: str, on: str) -> dict:
        return ok(api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
            "device_code": code, "confirmed_on": on, "supplier_id": supplier}))

    def travel(start: str, end: str) -> dict:
        referral = ok(api.post(f"/v1/claims/{c.claim_id}/referrals", json={
            "from_date": start, "to_date": end, "destination": "北京积水潭医院", "destination_region": "110102"}))
        return ok(api.post(f"/v1/claims/{c.claim_id}/travel-costs", json={
            "referral_id": referral["referral_id"], "transport": "2500.00", "days": 2}))

    def consultation(on: str) -> dict:
        return ok(api.post("/v1/medical-bills", json={
            "claim_id": c.claim_id, "hospital_id": hospital, "admitted_on": on, "discharged_on": on,
            "items": [{"code": "110200001", "quantity": 1, "unit_price": "10.00"}]}))

    # Before the date, the pool's: crutches 150.00; travel min(2500.00, 2000.00) + 2 × (250.00 + 80.00)
    # = 2660.00; a consultation 10.00 (the national cap 10.00).
    crutches = device("FZ-CRUTCH", "2026-05-20")
    away = travel("2026-05-04", "2026-05-05")
    seen = consultation("2026-05-06")
    assert (crutches["amount"], crutches["policy_ref"]["region"]) == ("150.00", pool)
    assert (away["amount"], away["policy_ref"]["region"]) == ("2660.00", pool)
    assert (seen["approved"], seen["policy_ref"]["region"]) == ("10.00", pool)
    # From the date, the new region's: a wheelchair 1300.00; travel min(2500.00, 3000.00) + 2 ×
    # (300.00 + 100.00) = 3300.00; a consultation capped at 8.00.
    # From the date the new region is the claim's own: a referral there needs none (422)
    r = api.post(f"/v1/claims/{c.claim_id}/referrals", json={
        "from_date": "2026-06-02", "to_date": "2026-06-03", "destination": "市人民医院", "destination_region": into})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "destination_region", r.text
    chair = device("FZ-WHEEL-M", "2026-06-01")
    away2 = travel("2026-06-08", "2026-06-09")
    seen2 = consultation("2026-06-10")
    assert (chair["amount"], chair["policy_ref"]["region"]) == ("1300.00", into)
    assert (away2["amount"], away2["policy_ref"]["region"]) == ("3300.00", into)
    assert (seen2["approved"], seen2["policy_ref"]["region"]) == ("8.00", into)

    why = ok(api.get(f"/v1/payouts/{chair['line_id']}/explain"), 200)
    assert (why["formula"], why["policy_ref"]["region"]) == ("standard_price(FZ-WHEEL-M) = 1300.00", into)
    assert why["inputs"]["device_catalog[FZ-WHEEL-M].standard_price"] == "1300.00"
    assert sorted(ln["amount"] for ln in lines_of(api, c.claim_id, "out_of_region")) == ["2660.00", "3300.00"]
    # The new region's run of June pays every line of the claim not yet paid (the pool ran no May):
    # 150.00 + 2660.00 + 10.00 + 1300.00 + 3300.00 + 8.00 = 7428.00
    api.settle()
    run = ok(api.post("/v1/payment-runs", json={"region": into, "period": "2026-06"}))
    assert run["total"] == "7428.00"
