"""Each benefit rule with a worked figure (RULES.md; national default levels)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.payments.entitlements import rules
from services.payments.entitlements.rules import Survivor


def test_treatment_leave_wage_full_month_and_prorated_days() -> None:
    assert rules.treatment_leave_wage(D("6000.00"), 31, 31).amount == D("6000.00")
    # 22 days of a 31-day January: 6000.00 × 22 / 31 = 4258.0645… → 4258.06
    calc = rules.treatment_leave_wage(D("6000.00"), 22, 31)
    assert calc.amount == D("4258.06")
    assert calc.formula == "insured_wage × days / days_in_month = 6000.00 × 22 / 31 = 4258.06"


def test_disability_grant_months_by_grade() -> None:
    calc = rules.disability_grant(D("6000.00"), 3, 23)  # R.35: 23 × 6000.00
    assert calc.amount == D("138000.00") and calc.article == "R.35"
    assert rules.disability_grant(D("6000.00"), 7, 13).amount == D("78000.00")


def test_disability_allowance_ratio_and_minimum_wage_top_up() -> None:
    calc = rules.disability_allowance(D("6000.00"), 3, D("0.80"), D("2300.00"))
    assert calc.amount == D("4800.00") and calc.formula == "insured_wage × ratio(grade 3) = 6000.00 × 0.80 = 4800.00"
    # grade 4 at 2400.00: 0.75 × 2400.00 = 1800.00, below the minimum 2300.00: the fund tops up 500.00
    low = rules.disability_allowance(D("2400.00"), 4, D("0.75"), D("2300.00"))
    assert low.amount == D("2300.00")
    assert "topped up by 500.00" in low.notes[0]


def test_care_allowance_of_the_regional_average_wage() -> None:
    assert rules.care_allowance(D("8000.00"), "full", D("0.50")).amount == D("4000.00")
    assert rules.care_allowance(D("8000.00"), "partial", D("0.30")).amount == D("2400.00")


def test_termination_funeral_and_death_grants() -> None:
    assert rules.termination_grant("termination_medical_grant", D("8000.00"), 7, 6).amount == D("48000.00")
    assert rules.funeral_grant(D("8000.00"), 6).amount == D("48000.00")
    assert rules.death_grant(D("51821.00"), 20).amount == D("1036420.00")
    assert rules.death_grant_due("accident", 3) is False  # R.39: grade 1–4 dying later
    assert rules.death_grant_due("accident", 5) is True
    assert rules.death_grant_due("death", None) is True


def test_survivor_pensions_within_the_cap() -> None:
    out = rules.survivor_pensions(D("6000.00"), [Survivor("s", "spouse", False), Survivor("c", "child", False)],
                                  D("0.40"), D("0.30"), D("0.10"), D("1.00"))
    assert out["s"].amount == D("2400.00") and out["c"].amount == D("1800.00")


def test_survivor_pensions_over_the_cap_scale_down() -> None:
    # spouse 40 + child 30 + child 30 + orphan child 40 = 140% > 100%: each × 100/140.
    survivors = [Survivor("s", "spouse", False), Survivor("c1", "child", False), Survivor("c2", "child", False),
                 Survivor("c3", "child", True)]
    out = rules.survivor_pensions(D("7000.00"), survivors, D("0.40"), D("0.30"), D("0.10"), D("1.00"))
    # 7000 × 0.40 / 1.40 = 2000.00; 7000 × 0.30 / 1.40 = 1500.00; 7000 × 0.40 / 1.40 = 2000.00
    assert [out[k].amount for k in ("s", "c1", "c2", "c3")] == [D("2000.00"), D("1500.00"), D("1500.00"), D("2000.00")]
    assert sum(c.amount for c in out.values()) == D("7000.00")
    assert "over the cap" in out["s"].notes[0]


def test_retirement_date_by_sex_and_leap_day() -> None:
    assert rules.retirement_date(date(1966, 5, 17), "male", 60, 55) == date(2026, 5, 17)
    assert rules.retirement_date(date(1972, 2, 29), "female", 60, 55) == date(2027, 2, 28)
