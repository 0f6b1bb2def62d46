"""Medical bills adjudicated against the region's catalog (R.30), each refusal reason, the
fund line they become, and who may see them."""
from __future__ import annotations

import json

from sqlalchemy import select

from services.payments.payouts.tables import entitlement_lines, medical_bills

from .support import claim, hospital, payments

BILL = {"claim_id": "clm-1", "hospital_id": "H1", "admitted_on": "2026-01-10", "discharged_on": "2026-01-15"}


def _bill(api, items, **changes):  # noqa: ANN001, ANN202
    return api.post("/v1/medical-bills", json={**BILL, **changes, "items": items})


def _count_bills(runtime) -> int:  # noqa: ANN001
    with payments(runtime).session_factory() as s:
        return len(s.execute(select(medical_bills.c.bill_id)).all())


def test_items_are_adjudicated_line_by_line_and_become_a_fund_line(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay)
    claim(runtime, "clm-1")
    response = _bill(pay, [
        {"code": "A1", "quantity": 5, "unit_price": "80.00"},     # in catalog, under the maximum
        {"code": "A1", "quantity": 2, "unit_price": "130.00"},    # above the maximum: paid at 100.00
        {"code": "B2", "quantity": 3, "unit_price": "33.33"},     # 80% share: 99.99 x 0.8 = 79.992 → 79.99
        {"code": "ZZ", "quantity": 1, "unit_price": "999.00"},    # not in the catalog
    ])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["claimed"] == "1758.99"  # 400 + 260 + 99.99 + 999
    assert body["approved"] == "679.99"  # 400 + 200 + 79.99 + 0
    assert body["rejected_items"] == [{"index": 3, "code": "ZZ", "reason": "not_in_catalog"}]
    assert [i["reason"] for i in body["items"]] == [None, "price_capped", "partial_share", "not_in_catalog"]
    assert body["policy_ref"]["region"] == "440300"

    trail = pay.get("/v1/events", params={"aggregate_id": body["bill_id"]}).json()["items"]
    assert [e["type"] for e in trail] == ["MedicalBillAdjudicated"]
    payload = trail[0]["payload"]
    assert payload["approved"] == "679.99" and payload["items"][1]["approved"] == "200.00"
    assert set(payload) >= {"bill_id", "claim_id", "hospital_id", "admitted_on", "discharged_on", "claimed",
                            "approved", "items", "policy_ref"}

    with payments(runtime).session_factory() as s:
        line = s.execute(select(entitlement_lines).where(entitlement_lines.c.line_id == f"medical-{body['bill_id']}")).one()
    assert (line.amount_fen, line.payer, line.payee, line.kind, line.family, line.period) == \
        (67999, "fund", "hospital:H1", "medical", "medical", "2026-01")
    assert json.loads(line.source_event_ids_json) == [trail[0]["event_id"]]


def test_a_bill_over_the_employers_late_days_is_split_between_the_payers(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay)
    # Injured 2026-01-10; the employer applied on 2026-02-20, 10 days past its 30: it bears
    # 2026-02-11..2026-02-20 (R.17).
    claim(runtime, "clm-late", occurred_on="2026-01-10", applied_on="2026-02-20", employer_late_days=10)
    body = _bill(pay, [{"code": "A1", "quantity": 3, "unit_price": "100.00"},
                       {"code": "B2", "quantity": 1, "unit_price": "33.33"}],  # 33.33 × 0.8 = 26.664 → 26.66
                 claim_id="clm-late", admitted_on="2026-02-18", discharged_on="2026-02-24").json()
    assert body["approved"] == "326.66"
    # 7 days of stay, 3 of them late (18–20 February): 326.66 × 3/7 = 139.9971… and × 4/7 = 186.6628…
    # rounded down make 326.65; the fen left goes to the larger remainder, the employer's (RULES.md
    # "Splitting money"): the employer 140.00, the fund 186.66, together the bill.
    with payments(runtime).session_factory() as s:
        rows = s.execute(select(entitlement_lines).where(entitlement_lines.c.claim_id == "clm-late")
                         .order_by(entitlement_lines.c.payer)).all()
    assert [(r.payer, r.amount_fen, r.payee) for r in rows] == [("employer", 14000, "hospital:H1"),
                                                                  ("fund", 18666, "hospital:H1")]
    assert json.loads(rows[0].explain_json)["late_days_in_stay"] == "3"


def test_refusals_record_nothing(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay)
    claim(runtime, "clm-1", occurred_on="2026-01-10")
    claim(runtime, "clm-applied", decision=None)
    claim(runtime, "clm-rejected", decision="rejected")
    items = [{"code": "A1", "quantity": 1, "unit_price": "10.00"}]
    cases = [
        (dict(admitted_on="2026-01-09"), 422, "admitted_on"),            # before the injury
        (dict(discharged_on="2026-01-01"), 422, "discharged_on"),        # before admission
        (dict(claim_id="clm-unknown"), 422, "claim_id"),
        (dict(claim_id="clm-applied"), 409, None),                       # not yet recognized
        (dict(claim_id="clm-rejected"), 409, None),
        (dict(hospital_id="H-unknown"), 422, "hospital_id"),
    ]
    for changes, status, field in cases:
        response = _bill(pay, items, **changes)
        assert response.status_code == status, (changes, response.text)
        if field:
            assert response.json()["errors"][0]["field"] == field
    for bad_items, field in (([{"code": "A1", "quantity": 0, "unit_price": "1.00"}], "items.0.quantity"),
                             ([{"code": "A1", "quantity": 10001, "unit_price": "1.00"}], "items.0.quantity"),
                             ([{"code": "A1", "quantity": 1, "unit_price": "1.001"}], "items.0.unit_price"),
                             ([{"code": "A1", "quantity": 1, "unit_price": "1.00"}] * 501, "items"),
                             ([], "items")):
        response = _bill(pay, bad_items)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    assert _count_bills(runtime) == 0


def test_a_hospital_sees_only_its_own_bills(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay, "H1")
    hospital(pay, "H2")
    claim(runtime, "clm-1")
    token = pay.post("/v1/clients", json={"name": "H1", "role": "hospital", "hospital_id": "H1"}).json()["token"]
    as_h1 = pay.as_token(token)
    items = [{"code": "A1", "quantity": 1, "unit_price": "10.00"}]
    assert pay.post("/v1/medical-bills", json={**BILL, "items": items}, headers=as_h1).status_code == 201
    refused = pay.post("/v1/medical-bills", json={**BILL, "hospital_id": "H2", "items": items}, headers=as_h1)
    assert refused.status_code == 403
    mine = pay.get("/v1/medical-bills", params={"hospital_id": "H1"}, headers=as_h1)
    assert mine.status_code == 200 and len(mine.json()["items"]) == 1
    assert pay.get("/v1/medical-bills", params={"hospital_id": "H2"}, headers=as_h1).status_code == 403
    assert pay.put("/v1/hospitals/H1", json={"name": "x", "region": "440300", "bank_account": {
        "bank_code": "102584000123", "account_no": "40000234", "holder": "x"}}, headers=as_h1).status_code == 403


def test_hospital_registration_and_change_are_events(pay) -> None:  # noqa: ANN001
    hospital(pay, "H9")
    hospital(pay, "H9")  # the same again: nothing changes
    hospital(pay, "H9", account_no="4000999999")
    trail = pay.get("/v1/events", params={"aggregate_id": "H9"}).json()["items"]
    assert [e["type"] for e in trail] == ["HospitalRegistered", "HospitalChanged"]
    assert trail[1]["payload"]["bank_account"]["account_no"] == "4000999999"
    bad = pay.put("/v1/hospitals/H9", json={"name": "x", "region": "440300", "bank_account": {
        "bank_code": "10258400012", "account_no": "4000", "holder": "x"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "bank_account.bank_code"
