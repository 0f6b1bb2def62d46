"""Entitlements through the public API on both runtimes: a worker's claim from wages to
grade, the lines and their explanation to the fen, a policy published with a past effective date
(adjustment lines, never an edit), a payment run taking the fund lines, a death with survivors.
Each test works in a region of its own (`unique`), so it holds on the one shared distributed system."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from libs.policy import load_national_default

pytestmark = pytest.mark.both_runtimes


def ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def region_policy(**changes: str) -> dict:
    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00", **changes})
    return doc


def graded_worker(api, unique) -> tuple[str, str, str]:  # noqa: ANN001
    """A worker (male) of 9000.00 a month injured 2026-01-10, recognized, graded 3 with partial care."""
    region = unique.region
    ok(api.put(f"/v1/policies/{region}/2024-01-01", json=region_policy()), 201)
    employer = ok(api.post("/v1/employers", json={
        "uscc": unique.uscc(), "name": "Pearl River Metalworks",
        "industry_code": "C3311", "region": region, "enrolled_on": "2024-12-01"}), 201)
    id_number = unique.id_number(date(1980, 5, 17), 101)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": id_number, "name": "Li Lei", "hired_on": "2024-12-01",
        "bank_account": {"bank_code": "102584000001", "account_no": "6222020200000000001", "holder": "Li Lei"}}), 201)
    for month in range(1, 13):
        ok(api.post("/v1/wage-reports", json={"employer_id": employer["employer_id"], "period": f"2025-{month:02d}",
                                              "lines": [{"id_number": id_number, "wage": "9000.00"}]}), 201)
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer",
        "description": "hand caught in a press"}), 201)["claim_id"]
    r = api.post(f"/v1/claims/{claim_id}/recognition",
                 json={"decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14(1)"})
    assert r.status_code in (200, 201), r.text
    r = api.post(f"/v1/claims/{claim_id}/appraisals", json={"grade": 3, "care_level": "partial",
                                                           "concluded_on": "2026-05-04"})
    assert r.status_code in (200, 201), r.text
    return region, claim_id, worker["employee_id"]


def by_kind(items: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in items:
        out.setdefault(line["kind"], []).append(line)
    return out


def test_lines_explained_then_a_past_dated_policy_adjusts_them(api, unique) -> None:  # noqa: ANN001
    region, claim_id, employee_id = graded_worker(api, unique)
    body = ok(api.get(f"/v1/claims/{claim_id}/entitlements"))
    lines = by_kind(body["items"])
    # R.35: 23 × 9000.00 = 207000.00 once; 0.80 × 9000.00 = 7200.00 a month from May (the conclusion's month);
    # R.34: partial care 0.30 × the region's average wage 8000.00 = 2400.00 a month.
    assert [(ln["period"], ln["amount"]) for ln in lines["disability_grant"]] == [("2026-05-04", "207000.00")]
    months = [ln["period"] for ln in lines["disability_allowance"]]
    assert months[0] == "2026-05" and {ln["amount"] for ln in lines["disability_allowance"]} == {"7200.00"}
    assert {ln["amount"] for ln in lines["care_allowance"]} == {"2400.00"}
    assert all(ln["payer"] == "fund" and ln["status"] == "payable" and ln["payee"] == f"employee:{employee_id}"
               for ln in body["items"])

    grant = lines["disability_grant"][0]
    why = ok(api.get(f"/v1/payouts/{grant['line_id']}/explain"))
    assert why["formula"] == "insured_wage × months(grade 3) = 9000.00 × 23 = 207000.00"
    assert why["inputs"]["insured_wage"] == "9000.00" and why["inputs"]["disability_grant_months[3]"] == "23"
    assert why["policy_ref"]["region"] == region and why["article"] == "R.35"
    assert len(why["source_event_ids"]) >= 4  # application, recognition, insured wage, appraisal (+ policy)
    missing = api.get("/v1/payouts/el_nope/explain")
    assert missing.status_code == 404 and "el_nope" in missing.json()["detail"]
    assert api.get("/v1/claims/clm_nope/entitlements").status_code == 404

    # The region raises its average wage from 2026-07-01, published only now: care for July on is
    # re-indexed (R.40) — 0.30 × 9000.00 = 2700.00 — by adjustment lines of +300.00 each.
    ok(api.put(f"/v1/policies/{region}/2026-07-01", json=region_policy(average_monthly_wage="9000.00")), 201)
    after = by_kind(ok(api.get(f"/v1/claims/{claim_id}/entitlements"))["items"])
    care = after["care_allowance"]
    adjustments = [ln for ln in care if ln["adjusts"]]
    assert adjustments and all(ln["amount"] == "300.00" and ln["period"] >= "2026-07" for ln in adjustments)
    assert all("PolicyPublished" in ln["reason"] for ln in adjustments)
    originals = {ln["line_id"] for ln in lines["care_allowance"]}
    assert originals <= {ln["line_id"] for ln in care}  # nothing edited, nothing removed
    per_month: dict[str, D] = {}
    for ln in care:
        per_month[ln["period"]] = per_month.get(ln["period"], D(0)) + D(ln["amount"])
    assert per_month["2026-06"] == D("2400.00") and per_month["2026-07"] == D("2700.00")
    adj = ok(api.get(f"/v1/payouts/{adjustments[0]['line_id']}/explain"))
    assert adj["adjustment"]["formula"] == "as known after − as known before = 2700.00 − 2400.00 = 300.00"
    assert adj["adjustment"]["corrects"][0]["line_id"] in originals

    # As known at the end of yesterday: nothing — every fact of this claim was recorded today.
    yesterday = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
    assert ok(api.get(f"/v1/claims/{claim_id}/entitlements", params={"as_of": yesterday}))["items"] == []

    # A payment run for June takes the grant and May–June's allowances: 207000 + 2 × (7200 + 2400) = 226200.00.
    run = ok(api.post("/v1/payment-runs", json={"region": region, "period": "2026-06"}), 201)
    assert D(run["total"]) == D("226200.00") and run["count"] == 1
    taken = ok(api.get(f"/v1/claims/{claim_id}/entitlements"))["items"]
    assert {ln["status"] for ln in taken if ln["period"] <= "2026-06-30"} == {"in_run"}
    assert {ln["status"] for ln in taken if ln["period"] >= "2026-07"} == {"payable"}


def test_death_gives_funeral_and_survivor_pensions_but_no_death_grant_for_grade_3(api, unique) -> None:  # noqa: ANN001
    _, claim_id, _ = graded_worker(api, unique)
    spouse = unique.id_number(date(1982, 3, 1), 202)  # female
    child = unique.id_number(date(2015, 9, 1), 303)  # male
    r = api.post(f"/v1/claims/{claim_id}/death", json={"died_on": "2026-08-15", "dependents": [
        {"id_number": spouse, "name": "Han Meimei", "relation": "spouse", "born_on": "1982-03-01",
         "orphan_or_lone_elder": False, "bank_account": None},
        {"id_number": child, "name": "Li Xiaolei", "relation": "child", "born_on": "2015-09-01",
         "orphan_or_lone_elder": False, "bank_account": None}]})
    assert r.status_code in (200, 201), r.text
    lines = by_kind(ok(api.get(f"/v1/claims/{claim_id}/entitlements"))["items"])
    # R.39: funeral 6 × 8000.00 = 48000.00; no death grant for a grade 1–4 worker dying later;
    # pensions from September: spouse 0.40 × 9000.00 = 3600.00, child 0.30 × 9000.00 = 2700.00.
    assert [ln["amount"] for ln in lines["funeral_grant"]] == ["48000.00"]
    assert "death_grant" not in lines
    pensions = lines["survivor_pension"]
    assert min(ln["period"] for ln in pensions) == "2026-09"
    assert {ln["amount"] for ln in pensions if ln["payee"].endswith("-d1")} == {"3600.00"}
    assert {ln["amount"] for ln in pensions if ln["payee"].endswith("-d2")} == {"2700.00"}
    # The death is recorded after the allowances of September on were materialized: they are not
    # removed, a recovery line of −7200.00 for each nets them to zero (August is the last month due).
    per_month: dict[str, D] = {}
    for ln in lines["disability_allowance"]:
        per_month[ln["period"]] = per_month.get(ln["period"], D(0)) + D(ln["amount"])
    assert per_month["2026-08"] == D("7200.00") and per_month["2026-09"] == D("0.00")
    recoveries = [ln for ln in lines["disability_allowance"] if ln["adjusts"]]
    assert recoveries and {ln["amount"] for ln in recoveries} == {"-7200.00"}
    assert all(ln["reason"].startswith("recovery") and "WorkerDied" in ln["reason"] for ln in recoveries)
