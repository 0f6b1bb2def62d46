"""Appeals through the public API on both runtimes (R.55, R.26; RULES.md "Appeals, reversals and
recovery"): each route with its deadline's edge days, each outcome, and what the decision
replaces — in the claim, in the entitlements (payments) and in who may bill (payments), with
the figures worked by hand."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from .support import appraise, decide, lines, new_claim, new_region, new_worker, ok, per_month, problem_field

pytestmark = pytest.mark.both_runtimes


def lodge(api, claim_id: str, subject: str, route: str, lodged_on: str, by: str = "worker"):  # noqa: ANN001, ANN201
    return api.post(f"/v1/claims/{claim_id}/appeals",
                    json={"subject": subject, "route": route, "lodged_on": lodged_on, "lodged_by": by})


def rule(api, claim_id: str, appeal_id: str, outcome: str, decided_on: str, **new):  # noqa: ANN001, ANN003, ANN201
    return api.post(f"/v1/claims/{claim_id}/appeals/{appeal_id}/decision",
                    json={"outcome": outcome, "decided_on": decided_on, **new})


def bill(api, region: str, claim_id: str):  # noqa: ANN001, ANN201
    ok(api.put(f"/v1/hospitals/H-{region}", json={"name": "People's Hospital", "region": region, "bank_account": {
        "bank_code": "102584000002", "account_no": "4000023409200123456", "holder": "人民医院"}}), (200, 201))
    return api.post("/v1/medical-bills", json={
        "claim_id": claim_id, "hospital_id": f"H-{region}", "admitted_on": "2026-01-10", "discharged_on": "2026-01-12",
        "items": [{"code": "110900001", "quantity": 3, "unit_price": "60.00"}]})


def test_a_rejection_overturned_on_reconsideration_recognizes_from_the_start(api) -> None:  # noqa: ANN001
    region = new_region(api)
    claim_id = new_claim(api, new_worker(api, region, wage="9000.00"))
    decide(api, claim_id, "rejected", decided_on="2026-02-01")
    assert bill(api, region, claim_id).status_code == 409  # a rejected claim has no medical treatment to pay

    # R.55: 60 days from 2026-02-01 — the last day is 2026-04-02; the next is late.
    assert problem_field(lodge(api, claim_id, "recognition", "reconsideration", "2026-04-03")) == "lodged_on"
    lodged = ok(lodge(api, claim_id, "recognition", "reconsideration", "2026-04-02"), 201)
    assert (lodged["appeal_id"], lodged["due_by"], lodged["status"], lodged["disputed"]) == (
        f"{claim_id}-a1", "2026-04-02", "open", {"on": "2026-02-01", "decision": "rejected"})
    # one open appeal on a subject at a time
    again = lodge(api, claim_id, "recognition", "litigation", "2026-04-02")
    assert again.status_code == 409 and again.json()["claim_status"] == "rejected"
    assert problem_field(rule(api, claim_id, lodged["appeal_id"], "overturned", "2026-05-15")) == "decision"
    assert rule(api, claim_id, "nope", "upheld", "2026-05-15").status_code == 404

    decided = ok(rule(api, claim_id, lodged["appeal_id"], "overturned", "2026-05-15", decision="recognized"))
    assert (decided["claim_status"], decided["claim_decision"], decided["status"]) == (
        "recognized", "recognized", "overturned")
    shown = ok(api.get(f"/v1/claims/{claim_id}"))
    # recognized as from the original decision: its date stays 2026-02-01; R.64 gives 9000.00
    assert (shown["status"], shown["decision"], shown["decided_on"]) == ("recognized", "recognized", "2026-02-01")
    assert shown["insured_wage"]["insured_wage"] == "9000.00"
    assert [(a["appeal_id"], a["status"], a["replaced_by"]) for a in shown["appeals"]] == [
        (lodged["appeal_id"], "overturned", {"decision": "recognized"})]
    assert {"AppealLodged", "AppealDecided"} <= {h["type"] for h in shown["history"]}
    assert bill(api, region, claim_id).status_code == 201  # payments knows the claim is recognized now

    # The claim goes on as any recognized claim: appraised grade 3, partial care, on 2026-06-01.
    appraise(api, claim_id, 3, "partial", concluded_on="2026-06-01")
    items = lines(api, claim_id)
    # R.35: 23 × 9000.00 = 207000.00; 0.80 × 9000.00 = 7200.00 a month; R.34: 0.30 × 8000.00 = 2400.00.
    assert per_month(items, "disability_grant") == {"2026-06-01": D("207000.00")}
    assert per_month(items, "disability_allowance", through="2026-08") == {m: D("7200.00") for m in (
        "2026-06", "2026-07", "2026-08")}
    assert per_month(items, "care_allowance", through="2026-08") == {m: D("2400.00") for m in (
        "2026-06", "2026-07", "2026-08")}


def test_a_recognition_revoked_in_court_ends_every_benefit(api) -> None:  # noqa: ANN001
    region = new_region(api)
    claim_id = new_claim(api, new_worker(api, region, wage="9000.00"))
    decide(api, claim_id, "recognized", decided_on="2026-02-01")
    appraise(api, claim_id, 3, "partial", concluded_on="2026-05-04")
    before = lines(api, claim_id)
    assert sum(D(ln["amount"]) for ln in before if ln["period"][:7] <= "2026-06") == \
        D("207000.00") + 2 * (D("7200.00") + D("2400.00"))

    # Litigation: six months, 180 days from 2026-02-01 — the last day is 2026-07-31.
    assert problem_field(lodge(api, claim_id, "recognition", "litigation", "2026-08-01", "employer")) == "lodged_on"
    lodged = ok(lodge(api, claim_id, "recognition", "litigation", "2026-07-31", "employer"), 201)
    assert lodged["due_by"] == "2026-07-31" and lodged["lodged_by"] == "employer"
    revoked = ok(rule(api, claim_id, lodged["appeal_id"], "overturned", "2026-09-30", decision="rejected"))
    assert (revoked["claim_status"], revoked["claim_decision"]) == ("rejected", "rejected")

    after = lines(api, claim_id)
    # Nothing edited: every line stays and a recovery line takes each back, so each month nets 0.
    assert {ln["line_id"] for ln in before} <= {ln["line_id"] for ln in after}
    assert set(per_month(after, "disability_allowance").values()) == {D("0.00")}
    assert per_month(after, "disability_grant") == {"2026-05-04": D("0.00")}
    assert all(ln["reason"].startswith("recovery") for ln in after if ln["adjusts"])
    listed = ok(api.get("/v1/claims", params={"employer_id": ok(api.get(f"/v1/claims/{claim_id}"))["employer_id"]}))
    assert [c["status"] for c in listed["items"]] == ["rejected"]
    refused = api.post(f"/v1/claims/{claim_id}/appraisals", json={"grade": 2, "care_level": "none",
                                                                  "concluded_on": "2026-10-01"})
    assert refused.status_code == 409 and refused.json()["claim_status"] == "rejected"


def test_the_provincial_committee_replaces_the_conclusion_from_its_date(api) -> None:  # noqa: ANN001
    region = new_region(api)
    claim_id = new_claim(api, new_worker(api, region, wage="9000.00"))
    decide(api, claim_id)
    appraise(api, claim_id, 7, "none", concluded_on="2026-05-04")
    assert per_month(lines(api, claim_id), "disability_grant") == {"2026-05-04": D("117000.00")}  # 13 × 9000.00

    # R.26: 15 days from 2026-05-04 — 2026-05-19 is the last day.
    assert problem_field(lodge(api, claim_id, "appraisal", "appraisal_committee", "2026-05-20")) == "lodged_on"
    assert problem_field(lodge(api, claim_id, "appraisal", "litigation", "2026-05-19")) == "route"
    lodged = ok(lodge(api, claim_id, "appraisal", "appraisal_committee", "2026-05-19"), 201)
    assert lodged["disputed"] == {"on": "2026-05-04", "grade": 7, "care_level": "none"}
    decided = ok(rule(api, claim_id, lodged["appeal_id"], "modified", "2026-07-20", grade=5, care_level="none"))
    assert (decided["claim_grade"], decided["replaced_by"]) == (5, {"grade": 5, "care_level": "none"})

    items = lines(api, claim_id)
    # Grade 5 from 2026-05-04: the grant 18 × 9000.00 = 162000.00, an adjustment of +45000.00 on the
    # 117000.00; the employer's allowance 0.70 × 9000.00 = 6300.00 a month from June (R.36).
    grant = [ln for ln in items if ln["kind"] == "disability_grant"]
    assert sorted(D(ln["amount"]) for ln in grant) == [D("45000.00"), D("117000.00")]
    assert per_month(items, "disability_allowance_5_6", through="2026-08") == {m: D("6300.00") for m in (
        "2026-06", "2026-07", "2026-08")}
    assert {ln["payer"] for ln in items if ln["kind"] == "disability_allowance_5_6"} == {"employer"}
    shown = ok(api.get(f"/v1/claims/{claim_id}"))
    assert (shown["grade"], shown["appraisals"][0]["committee"]) == (5, True)
    # The committee's conclusion is final.
    final = lodge(api, claim_id, "appraisal", "appraisal_committee", "2026-05-19")
    assert final.status_code == 409 and "final" in final.json()["detail"]


def test_an_upheld_decision_changes_nothing(api) -> None:  # noqa: ANN001
    region = new_region(api)
    claim_id = new_claim(api, new_worker(api, region, wage="9000.00"))
    decide(api, claim_id)
    appraise(api, claim_id, 3, "partial", concluded_on="2026-05-04")
    before = sorted(ln["line_id"] for ln in lines(api, claim_id))
    lodged = ok(lodge(api, claim_id, "appraisal", "appraisal_committee", "2026-05-10", "employer"), 201)
    assert problem_field(rule(api, claim_id, lodged["appeal_id"], "upheld", "2026-06-01", grade=4)) == "grade"
    upheld = ok(rule(api, claim_id, lodged["appeal_id"], "upheld", "2026-06-01"))
    assert (upheld["status"], upheld["claim_grade"]) == ("upheld", 3) and "replaced_by" not in upheld
    assert sorted(ln["line_id"] for ln in lines(api, claim_id)) == before
    again = rule(api, claim_id, lodged["appeal_id"], "overturned", "2026-06-02", grade=2, care_level="none")
    assert again.status_code == 409 and "decided already" in again.json()["detail"]
