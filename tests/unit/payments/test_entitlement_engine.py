"""The pure derivation: every benefit from hand-made facts, with worked figures, and the
retroactive cases as adjustment lines."""
from __future__ import annotations

import random
from decimal import Decimal as D

from services.payments.entitlements.engine import derive, ledger, lines_hash, notes

from .facts import ClaimFacts, at, policy

P1 = policy()


def by(lines, kind):  # noqa: ANN001, ANN201
    return [ln for ln in lines if ln.kind == kind]


def amounts(lines, kind):  # noqa: ANN001, ANN201
    return {ln.period: ln.amount for ln in by(lines, kind)}


def graded_claim(grade: int = 3, care: str = "partial", wage: str = "9000.00") -> ClaimFacts:
    c = ClaimFacts(occurred_on="2026-01-10", applied_on="2026-01-20")
    c.recognized("2026-02-01")
    c.wage(wage, "2026-02-01")
    c.grade(grade, "2026-05-04", care_level=care)
    return c


def test_grade_3_grant_allowance_and_care() -> None:
    c = graded_claim()
    lines = ledger(c.facts, [P1], now=at("2026-06-15"))
    # R.35: 23 × 9000.00 = 207000.00; allowance 0.80 × 9000.00 = 7200.00 for May and June;
    # R.34: care (partial) 0.30 × the average monthly wage 8000.00 = 2400.00.
    assert amounts(lines, "disability_grant") == {"2026-05-04": D("207000.00")}
    assert amounts(lines, "disability_allowance") == {"2026-05": D("7200.00"), "2026-06": D("7200.00")}
    assert amounts(lines, "care_allowance") == {"2026-05": D("2400.00"), "2026-06": D("2400.00")}
    assert {ln.payer for ln in lines} == {"fund"} and {ln.payee for ln in lines} == {"employee:ee-1"}
    grant = by(lines, "disability_grant")[0]
    assert grant.explain["formula"] == "insured_wage × months(grade 3) = 9000.00 × 23 = 207000.00"
    assert grant.policy_ref == {"region": "440300", "effective_from": "2020-01-01", "version": 1}
    assert {c.facts[0].event_id, c.facts[2].event_id, c.facts[3].event_id} <= set(grant.source_event_ids)


def test_treatment_leave_wage_prorated_by_calendar_days_payer_employer() -> None:
    c = ClaimFacts(occurred_on="2026-01-10")
    c.recognized("2026-01-15")
    c.wage("6200.00", "2026-01-15")
    c.leave("2026-01-10", "2026-03-20", recorded="2026-01-15")
    lines = ledger(c.facts, [P1], now=at("2026-04-02"))
    # R.33: January 22 of 31 days: 6200.00 × 22 / 31 = 4400.00; February whole: 6200.00;
    # March 20 of 31 days: 6200.00 × 20 / 31 = 4000.00. The employer pays (policy `payers`).
    assert amounts(lines, "treatment_leave_wage") == {"2026-01": D("4400.00"), "2026-02": D("6200.00"),
                                                      "2026-03": D("4000.00")}
    assert {ln.payer for ln in lines} == {"employer"}


def test_grade_4_allowance_topped_up_to_the_minimum_wage() -> None:
    c = graded_claim(grade=4, care="none", wage="2400.00")
    lines = ledger(c.facts, [P1], now=at("2026-05-20"))
    # 0.75 × 2400.00 = 1800.00 < the minimum monthly wage 2300.00: the fund pays 2300.00.
    [allowance] = by(lines, "disability_allowance")
    assert allowance.amount == D("2300.00") and allowance.payer == "fund"
    assert "topped up by 500.00" in allowance.explain["notes"][0]
    assert amounts(lines, "disability_grant") == {"2026-05-04": D("50400.00")}  # 21 × 2400.00


def test_allowance_ends_at_retirement_and_says_why() -> None:
    c = ClaimFacts(occurred_on="2026-01-10", birth_date="1966-08-17", sex="male")
    c.recognized("2026-02-01")
    c.wage("6000.00", "2026-02-01")
    c.grade(2, "2026-05-04", recorded="2026-05-04")
    lines = ledger(c.facts, [P1], now=at("2026-11-02"))
    # Retires on 2026-08-17 (60): August is the last month (entitled on its first day); 0.85 × 6000.00.
    assert amounts(lines, "disability_allowance") == {m: D("5100.00") for m in ("2026-05", "2026-06", "2026-07", "2026-08")}
    said = notes(c.facts, [P1], "2026-11")
    assert any("retirement on 2026-08-17" in n and "pension is not known" in n for n in said)


def test_grade_5_employer_allowance_while_employed_then_both_grants_at_termination() -> None:
    c = graded_claim(grade=5, care="none", wage="3000.00")
    c.terminated("2026-08-10", 5)
    lines = ledger(c.facts, [P1], now=at("2026-10-05"))
    # R.36: grant 18 × 3000.00 = 54000.00 (fund). While employed without suitable work, the
    # allowance 0.70 × 3000.00 = 2100.00 < 2300.00 → 2300.00 a month, payer employer, from the
    # month after the conclusion (June) through August (employed on its first day); none after the
    # termination. On termination the medical grant 10 × 8000.00 = 80000.00 (fund) and the
    # employment grant 20 × 8000.00 = 160000.00 (employer).
    assert amounts(lines, "disability_grant") == {"2026-05-04": D("54000.00")}
    assert amounts(lines, "disability_allowance_5_6") == {m: D("2300.00") for m in ("2026-06", "2026-07", "2026-08")}
    assert {ln.payer for ln in by(lines, "disability_allowance_5_6")} == {"employer"}
    assert [(ln.amount, ln.payer) for ln in by(lines, "termination_medical_grant")] == [(D("80000.00"), "fund")]
    assert [(ln.amount, ln.payer) for ln in by(lines, "termination_employment_grant")] == [(D("160000.00"), "employer")]
    assert not by(lines, "disability_allowance")


def test_grade_6_allowance_stops_while_suitable_work_is_arranged() -> None:
    c = graded_claim(grade=6, care="none", wage="6000.00")
    c.add("WorkArrangementRecorded", "2026-07-20", arranged=True, effective_from="2026-07-20", grade=6)
    c.add("WorkArrangementRecorded", "2026-10-01", arranged=False, effective_from="2026-10-01", grade=6)
    lines = ledger(c.facts, [P1], now=at("2026-11-03"))
    # 0.60 × 6000.00 = 3600.00 a month (employer). Work arranged from 20 July: July began without
    # it (paid), August and September are not due; the work ends on 1 October: due again.
    assert amounts(lines, "disability_allowance_5_6") == {m: D("3600.00") for m in ("2026-06", "2026-07", "2026-10",
                                                                                     "2026-11")}
    october = [ln for ln in by(lines, "disability_allowance_5_6") if ln.period == "2026-10"][0]
    assert c.facts[-1].event_id in october.source_event_ids


def test_grade_5_allowance_arranged_late_recovers_the_months_already_owed() -> None:
    c = graded_claim(grade=5, care="none", wage="4000.00")
    c.add("WorkArrangementRecorded", "2026-09-10", arranged=True, effective_from="2026-08-01", grade=5)
    lines = ledger(c.facts, [P1], now=at("2026-09-15"))
    # 0.70 × 4000.00 = 2800.00 (employer) for June–August as first known; the arrangement from
    # 1 August, learned on 10 September, takes August and September back by adjustment lines.
    aug = [ln.amount for ln in by(lines, "disability_allowance_5_6") if ln.period == "2026-08"]
    assert aug == [D("2800.00"), D("-2800.00")]
    assert sum(ln.amount for ln in by(lines, "disability_allowance_5_6")) == D("5600.00")  # June and July


def test_grade_5_allowance_ends_at_retirement() -> None:
    c = ClaimFacts(occurred_on="2026-01-10", birth_date="1966-08-17", sex="male")
    c.recognized("2026-02-01")
    c.wage("5000.00", "2026-02-01")
    c.grade(5, "2026-05-04")
    lines = ledger(c.facts, [P1], now=at("2026-11-02"))
    # 0.70 × 5000.00 = 3500.00 from June; retires 2026-08-17: August is the last month.
    assert amounts(lines, "disability_allowance_5_6") == {m: D("3500.00") for m in ("2026-06", "2026-07", "2026-08")}


def test_death_in_the_accident_survivors_capped_and_a_child_ageing_out() -> None:
    c = ClaimFacts(kind="death", occurred_on="2026-02-03")
    c.died("2026-02-03", recorded="2026-02-04")
    c.recognized("2026-02-20")
    c.wage("7000.00", "2026-02-20")
    c.dependent(1, "spouse", "1985-01-01", "2026-02-04")
    c.dependent(2, "child", "2008-04-15", "2026-02-04", qualifies_until="2026-04-15")
    c.dependent(3, "child", "2012-01-01", "2026-02-04")
    c.dependent(4, "child", "2014-01-01", "2026-02-04", orphan=True)
    lines = ledger(c.facts, [P1], now=at("2026-05-02"))
    # R.39: funeral 6 × 8000.00 = 48000.00; death grant 20 × 51821.00 = 1036420.00, both to the spouse.
    assert [(ln.amount, ln.payee) for ln in by(lines, "funeral_grant")] == [(D("48000.00"), "dependent:c1-d1")]
    assert [ln.amount for ln in by(lines, "death_grant")] == [D("1036420.00")]
    pension = {(ln.period, ln.payee[-2:]): ln.amount for ln in by(lines, "survivor_pension")}
    # March and April: 40 + 30 + 30 + 40 = 140% > 100%: × 100/140 → 2000.00, 1500.00, 1500.00, 2000.00.
    assert [pension[("2026-03", d)] for d in ("d1", "d2", "d3", "d4")] == [D("2000.00"), D("1500.00"),
                                                                         D("1500.00"), D("2000.00")]
    # May: the first child turned 18 on 2026-04-15: 40 + 30 + 40 = 110%: 7000.00 split 40 : 30 : 40 —
    # 2545.4545…, 1909.0909…, 2545.4545… rounded down make 6999.99; the fen left goes to the largest
    # remainder, a tie of the spouse and the orphan, so to the one listed first (RULES.md "Splitting money").
    assert ("2026-05", "d2") not in pension
    assert [pension[("2026-05", d)] for d in ("d1", "d3", "d4")] == [D("2545.46"), D("1909.09"), D("2545.45")]
    assert sum(pension[("2026-05", d)] for d in ("d1", "d3", "d4")) == D("7000.00")
    capped = next(ln for ln in by(lines, "survivor_pension") if ln.period == "2026-03")
    assert "over the cap" in capped.explain["notes"][0]


def test_late_employer_application_days_are_the_employers() -> None:
    # Injured 2025-01-10, the employer applied 2025-09-10: 213 days past its 30-day limit, so the
    # employer bears the benefits of 2025-02-10..2025-09-10 (R.17).
    c = ClaimFacts(occurred_on="2025-01-10", applied_on="2025-09-10", late_days=212, recorded="2025-09-10")
    c.recognized("2025-09-20")
    c.wage("6000.00", "2025-09-20")
    c.grade(3, "2025-08-01", care_level="none", recorded="2025-09-25")
    lines = ledger(c.facts, [P1], now=at("2025-10-05"))
    grant = by(lines, "disability_grant")
    assert [(ln.amount, ln.payer) for ln in grant] == [(D("138000.00"), "employer")]  # 23 × 6000.00
    assert "R.17" in grant[0].explain["notes"][-1]
    sept = {ln.payer: ln.amount for ln in by(lines, "disability_allowance") if ln.period == "2025-09"}
    # September: 10 of 30 days are the employer's: 4800.00 × 10 / 30 = 1600.00; the fund 3200.00.
    assert sept == {"employer": D("1600.00"), "fund": D("3200.00")}
    assert {ln.payer for ln in by(lines, "disability_allowance") if ln.period == "2025-08"} == {"employer"}
    assert {ln.payer for ln in by(lines, "disability_allowance") if ln.period == "2025-10"} == {"fund"}


def test_uninsured_employer_owes_everything_itself() -> None:
    c = graded_claim()
    c.add("EmployerEnrolled", "2025-01-01", hour=1, employer_id="emp-1", enrolled_on="2026-03-01")
    lines = ledger(c.facts, [P1], now=at("2026-05-20"))
    assert lines and {ln.payer for ln in lines} == {"employer"}
    assert any("R.62" in n for n in by(lines, "disability_grant")[0].explain["notes"])


# ---- retroactive cases: adjustment lines, never an edit -----------------------------------

def test_reappraisal_recorded_late_adjusts_the_months_since_its_date() -> None:
    c = graded_claim(grade=3, care="none", wage="6000.00")
    before = ledger(c.facts, [P1], now=at("2027-07-20"))
    reappraisal = c.grade(2, "2027-06-01", recorded="2027-08-10", reappraisal=True)
    after = ledger(c.facts, [P1], now=at("2027-08-20"))
    assert {ln.line_id for ln in before} <= {ln.line_id for ln in after}  # the past stays as it was
    adjustments = [ln for ln in by(after, "disability_allowance") if ln.adjusts]
    # From June 2027 grade 2: 0.85 × 6000.00 = 5100.00 instead of 4800.00: +300.00 for June, July and
    # August (the month it is learned in had begun, so its line existed already).
    assert {(ln.period, ln.amount) for ln in adjustments} == {(m, D("300.00")) for m in ("2027-06", "2027-07", "2027-08")}
    june = next(ln for ln in adjustments if ln.period == "2027-06")
    assert june.adjusts == tuple(ln.line_id for ln in before if ln.kind == "disability_allowance" and ln.period == "2027-06")
    assert reappraisal.event_id in june.reason and reappraisal.event_id in june.source_event_ids
    assert amounts([ln for ln in after if not ln.adjusts], "disability_allowance")["2027-08"] == D("4800.00")
    assert len(by(after, "disability_grant")) == 1  # the one-off grant is not paid again


def test_wage_correction_rederives_every_line_of_the_insured_wage() -> None:
    c = graded_claim(grade=3, care="partial", wage="6000.00")
    c.wage("6500.00", "2026-07-15", reason="wage_corrected")
    lines = ledger(c.facts, [P1], now=at("2026-07-20"))
    adj = {(ln.kind, ln.period): ln.amount for ln in lines if ln.adjusts}
    # grant 23 × 500.00 = 11500.00 more; allowance 0.80 × 500.00 = 400.00 more for May and June;
    # care depends on the average wage, not the worker's: unchanged. July had begun: adjusted too.
    assert adj == {("disability_grant", "2026-05-04"): D("11500.00"), ("disability_allowance", "2026-05"): D("400.00"),
                   ("disability_allowance", "2026-06"): D("400.00"), ("disability_allowance", "2026-07"): D("400.00")}
    assert {d.period: d.calc.amount for d in derive(c.facts, [P1], "2026-07")
            if d.kind == "disability_allowance"}["2026-07"] == D("5200.00")


def test_policy_published_with_a_past_effective_date_reindexes_from_that_date() -> None:
    c = graded_claim(grade=4, care="full", wage="2400.00")
    p2 = policy(effective_from="2026-06-01", version=2, recorded="2026-08-03", minimum_monthly_wage="2500.00",
                average_monthly_wage="8400.00")
    lines = ledger(c.facts, [P1, p2], now=at("2026-08-20"))
    adj = {(ln.kind, ln.period): ln.amount for ln in lines if ln.adjusts}
    # R.40 from June: the minimum wage 2500.00 (+200.00 a month) and care 0.50 × 8400.00 = 4200.00 (+200.00).
    assert adj == {(k, m): D("200.00") for k in ("disability_allowance", "care_allowance")
                   for m in ("2026-06", "2026-07", "2026-08")}
    ref = next(ln for ln in lines if ln.adjusts).policy_ref
    assert ref == {"region": "440300", "effective_from": "2026-06-01", "version": 2}
    assert all("PolicyPublished 440300 v2" in ln.reason for ln in lines if ln.adjusts)


def test_a_death_recorded_late_recovers_the_allowances_and_pays_survivors_arrears() -> None:
    c = graded_claim(grade=3, care="none", wage="6000.00")
    c.died("2026-07-20", grade_at_death=3, recorded="2026-10-02")
    c.dependent(1, "spouse", "1982-01-01", "2026-10-02")
    lines = ledger(c.facts, [P1], now=at("2026-10-05"))
    recoveries = {ln.period: ln.amount for ln in by(lines, "disability_allowance") if ln.adjusts}
    assert recoveries == {"2026-08": D("-4800.00"), "2026-09": D("-4800.00"), "2026-10": D("-4800.00")}
    pensions = {ln.period: (ln.amount, ln.reason.split(",")[0]) for ln in by(lines, "survivor_pension")}
    # 0.40 × 6000.00 = 2400.00 from August; August and September are arrears.
    assert pensions["2026-08"] == (D("2400.00"), "arrears for 2026-08")
    assert pensions["2026-10"][0] == D("2400.00")
    assert not by(lines, "death_grant")  # R.39: grade 1–4 dying later
    assert "WorkerDied" in next(iter(ln for ln in lines if ln.adjusts)).reason


def test_replay_in_any_fact_order_gives_identical_lines() -> None:
    c = graded_claim(grade=3, care="partial", wage="6000.00")
    c.wage("6500.00", "2026-07-15", reason="wage_corrected")
    c.died("2026-09-20", recorded="2026-10-02")
    c.dependent(1, "spouse", "1982-01-01", "2026-10-02")
    c.dependent(2, "child", "2015-01-01", "2026-10-02")
    pols = [P1, policy(effective_from="2026-06-01", version=2, recorded="2026-08-03", average_monthly_wage="8400.00")]
    reference = ledger(c.facts, pols, now=at("2026-11-20"))
    expected = lines_hash(reference)
    rng = random.Random(5)
    for _ in range(20):
        facts, ps = c.facts[:], pols[:]
        rng.shuffle(facts)
        rng.shuffle(ps)
        again = ledger(facts, ps, now=at("2026-11-20"))
        assert [ln.line_id for ln in again] == [ln.line_id for ln in reference]
        assert lines_hash(again) == expected
    # And the lines sum, per key, to what is owed as known now.
    owed = {d.key: d.calc.amount for d in derive(c.facts, pols, "2026-11")}
    summed: dict = {}
    for ln in reference:
        summed[ln.key] = summed.get(ln.key, D(0)) + ln.amount
    assert {k: v for k, v in summed.items() if v} == owed


# ---- appeals: the decision replaces the disputed one from that one's own date (RULES.md) ----

def appeal_decided(c: ClaimFacts, recorded: str, subject: str, outcome: str, replaces_from: str, **new) -> None:  # noqa: ANN003
    c.add("AppealDecided", recorded, appeal_id=f"{c.claim_id}-a1", subject=subject,
          route="appraisal_committee" if subject == "appraisal" else "reconsideration", outcome=outcome,
          decided_on=recorded, replaces_from=replaces_from, **new)


def test_a_rejection_overturned_makes_every_benefit_since_arrears() -> None:
    c = ClaimFacts(occurred_on="2026-01-10", applied_on="2026-01-20")
    c.add("InjuryRejected", "2026-02-01", decided_on="2026-02-01", basis="R.16")
    assert ledger(c.facts, [P1], now=at("2026-06-05")) == []
    appeal_decided(c, "2026-06-10", "recognition", "overturned", "2026-02-01", decision="recognized")
    c.wage("6200.00", "2026-06-10")
    c.leave("2026-01-10", "2026-03-20", recorded="2026-06-12")
    c.grade(3, "2026-06-20", care_level="none", recorded="2026-06-20")
    lines = ledger(c.facts, [P1], now=at("2026-07-05"))
    # R.33 January–March (22/31, whole, 20/31 of 6200.00), learned in June: arrears, the employer's.
    assert amounts(lines, "treatment_leave_wage") == {"2026-01": D("4400.00"), "2026-02": D("6200.00"),
                                                      "2026-03": D("4000.00")}
    assert all(ln.reason.startswith("arrears for") for ln in by(lines, "treatment_leave_wage"))
    # R.35: 23 × 6200.00 = 142600.00; 0.80 × 6200.00 = 4960.00 for June and July.
    assert amounts(lines, "disability_grant") == {"2026-06-20": D("142600.00")}
    assert amounts(lines, "disability_allowance") == {"2026-06": D("4960.00"), "2026-07": D("4960.00")}


def test_a_revoked_recognition_ends_every_benefit_by_recovery_lines() -> None:
    c = graded_claim()  # grade 3, partial care, 9000.00, concluded 2026-05-04
    before = ledger(c.facts, [P1], now=at("2026-08-05"))
    assert sum(ln.amount for ln in before) == D("207000.00") + 4 * (D("7200.00") + D("2400.00"))
    appeal_decided(c, "2026-08-10", "recognition", "overturned", "2026-02-01", decision="rejected")
    lines = ledger(c.facts, [P1], now=at("2026-08-15"))
    recoveries = [ln for ln in lines if ln.adjusts]
    # Nothing is edited: every line stays, and one recovery line per line takes it back.
    assert {ln.line_id for ln in before} <= {ln.line_id for ln in lines}
    assert len(recoveries) == len(before) and sum(ln.amount for ln in lines) == D("0.00")
    assert all(ln.reason.startswith("recovery") and "AppealDecided" in ln.reason for ln in recoveries)
    assert amounts([ln for ln in recoveries if ln.kind == "disability_grant"], "disability_grant") == {
        "2026-05-04": D("-207000.00")}


def test_the_committee_replaces_the_conclusion_from_its_date_by_adjustment_lines() -> None:
    c = graded_claim(grade=7, care="none")  # 13 × 9000.00 = 117000.00, no allowance for grade 7
    assert amounts(ledger(c.facts, [P1], now=at("2026-06-05")), "disability_grant") == {"2026-05-04": D("117000.00")}
    appeal_decided(c, "2026-06-20", "appraisal", "overturned", "2026-05-04", grade=4, care_level="partial")
    lines = ledger(c.facts, [P1], now=at("2026-07-05"))
    # Grade 4 from 2026-05-04: the grant 21 × 9000.00 = 189000.00, +72000.00 on the 117000.00 paid;
    # the allowance 0.75 × 9000.00 = 6750.00 and partial care 0.30 × 8000.00 = 2400.00 from May —
    # May and June as arrears.
    grant = by(lines, "disability_grant")
    assert [ln.amount for ln in grant] == [D("117000.00"), D("72000.00")]
    assert grant[1].explain["adjustment"]["formula"] == \
        "as known after − as known before = 189000.00 − 117000.00 = 72000.00"
    assert amounts(lines, "disability_allowance") == {m: D("6750.00") for m in ("2026-05", "2026-06", "2026-07")}
    assert amounts(lines, "care_allowance") == {m: D("2400.00") for m in ("2026-05", "2026-06", "2026-07")}
    may = next(ln for ln in by(lines, "disability_allowance") if ln.period == "2026-05")
    assert may.reason.startswith("arrears for 2026-05") and c.facts[-1].event_id in may.source_event_ids


def test_an_upheld_appeal_changes_no_line() -> None:
    c = graded_claim()
    before = ledger(c.facts, [P1], now=at("2026-07-05"))
    appeal_decided(c, "2026-07-10", "appraisal", "upheld", "2026-05-04")
    assert lines_hash(ledger(c.facts, [P1], now=at("2026-07-15"))) == lines_hash(before)
