"""Rehabilitation (R.30): an agreement provider, a plan the agency approved (period, budget), the
provider's bills adjudicated against the rehabilitation catalog and the plan — nothing outside its
period, nothing beyond its budget — and paid to the provider by the payment run. Figures worked by
hand in the comments (the national default's rehabilitation catalog: KF-PT 60.00, KF-OT 50.00,
KF-TUINA 45.00 at a share of 0.80)."""
from __future__ import annotations

import pytest

from .support import lines_of, ok, recognized_claim

pytestmark = pytest.mark.both_runtimes


def provider(api, unique, kind: str = "rehabilitation", n: int = 1) -> str:  # noqa: ANN001
    provider_id = f"KF-{unique.region}-{n}"
    ok(api.put(f"/v1/hospitals/{provider_id}", json={
        "name": f"Rehabilitation centre {n}", "region": unique.region, "kind": kind,
        "bank_account": {"bank_code": "104584000003", "account_no": f"4000{unique.region}{n:04d}",
                         "holder": f"康复中心 {n}"}}))
    return provider_id


def bill(api, claim_id: str, provider_id: str, plan_id: str | None, admitted: str, discharged: str,  # noqa: ANN001
         items: list[tuple[str, int, str, str]], kind: str = "rehabilitation"):  # noqa: ANN201
    return api.post("/v1/medical-bills", json={
        "claim_id": claim_id, "hospital_id": provider_id, "admitted_on": admitted, "discharged_on": discharged,
        "kind": kind, "plan_id": plan_id,
        "items": [{"code": c, "quantity": q, "unit_price": p, "on": on} for c, q, p, on in items]})


def test_bills_are_held_to_the_catalog_the_plans_period_and_its_budget_then_paid(api, unique) -> None:  # noqa: ANN001
    c = recognized_claim(api, unique)
    centre = provider(api, unique)
    assert ok(api.get(f"/v1/hospitals/{centre}"), 200)["kind"] == "rehabilitation"
    plan = ok(api.post(f"/v1/claims/{c.claim_id}/rehabilitation-plans", json={
        "provider_id": centre, "start": "2026-04-01", "end": "2026-04-30", "budget": "1000.00"}))
    assert (plan["budget"], plan["spent"], plan["remaining"]) == ("1000.00", "0.00", "1000.00")

    # KF-PT 5 × 70.00, priced at the ceiling 60.00: 300.00; KF-TUINA 4 × 40.00 × 0.80 = 128.00;
    # an item outside the catalog: 0.00. Claimed 350.00 + 160.00 + 99.00 = 609.00, approved 428.00.
    first = ok(bill(api, c.claim_id, centre, plan["plan_id"], "2026-04-01", "2026-04-10", [
        ("KF-PT", 5, "70.00", "2026-04-02"), ("KF-TUINA", 4, "40.00", "2026-04-03"),
        ("XX-SPA", 1, "99.00", "2026-04-04")]))
    assert (first["kind"], first["claimed"], first["approved"]) == ("rehabilitation", "609.00", "428.00")
    assert [i["reason"] for i in first["items"]] == ["price_capped", "partial_share", "not_in_catalog"]
    assert [r["index"] for r in first["rejected_items"]] == [2]

    # 1000.00 − 428.00 = 572.00 left. KF-OT 6 × 50.00 = 300.00 (272.00 left); KF-PT 10 × 60.00 = 600.00
    # passes it: 272.00 only; KF-PT on 2 May is after the plan's end: 0.00. Approved 300.00 + 272.00 = 572.00.
    second = ok(bill(api, c.claim_id, centre, plan["plan_id"], "2026-04-20", "2026-05-05", [
        ("KF-OT", 6, "50.00", "2026-04-21"), ("KF-PT", 10, "60.00", "2026-04-25"),
        ("KF-PT", 2, "60.00", "2026-05-02")]))
    assert [i["approved"] for i in second["items"]] == ["300.00", "272.00", "0.00"]
    assert [(r["index"], r["reason"]) for r in second["rejected_items"]] == \
        [(1, "beyond_plan_budget"), (2, "outside_plan_period")]
    assert second["approved"] == "572.00"

    # The budget is spent: a third bill pays nothing and makes no line.
    third = ok(bill(api, c.claim_id, centre, plan["plan_id"], "2026-04-28", "2026-04-28",
                    [("KF-OT", 1, "50.00", "2026-04-28")]))
    assert (third["approved"], third["rejected_items"][0]["reason"]) == ("0.00", "beyond_plan_budget")
    [listed] = ok(api.get(f"/v1/claims/{c.claim_id}/rehabilitation-plans"), 200)["items"]
    assert (listed["spent"], listed["remaining"]) == ("1000.00", "0.00")

    lines = lines_of(api, c.claim_id, "rehabilitation")
    assert sorted(ln["amount"] for ln in lines) == ["428.00", "572.00"]
    assert all(ln["payee"] == f"hospital:{centre}" and ln["payer"] == "fund" for ln in lines)
    second_line = next(ln for ln in lines if ln["amount"] == "572.00")
    why = ok(api.get(f"/v1/payouts/{second_line['line_id']}/explain"), 200)
    assert why["article"] == "R.30" and why["formula"].endswith(
        "up to budget − spent_before = 1000.00 − 428.00 = 572.00: 300.00 + 272.00 + 0.00 = 572.00")
    assert why["inputs"]["spent_before"] == "428.00" and len(why["source_event_ids"]) == 2
    trail = ok(api.get("/v1/events", params={"aggregate_id": plan["plan_id"]}), 200)["items"]
    assert [(e["type"], e["payload"].get("spent")) for e in trail] == [
        ("RehabilitationPlanApproved", None), ("RehabilitationCharged", "428.00"), ("RehabilitationCharged", "1000.00")]

    # The run of May pays the provider both bills (discharged in April and May): 428.00 + 572.00
    run = ok(api.post("/v1/payment-runs", json={"region": c.region, "period": "2026-05"}))
    assert (run["count"], run["total"]) == (1, "1000.00")
    payees = {p["payee"] for p in ok(api.get(f"/v1/payment-runs/{run['run_id']}"), 200)["payouts"]}
    assert payees == {f"hospital:{centre}"}


def test_plans_and_bills_refused_for_what_they_cannot_be(api, unique) -> None:  # noqa: ANN001
    c = recognized_claim(api, unique)
    centre, other = provider(api, unique, n=1), provider(api, unique, n=2)
    hospital = provider(api, unique, kind="hospital", n=3)
    body = {"provider_id": centre, "start": "2026-04-01", "end": "2026-04-30", "budget": "1000.00"}
    for change, field in (({"provider_id": hospital}, "provider_id"),  # not a rehabilitation provider
                          ({"end": "2026-03-31"}, "end"),               # ends before it starts
                          ({"start": "2026-01-01"}, "start"),           # before the injury of 2026-01-10
                          ({"budget": "0.00"}, "budget")):
        r = api.post(f"/v1/claims/{c.claim_id}/rehabilitation-plans", json={**body, **change})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (change, r.text)
    plan = ok(api.post(f"/v1/claims/{c.claim_id}/rehabilitation-plans", json=body))
    item = [("KF-PT", 1, "60.00", "2026-04-02")]
    for (provider_id, plan_id, kind), field in (((other, plan["plan_id"], "rehabilitation"), "hospital_id"),
                                                ((centre, "rhp_nope", "rehabilitation"), "plan_id"),
                                                ((centre, None, "rehabilitation"), "plan_id"),
                                                ((centre, plan["plan_id"], "medical"), "plan_id")):
        r = bill(api, c.claim_id, provider_id, plan_id, "2026-04-01", "2026-04-03", item, kind=kind)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (provider_id, plan_id, kind, r.text)
    r = bill(api, c.claim_id, centre, plan["plan_id"], "2026-04-03", "2026-04-05", item)  # 2 April: not in the stay
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items.0.on", r.text
    assert ok(api.get(f"/v1/claims/{c.claim_id}/rehabilitation-plans"), 200)["items"][0]["spent"] == "0.00"
