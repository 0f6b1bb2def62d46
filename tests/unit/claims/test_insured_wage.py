"""The insured wage (R.64) with worked figures: region's average monthly wage 8000.00, so the
floor is 4800.00 and the cap 24000.00."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from libs.policy import load_national_default
from services.claims.domain.insured_wage import derive_insured_wage, floor_and_cap, months_before

AVG = Decimal("8000.00")
# R.64's national values, as policy data: 60 % and 300 % of the average monthly wage.
FLOOR, CAP = load_national_default().insured_wage_floor_ratio, load_national_default().insured_wage_cap_ratio
INJURY = date(2026, 3, 15)
WINDOW = months_before(INJURY)  # 2025-03 .. 2026-02


def wages(amount: str, periods: list[str] = WINDOW) -> dict[str, Decimal]:
    return {p: Decimal(amount) for p in periods}


def test_window_is_the_twelve_months_before_the_injury_month() -> None:
    assert WINDOW[0] == "2025-03" and WINDOW[-1] == "2026-02" and len(WINDOW) == 12
    assert months_before(date(2026, 1, 1))[-1] == "2025-12"


def test_floor_and_cap() -> None:
    assert (FLOOR, CAP) == (Decimal("0.60"), Decimal("3.00"))
    assert floor_and_cap(AVG, FLOOR, CAP) == (Decimal("4800.00"), Decimal("24000.00"))


def test_a_region_with_its_own_floor_and_cap() -> None:
    # floor 0.70 × 8000.00 = 5600.00 lifts 5000.00; cap 2.00 × 8000.00 = 16000.00 cuts 20000.00.
    assert derive_insured_wage(wages("5000.00"), INJURY, AVG, Decimal("0.70"), Decimal("2.00")).insured_wage == \
        Decimal("5600.00")
    assert derive_insured_wage(wages("20000.00"), INJURY, AVG, Decimal("0.70"), Decimal("2.00")).insured_wage == \
        Decimal("16000.00")


def test_within_the_band() -> None:
    w = derive_insured_wage(wages("9000.00"), INJURY, AVG, FLOOR, CAP)
    assert w.insured_wage == Decimal("9000.00") and len(w.months) == 12 and not w.no_wage_history


def test_low_wage_gets_the_floor() -> None:
    w = derive_insured_wage(wages("3000.00"), INJURY, AVG, FLOOR, CAP)
    assert w.average_wage == Decimal("3000") and w.insured_wage == Decimal("4800.00")
    assert "floor" in w.derivation


def test_high_wage_gets_the_cap() -> None:
    w = derive_insured_wage(wages("30000.00"), INJURY, AVG, FLOOR, CAP)
    assert w.insured_wage == Decimal("24000.00") and "cap" in w.derivation


def test_seven_months_insured_averages_seven() -> None:
    months = WINDOW[5:]  # insured from 2025-08: 7 months on record
    amounts = ["9000.00", "9000.00", "9000.00", "9000.00", "9000.00", "9000.00", "10000.01"]
    w = derive_insured_wage(dict(zip(months, map(Decimal, amounts))), INJURY, AVG, FLOOR, CAP)
    # (6 × 9000.00 + 10000.01) / 7 = 64000.01 / 7 = 9142.858571… → 9142.86, rounded once
    assert len(w.months) == 7
    assert w.insured_wage == Decimal("9142.86")


def test_months_outside_the_window_are_ignored() -> None:
    given = {**wages("9000.00"), "2026-03": Decimal("50000.00"), "2025-02": Decimal("1.00")}
    assert derive_insured_wage(given, INJURY, AVG, FLOOR, CAP).insured_wage == Decimal("9000.00")


def test_no_wage_history_uses_the_floor_and_says_so() -> None:
    w = derive_insured_wage({}, INJURY, AVG, FLOOR, CAP)
    assert w.no_wage_history and w.insured_wage == Decimal("4800.00") and w.months == ()
    assert "no contribution wage" in w.derivation


def test_rounded_once_half_up() -> None:
    # three months 5000.00, 5000.00, 5000.01 → 15000.01 / 3 = 5000.00333… → 5000.00
    w = derive_insured_wage(dict(zip(WINDOW[-3:], map(Decimal, ["5000.00", "5000.00", "5000.01"]))), INJURY, AVG, FLOOR, CAP)
    assert w.insured_wage == Decimal("5000.00")
    # two months 5000.00, 5000.01 → 5000.005 → half-up 5000.01
    w = derive_insured_wage(dict(zip(WINDOW[-2:], map(Decimal, ["5000.00", "5000.01"]))), INJURY, AVG, FLOOR, CAP)
    assert w.insured_wage == Decimal("5000.01")
