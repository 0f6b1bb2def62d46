"""Assistive devices (R.32): once the appraisal committee confirms the need, the fund pays the
supplier the standard price of the region's device catalog; a replacement of the same device is
refused inside the catalog's service life and accepted from its last day on."""
from __future__ import annotations

import pytest

from libs.policy import load_national_default

from .support import lines_of, ok, recognized_claim

pytestmark = pytest.mark.both_runtimes


def device_catalog() -> dict:
    catalog = load_national_default().model_dump(mode="json")["device_catalog"]
    catalog["FZ-PROS-BK"] = {**catalog["FZ-PROS-BK"], "standard_price": "8500.00"}  # this region's own price
    catalog["FZ-CRUTCH"] = {**catalog["FZ-CRUTCH"], "service_life_months": 3}
    return catalog


def test_devices_at_the_standard_price_and_no_replacement_inside_the_service_life(api, unique) -> None:  # noqa: ANN001
    c = recognized_claim(api, unique, device_catalog=device_catalog())
    supplier = f"FZ-{unique.region}-1"
    ok(api.put(f"/v1/hospitals/{supplier}", json={
        "name": "Orthopaedic workshop", "region": c.region, "kind": "supplier",
        "bank_account": {"bank_code": "103584000004", "account_no": f"4100{c.region}0001", "holder": "假肢厂"}}))

    # The region's below-knee prosthesis: 8500.00, 36 months of life: replaceable from 2029-06-15.
    leg = ok(api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
        "device_code": "FZ-PROS-BK", "confirmed_on": "2026-06-15", "supplier_id": supplier}))
    assert (leg["amount"], leg["replaceable_from"], leg["replaces"]) == ("8500.00", "2029-06-15", None)
    # Crutches: 150.00, 3 months here: replaceable from 2026-09-15.
    crutches = ok(api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
        "device_code": "FZ-CRUTCH", "confirmed_on": "2026-06-15", "supplier_id": supplier}))
    assert (crutches["amount"], crutches["replaceable_from"]) == ("150.00", "2026-09-15")

    # One day inside the service life: refused naming device_code; on its last day: a replacement.
    r = api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
        "device_code": "FZ-CRUTCH", "confirmed_on": "2026-09-14", "supplier_id": supplier})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "device_code", r.text
    again = ok(api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
        "device_code": "FZ-CRUTCH", "confirmed_on": "2026-09-15", "supplier_id": supplier}))
    assert (again["replaces"], again["replaceable_from"]) == (crutches["configuration_id"], "2026-12-15")

    lines = lines_of(api, c.claim_id, "assistive_device")
    assert sorted(ln["amount"] for ln in lines) == ["150.00", "150.00", "8500.00"]
    assert all(ln["payee"] == f"hospital:{supplier}" and ln["payer"] == "fund" for ln in lines)
    why = ok(api.get(f"/v1/payouts/{leg['line_id']}/explain"), 200)
    assert (why["article"], why["formula"]) == ("R.32", "standard_price(FZ-PROS-BK) = 8500.00")
    assert why["inputs"]["device_catalog[FZ-PROS-BK].service_life_months"] == "36"
    assert why["policy_ref"]["region"] == c.region
    listed = ok(api.get(f"/v1/claims/{c.claim_id}/assistive-devices"), 200)["items"]
    assert [(d["confirmed_on"], d["device_code"]) for d in listed][2] == ("2026-09-15", "FZ-CRUTCH")
    assert sorted(d["device_code"] for d in listed) == ["FZ-CRUTCH", "FZ-CRUTCH", "FZ-PROS-BK"]

    # The run of September pays the supplier 8500.00 + 150.00 + 150.00 = 8800.00.
    run = ok(api.post("/v1/payment-runs", json={"region": c.region, "period": "2026-09"}))
    assert (run["count"], run["total"]) == (1, "8800.00")

    # A supplier bills no treatment; unknown devices and unregistered suppliers are refused.
    r = api.post("/v1/medical-bills", json={"claim_id": c.claim_id, "hospital_id": supplier,
                                            "admitted_on": "2026-06-01", "discharged_on": "2026-06-02",
                                            "items": [{"code": "110200001", "quantity": 1, "unit_price": "10.00"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hospital_id", r.text
    for body, field in (({"device_code": "FZ-JETPACK"}, "device_code"), ({"supplier_id": "FZ-nobody"}, "supplier_id"),
                        ({"confirmed_on": "2026-01-01"}, "confirmed_on")):  # before the injury of 2026-01-10
        r = api.post(f"/v1/claims/{c.claim_id}/assistive-devices", json={
            "device_code": "FZ-WHEEL-M", "confirmed_on": "2026-07-01", "supplier_id": supplier, **body})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
