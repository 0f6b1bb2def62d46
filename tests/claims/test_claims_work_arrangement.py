"""R.36 as RULES.md settles it: a worker of grade 5–6 stays employed, and while the employer has
arranged no suitable work it pays the monthly allowance; the allowance ends at termination, when
the one-off grants fall due. Through the public API, on both runtimes."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from .support import appraise, decide, lines, new_claim, new_region, new_worker, ok, per_month, problem_field

pytestmark = pytest.mark.both_runtimes


def test_grade_5_paid_by_the_employer_until_work_is_arranged_then_grants_at_termination(api) -> None:  # noqa: ANN001
    region = new_region(api)
    w = new_worker(api, region, wage="5000.00")
    claim_id = new_claim(api, w)
    decide(api, claim_id)
    appraise(api, claim_id, 5, concluded_on="2026-05-04")
    # R.36: 0.70 × 5000.00 = 3500.00 a month (above the minimum 2360.00), payer employer, from June
    # (the month after the conclusion); no termination, no arrangement: every month since.
    before = lines(api, claim_id)
    assert per_month(before, "disability_allowance_5_6", through="2026-10") == {
        m: D("3500.00") for m in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10")}
    assert {ln["payer"] for ln in before if ln["kind"] == "disability_allowance_5_6"} == {"employer"}
    assert {ln["status"] for ln in before if ln["kind"] == "disability_allowance_5_6"} == {"obligation"}

    # The employer arranged suitable work from 1 September: September on are taken back (−3500.00 each).
    arranged = ok(api.post(f"/v1/claims/{claim_id}/work-arrangement", json={"arranged": True, "from": "2026-09-01"}))
    assert arranged["work_arrangements"] == [{"arranged": True, "from": "2026-09-01"}]
    after = lines(api, claim_id)
    assert per_month(after, "disability_allowance_5_6", through="2026-10") == {
        "2026-06": D("3500.00"), "2026-07": D("3500.00"), "2026-08": D("3500.00"),
        "2026-09": D("0.00"), "2026-10": D("0.00")}
    taken_back = [ln for ln in after if ln["kind"] == "disability_allowance_5_6" and ln["adjusts"]]
    assert taken_back and {ln["amount"] for ln in taken_back} == {"-3500.00"}

    # Termination on 15 October: R.36 grants of grade 5, 10 and 20 × the average wage 8000.00.
    ok(api.post(f"/v1/claims/{claim_id}/termination", json={"terminated_on": "2026-10-15"}))
    grants = lines(api, claim_id)
    assert per_month(grants, "termination_medical_grant") == {"2026-10-15": D("80000.00")}
    assert per_month(grants, "termination_employment_grant") == {"2026-10-15": D("160000.00")}
    shown = ok(api.get(f"/v1/claims/{claim_id}"))
    assert shown["work_arrangements"] == [{"arranged": True, "from": "2026-09-01"}]
    assert "suitable work arranged from 2026-09-01 (grade 5)" in {h["summary"] for h in shown["history"]}

    # After the termination there is no employment to arrange work in.
    late = api.post(f"/v1/claims/{claim_id}/work-arrangement", json={"arranged": False, "from": "2026-11-01"})
    assert late.status_code == 409 and late.json()["claim_status"] == "terminated"


def test_a_work_arrangement_needs_grade_5_or_6_and_a_day_after_the_appraisal(api) -> None:  # noqa: ANN001
    region = new_region(api)
    w = new_worker(api, region, wage="6000.00")
    claim_id = new_claim(api, w)
    decide(api, claim_id)
    early = api.post(f"/v1/claims/{claim_id}/work-arrangement", json={"arranged": True, "from": "2026-06-01"})
    assert early.status_code == 409 and early.json()["claim_status"] == "recognized"
    appraise(api, claim_id, 3, concluded_on="2026-05-04")
    grade_3 = api.post(f"/v1/claims/{claim_id}/work-arrangement", json={"arranged": True, "from": "2026-06-01"})
    assert grade_3.status_code == 409 and "grades 5–6 only" in grade_3.json()["detail"]

    other = new_claim(api, w, occurred_on="2026-02-10", applied_on="2026-02-12")
    decide(api, other, decided_on="2026-02-20")
    appraise(api, other, 6, concluded_on="2026-06-01")
    assert problem_field(api.post(f"/v1/claims/{other}/work-arrangement",
                                  json={"arranged": True, "from": "2026-05-31"})) == "from"
    ok(api.post(f"/v1/claims/{other}/work-arrangement", json={"arranged": True, "from": "2026-06-01"}))
    # Work from the day of the conclusion: the allowance (0.60 × 6000.00) nets to nothing in every month.
    assert set(per_month(lines(api, other), "disability_allowance_5_6").values()) <= {D("0.00")}
