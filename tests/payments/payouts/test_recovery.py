"""Recovery of overpayments (RULES.md "Appeals, reversals and recovery"; API.md Payments) through
the public API on both runtimes: what the fund paid and is no longer owed is recognized by the
next payment run, kept back of the payee's later payouts up to `recovery_max_share` of each —
recorded when the run is approved, dropped when it is rejected, undone when the bank returns the
payout — and otherwise a receivable in the books and the fund statement until written off.

Every worker here earns 9000.00 (the insured wage, R.64) in a region whose policy is the national
default with an average monthly wage of 8000.00. Figures worked by hand in the comments."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from tests.claims.support import appraise, decide, lines, new_claim, new_region, new_worker, ok, problem_field
from tests.four_eyes import checker

pytestmark = pytest.mark.both_runtimes
CONSISTENCY = "Injuryledger-Consistency"


def propose(api, region: str, period: str) -> dict:  # noqa: ANN001
    return ok(api.post("/v1/payment-runs", json={"region": region, "period": period,
                                                 "execution_date": "2026-12-01"}), 201)


def decide_run(api, run_id: str, decision: str = "approved") -> dict:  # noqa: ANN001
    """The second person's decision; the answer's consistency token lets the next read see it."""
    r = api.post(f"/v1/payment-runs/{run_id}/approval", json={"decision": decision, "note": "checked"},
                 headers=checker(api))
    assert r.status_code == 200, r.text
    return {CONSISTENCY: r.headers[CONSISTENCY]}


def bank_says(api, run_id: str, payout_id: str, status: str, reason: str = "") -> dict:  # noqa: ANN001
    r = api.post(f"/v1/payment-runs/{run_id}/returns", content=f"end_to_end_id,status,reason\n{payout_id},{status},"
                 f"{reason}\n".encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    return r.json()


def payout_of(api, run_id: str, payee: str, seen: dict | None = None) -> dict:  # noqa: ANN001
    run = ok(api.get(f"/v1/payment-runs/{run_id}", headers=seen or {}))
    [payout] = [p for p in run["payouts"] if p["payee"] == payee]
    return payout


def overpayments_of(api, payee: str, seen: dict | None = None) -> list[dict]:  # noqa: ANN001
    return ok(api.get("/v1/overpayments", params={"payee": payee}, headers=seen or {}))["items"]


def today() -> str:
    """The fund's day (UTC): what it recognizes and writes off is booked on it."""
    return datetime.now(timezone.utc).date().isoformat()


def statement(api, region: str) -> dict:  # noqa: ANN001
    # To today at least: an overpayment is recognized (and written off) on the day it happens.
    return ok(api.get(f"/v1/funds/{region}/statement", params={"from": "2026-01-01", "to": max("2026-12-31", today())}))


def paid_claim(api, region: str, grade: int = 3, care: str = "partial") -> tuple[str, str, str]:  # noqa: ANN001
    """A claim recognized on 2026-02-01 and appraised on 2026-05-04, its first run (through June)
    approved and settled. Grade 3, partial care: the grant 23 × 9000.00 = 207000.00 (R.35), the
    allowance 0.80 × 9000.00 = 7200.00 and care 0.30 × 8000.00 = 2400.00 a month (R.34) for May
    and June: 207000.00 + 2 × 9600.00 = 226200.00 paid."""
    worker = new_worker(api, region)
    claim_id = new_claim(api, worker)
    decide(api, claim_id, decided_on="2026-02-01")
    appraise(api, claim_id, grade, care, concluded_on="2026-05-04")
    payee = f"employee:{worker.employee_id}"
    assert {ln["payee"] for ln in lines(api, claim_id) if ln["payer"] == "fund"} == {payee}
    run = propose(api, region, "2026-06")
    decide_run(api, run["run_id"])
    first = payout_of(api, run["run_id"], payee)
    assert (first["amount"], first["deduction"]) == ("226200.00", "0.00")
    bank_says(api, run["run_id"], first["payout_id"], "ACSC")
    return worker.employee_id, claim_id, payee


def lodge_and_rule(api, claim_id: str, subject: str, route: str, lodged_on: str, decided_on: str,  # noqa: ANN001
                   **new) -> None:  # noqa: ANN003
    appeal = ok(api.post(f"/v1/claims/{claim_id}/appeals", json={
        "subject": subject, "route": route, "lodged_on": lodged_on, "lodged_by": "employer"}), 201)
    outcome = "modified" if subject == "appraisal" else "overturned"
    ok(api.post(f"/v1/claims/{claim_id}/appeals/{appeal['appeal_id']}/decision",
                json={"outcome": outcome, "decided_on": decided_on, **new}))


def test_a_revoked_recognition_is_netted_from_the_payees_next_payout(api) -> None:  # noqa: ANN001
    region = new_region(api)  # recovery_max_share: the national default, 1.00
    employee_id, claim_a, payee = paid_claim(api, region)
    # Revoked in court (R.55): every benefit of claim A ends; May and June were paid.
    lodge_and_rule(api, claim_a, "recognition", "litigation", "2026-07-31", "2026-09-30", decision="rejected")
    # A second injury of the same worker, grade 1 on 2026-08-03, no care: the grant 27 × 9000.00
    # = 243000.00 and the allowance 0.90 × 9000.00 = 8100.00 from August.
    second_claim(api, claim_a, employee_id, 1)

    run = propose(api, region, "2026-08")
    # Recognized by the run: the lines that took back May and June of claim A: 226200.00.
    [over] = overpayments_of(api, payee)
    assert (over["claim_id"], over["amount"], over["outstanding"], over["status"], over["recovery_max_share"]) == (
        claim_a, "226200.00", "226200.00", "outstanding", "1.00")
    assert sorted(D(ln["amount"]) for ln in over["lines"]) == [D("-207000.00"), D("-7200.00"), D("-7200.00"),
                                                             D("-2400.00"), D("-2400.00")]
    # Gross: B's 243000.00 + 8100.00 = 251100.00 (A's July and August net to 0.00); kept back
    # min(226200.00, 1.00 × 251100.00) = 226200.00; paid 24900.00.
    payout = payout_of(api, run["run_id"], payee)
    assert (payout["gross"], payout["deduction"], payout["amount"]) == ("251100.00", "226200.00", "24900.00")
    assert run["recoveries"]["total"] == "226200.00" and run["total"] == "24900.00"
    explained = ok(api.get(f"/v1/payouts/{payout['payout_id']}/explain"))
    assert (explained["gross"], explained["deduction"], explained["net"]) == ("251100.00", "226200.00", "24900.00")
    assert [(r["overpayment_id"], r["amount"]) for r in explained["recoveries"]] == [
        (over["overpayment_id"], "226200.00")]
    assert sum(D(ln["amount"]) for ln in explained["lines"]) == D("251100.00")
    # Proposed, not yet recorded: the overpayment is still all outstanding.
    assert overpayments_of(api, payee)[0]["outstanding"] == "226200.00"

    seen = decide_run(api, run["run_id"])
    [over] = overpayments_of(api, payee, seen)
    assert (over["recovered"], over["outstanding"], over["status"]) == ("226200.00", "0.00", "recovered")
    # The bank returns the payout (AM04, not the account's fault): its lines are payable again and
    # the recovery is undone — outstanding again, to be kept back by the next run.
    bank_says(api, run["run_id"], payout["payout_id"], "RJCT", "AM04")
    [over] = overpayments_of(api, payee)
    assert (over["recovered"], over["outstanding"], over["status"]) == ("0.00", "226200.00", "outstanding")
    assert [r["status"] for r in over["recoveries"]] == ["undone"]
    again = propose(api, region, "2026-08")
    payout = payout_of(api, again["run_id"], payee)
    assert (payout["gross"], payout["deduction"], payout["amount"]) == ("251100.00", "226200.00", "24900.00")
    decide_run(api, again["run_id"])
    bank_says(api, again["run_id"], payout["payout_id"], "ACSC")
    [over] = overpayments_of(api, payee)
    assert (over["outstanding"], over["status"]) == ("0.00", "recovered")

    # The books: 226200.00 paid for A, recognized, then 251100.00 of B's benefits of which
    # 226200.00 came out of the receivable and 24900.00 in cash. Paid out in cash: 226200.00 +
    # 24900.00 = 251100.00, which is what the fund gave away (B's benefits).
    books = statement(api, region)
    assert books["books_balanced"] is True
    assert books["overpayments"] == {"recognized": "226200.00", "recovered": "226200.00", "written_off": "0.00",
                                     "outstanding": "0.00"}
    assert books["expenditure"]["total"] == "251100.00"
    assert D(books["balance"]) == D(books["income"]["cash_received"]) - D("251100.00")


def second_claim(api, claim_a: str, employee_id: str, grade: int, care: str = "none") -> str:  # noqa: ANN001
    """A second injury of the same worker: recognized 2026-08-01, appraised on 2026-08-03."""
    claim_b = ok(api.post("/v1/claims", json={
        "employer_id": ok(api.get(f"/v1/claims/{claim_a}"))["employer_id"], "employee_id": employee_id,
        "kind": "accident", "occurred_on": "2026-06-10", "applied_on": "2026-06-15", "applicant": "employer",
        "description": "second fall"}), 201)["claim_id"]
    decide(api, claim_b, decided_on="2026-08-01")
    appraise(api, claim_b, grade, care, concluded_on="2026-08-03")
    return claim_b


def test_a_payout_the_overpayment_takes_whole_makes_no_transfer(api) -> None:  # noqa: ANN001
    region = new_region(api)
    employee_id, claim_a, payee = paid_claim(api, region)
    lodge_and_rule(api, claim_a, "recognition", "litigation", "2026-07-31", "2026-09-30", decision="rejected")
    # Grade 9 (R.37): the grant 9 × 9000.00 = 81000.00, nothing monthly. min(226200.00, 1.00 ×
    # 81000.00) = 81000.00: all of it is kept back, no transfer; 145200.00 stays outstanding.
    claim_b = second_claim(api, claim_a, employee_id, 9)
    run = propose(api, region, "2026-08")
    assert (run["count"], run["total"]) == (0, "0.00")
    [whole] = run["recoveries"]["kept_back_whole"]
    assert (whole["payee"], whole["gross"], whole["amount"], whole["status"]) == (
        payee, "81000.00", "81000.00", "planned")
    assert {ln["status"] for ln in lines(api, claim_b) if ln["payer"] == "fund"} == {"in_run"}
    seen = decide_run(api, run["run_id"])
    [over] = overpayments_of(api, payee, seen)
    assert (over["recovered"], over["outstanding"], over["status"]) == ("81000.00", "145200.00", "outstanding")
    assert {ln["status"] for ln in lines(api, claim_b) if ln["payer"] == "fund"} == {"recovered"}
    trail = ok(api.get("/v1/events", params={"aggregate_id": over["overpayment_id"]}, headers=seen))["items"]
    assert [(e["type"], e["payload"].get("payout_id"), e["payload"].get("families")) for e in trail] == [
        ("OverpaymentRecognized", None, None), ("OverpaymentRecovered", None, {"long_term": "81000.00"})]
    # The books: B's grant is an expense paid out of the receivable, no cash. What the fund gave
    # away for good: 226200.00 paid − 226200.00 recognized + 81000.00 = 81000.00.
    books = statement(api, region)
    assert books["overpayments"] == {"recognized": "226200.00", "recovered": "81000.00", "written_off": "0.00",
                                     "outstanding": "145200.00"}
    assert books["expenditure"]["total"] == "81000.00" and books["books_balanced"] is True
    # Nothing is paid twice: the next run finds nothing of B's to pay.
    assert propose(api, region, "2026-08")["count"] == 0


def test_a_lower_grade_from_the_committee_is_recovered_over_several_runs_at_half(api) -> None:  # noqa: ANN001
    region = new_region(api, recovery_max_share="0.50")
    _employee_id, claim_id, payee = paid_claim(api, region)
    # R.26: the committee concludes grade 4 (lodged 2026-05-19, the 15th day), same care. From
    # 2026-05-04: the grant 21 × 9000.00 = 189000.00 (18000.00 less), the allowance 0.75 × 9000.00
    # = 6750.00 (450.00 less a month). Overpaid: 18000.00 + 2 × 450.00 = 18900.00.
    lodge_and_rule(api, claim_id, "appraisal", "appraisal_committee", "2026-05-19", "2026-07-20",
                   grade=4, care_level="partial")

    # Each later month pays 6750.00 + 2400.00 = 9150.00. A run through August: gross 18300.00,
    # at most 0.50 × 18300.00 = 9150.00 kept back.
    rejected = propose(api, region, "2026-08")
    [over] = overpayments_of(api, payee)
    assert (over["amount"], over["outstanding"]) == ("18900.00", "18900.00")
    assert sorted(D(ln["amount"]) for ln in over["lines"]) == [D("-18000.00"), D("-450.00"), D("-450.00")]
    payout = payout_of(api, rejected["run_id"], payee)
    assert (payout["gross"], payout["deduction"], payout["amount"]) == ("18300.00", "9150.00", "9150.00")
    # Rejected: nothing is recovered; the overpayment stays outstanding for the next run.
    seen = decide_run(api, rejected["run_id"], "rejected")
    [over] = overpayments_of(api, payee, seen)
    assert (over["outstanding"], [r["status"] for r in over["recoveries"]]) == ("18900.00", ["cancelled"])

    run = propose(api, region, "2026-08")
    assert payout_of(api, run["run_id"], payee)["deduction"] == "9150.00"
    decide_run(api, run["run_id"])
    assert overpayments_of(api, payee)[0]["outstanding"] == "9750.00"  # 18900.00 − 9150.00
    # Through October: gross 18300.00 again, 9150.00 kept back; 600.00 left.
    run = propose(api, region, "2026-10")
    decide_run(api, run["run_id"])
    assert overpayments_of(api, payee)[0]["outstanding"] == "600.00"
    # November: gross 9150.00, min(600.00, 4575.00) = 600.00 kept back; paid 8550.00.
    run = propose(api, region, "2026-11")
    payout = payout_of(api, run["run_id"], payee)
    assert (payout["gross"], payout["deduction"], payout["amount"]) == ("9150.00", "600.00", "8550.00")
    seen = decide_run(api, run["run_id"])
    [over] = overpayments_of(api, payee, seen)
    assert (over["recovered"], over["outstanding"], over["status"]) == ("18900.00", "0.00", "recovered")
    assert sorted(D(r["amount"]) for r in over["recoveries"] if r["status"] == "recovered") == [
        D("600.00"), D("9150.00"), D("9150.00")]


def test_a_write_off_ends_the_receivable_and_shows_in_the_statement(api) -> None:  # noqa: ANN001
    region = new_region(api)
    _employee_id, claim_id, payee = paid_claim(api, region)
    lodge_and_rule(api, claim_id, "recognition", "reconsideration", "2026-04-02", "2026-09-30", decision="rejected")
    run = propose(api, region, "2026-08")
    # Nothing else is owed to the payee: July and August of the claim net to 0.00, no payout.
    assert run["count"] == 0 and payee in [w["payee"] for w in run["waiting_net_not_positive"]]
    [over] = ok(api.get("/v1/overpayments", params={"claim_id": claim_id}))["items"]
    assert (over["payee"], over["amount"], over["outstanding"]) == (payee, "226200.00", "226200.00")
    recognized = {ln["line_id"] for ln in over["lines"]}
    assert {ln["status"] for ln in lines(api, claim_id) if ln["line_id"] in recognized} == {"overpayment"}
    books = statement(api, region)
    assert books["overpayments"] == {"recognized": "226200.00", "recovered": "0.00", "written_off": "0.00",
                                     "outstanding": "226200.00"}
    assert books["books_balanced"] is True

    url = f"/v1/overpayments/{over['overpayment_id']}/write-off"
    assert problem_field(api.post(url, json={"reason": "  "})) == "reason"
    assert problem_field(api.post(url, json={"reason": "x", "written_off_on": "2026-13-01"})) == "written_off_on"
    assert problem_field(api.post(url, json={"reason": "x", "written_off_on": "2026-01-01"})) == "written_off_on"
    hospital = ok(api.post("/v1/clients", json={"name": "a hospital", "role": "hospital", "hospital_id": "H-x"}), 201)
    as_hospital = {"Authorization": f"Bearer {hospital['token']}"}
    assert api.post(url, json={"reason": "x"}, headers=as_hospital).status_code == 403
    assert api.get("/v1/overpayments", params={"payee": payee}, headers=as_hospital).status_code == 403
    assert overpayments_of(api, payee)[0]["outstanding"] == "226200.00"  # refused requests changed nothing

    written_off_on = today()  # not before the recognition, which was today
    done = ok(api.post(url, json={"reason": "the worker emigrated; not recoverable", "written_off_on": written_off_on}))
    assert (done["status"], done["written_off"], done["outstanding"]) == ("written_off", "226200.00", "0.00")
    assert done["write_off"] == {"reason": "the worker emigrated; not recoverable", "written_off_on": written_off_on}
    again = api.post(url, json={"reason": "twice"})
    assert again.status_code == 409 and again.json()["overpayment_status"] == "written_off"
    trail = ok(api.get("/v1/events", params={"aggregate_id": over["overpayment_id"]}))["items"]
    assert [e["type"] for e in trail] == ["OverpaymentRecognized", "OverpaymentWrittenOff"]

    # The books: the receivable is gone, the loss is expenditure: what the fund gave away is the
    # 226200.00 it paid (226200.00 of benefits − 226200.00 recognized + 226200.00 written off).
    books = statement(api, region)
    assert books["overpayments"] == {"recognized": "226200.00", "recovered": "0.00", "written_off": "226200.00",
                                     "outstanding": "0.00"}
    assert books["expenditure"]["overpayments_written_off"] == "226200.00"
    assert books["expenditure"]["total"] == "226200.00" and books["books_balanced"] is True
    # A later run keeps nothing back of a written-off overpayment.
    assert propose(api, region, "2026-09")["recoveries"]["total"] == "0.00"


def test_a_moved_claims_overpayment_is_recognized_by_the_new_regions_run(api) -> None:  # noqa: ANN001
    """Pooling moves up (RULES.md "Prevention and pooling"): the pool's run paid May and June; the
    pool is consolidated into P from August; the recognition revoked, P's run of August (which pays
    the pool's lines) recognizes the overpayment of the pool's lines and keeps it back."""
    pool, into = new_region(api), new_region(api)
    employee_id, claim_a, payee = paid_claim(api, pool)  # 226200.00 paid by the pool's run
    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-08-01"}), 201)
    lodge_and_rule(api, claim_a, "recognition", "litigation", "2026-07-31", "2026-09-30", decision="rejected")
    # B: grade 1 from 2026-08-03: 243000.00 + 8100.00 for August (P has the same levels as the pool)
    second_claim(api, claim_a, employee_id, 1)

    run = propose(api, into, "2026-08")
    [over] = overpayments_of(api, payee)
    assert (over["claim_id"], over["amount"], over["region"]) == (claim_a, "226200.00", into)
    # kept back min(226200.00, 1.00 × 251100.00) = 226200.00; paid 251100.00 − 226200.00 = 24900.00
    payout = payout_of(api, run["run_id"], payee)
    assert (payout["gross"], payout["deduction"], payout["amount"]) == ("251100.00", "226200.00", "24900.00")
