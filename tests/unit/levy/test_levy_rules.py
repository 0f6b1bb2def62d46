"""The levy's rules with worked figures (RULES.md "Contributions", SIL.86, 人社部发〔2015〕71号)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from libs.policy.resolve import load_national_default
from services.levy.domain.rules import (
    clamp_multiplier,
    contribution,
    due_date,
    employed_in_month,
    frequency_per_mille,
    late_fee,
    loss_ratio,
    overdue_days,
    parse_period,
    period_bounds,
    rate_in_force,
    review_years,
)

DOC = load_national_default()


def test_rate_is_base_rate_times_the_floating_step() -> None:
    assert DOC.base_rate(4) == D("0.0090")
    assert rate_in_force(DOC.base_rate(4), D("1.20")) == D("0.010800")
    assert rate_in_force(DOC.base_rate(1), D("1.00")) == D("0.0020")


def test_contribution_is_payroll_times_rate_rounded_half_up_once() -> None:
    # 8123.45 + 6000.00 = 14123.45 × 0.0108 = 152.53326 → 152.53
    assert contribution(D("14123.45"), D("0.010800")) == D("152.53")
    # 1002.50 × 0.0020 = 2.005 → half-up 2.01 (banker's rounding would say 2.00)
    assert contribution(D("1002.50"), D("0.0020")) == D("2.01")
    # 10000.50 × 0.0020 = 20.001 → 20.00
    assert contribution(D("10000.50"), D("0.0020")) == D("20.00")
    assert contribution(D("0.00"), D("0.0090")) == D("0.00")


def test_due_date_is_the_due_day_of_the_next_month() -> None:
    assert due_date("2026-03", DOC.due_day) == date(2026, 4, 15)
    assert due_date("2025-12", 15) == date(2026, 1, 15)
    assert due_date("2026-01", 28) == date(2026, 2, 28)


def test_late_fee_days_the_due_date_is_day_zero_the_next_day_is_one() -> None:
    due = date(2026, 4, 15)
    assert overdue_days(due, date(2026, 4, 14)) == 0
    assert overdue_days(due, due) == 0
    assert overdue_days(due, date(2026, 4, 16)) == 1
    assert overdue_days(due, date(2026, 5, 15)) == 30
    # 0.05% of 1000.00 a day: 0.50 a day, 15.00 for 30 days
    assert late_fee(D("1000.00"), D("0.0005"), 1) == D("0.5")
    assert late_fee(D("1000.00"), D("0.0005"), 30) == D("15")
    assert late_fee(D("1000.00"), D("0.0005"), 0) == 0


def test_periods_and_employment_in_a_month() -> None:
    assert parse_period("2026-02") == (2026, 2)
    for bad in ("2026-13", "2026-2", "26-02", "2026-00", "2026/02"):
        with pytest.raises(ValueError):
            parse_period(bad)
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert employed_in_month(date(2026, 3, 31), None, "2026-03")  # hired on the last day
    assert not employed_in_month(date(2026, 4, 1), None, "2026-03")
    assert employed_in_month(date(2025, 1, 1), date(2026, 3, 1), "2026-03")  # separated on the first day
    assert not employed_in_month(date(2025, 1, 1), date(2026, 2, 28), "2026-03")


def test_rate_review_step_choice_and_clamp() -> None:
    review = DOC.rate_review
    assert review_years(2027, review.lookback_years) == (2024, 2026)
    # claims 1200.00 against contributions 10000.00: 0.12; 0 injuries → the first step, 0.50
    ratio = loss_ratio(D("1200.00"), D("10000.00"))
    assert ratio == D("0.1200")
    assert review.step_for(ratio, frequency_per_mille(0, 40)).multiplier == D("0.50")
    # a low loss ratio but 1 injury among 40 workers = 25 per mille → only the last step holds
    assert frequency_per_mille(1, 40) == D("25.0000")
    assert review.step_for(ratio, D("25.0000")).multiplier == D("1.50")
    # loss ratio 0.40 and 2 per mille → 0.80
    assert review.step_for(D("0.40"), D("2.0")).multiplier == D("0.80")
    # class 1 may only float up: 0.50 and 0.80 become 1.00
    assert clamp_multiplier(D("0.50"), DOC.allowed_multipliers(1)) == D("1.00")
    assert clamp_multiplier(D("0.80"), DOC.allowed_multipliers(1)) == D("1.00")
    assert clamp_multiplier(D("1.20"), DOC.allowed_multipliers(1)) == D("1.20")
    assert clamp_multiplier(D("0.50"), DOC.allowed_multipliers(4)) == D("0.50")
    assert clamp_multiplier(D("1.10"), (D("1.00"), D("1.20"))) == D("1.00")  # a tie goes toward 1.00


def test_class_segments_of_a_month_by_the_change_dates() -> None:
    from datetime import date as d

    from services.levy.domain.rules import class_segments

    history = [(d(2024, 12, 1), 4), (d(2025, 2, 15), 8)]
    assert class_segments(history, "2025-01") == [(d(2025, 1, 1), d(2025, 1, 31), 4)]
    assert class_segments(history, "2025-02") == [(d(2025, 2, 1), d(2025, 2, 14), 4), (d(2025, 2, 15), d(2025, 2, 28), 8)]
    assert class_segments(history, "2025-03") == [(d(2025, 3, 1), d(2025, 3, 31), 8)]
    # a status change keeps the class: one run; a change on the 1st starts the month with it
    assert class_segments([(d(2024, 12, 1), 4), (d(2025, 3, 10), 4)], "2025-03") == [(d(2025, 3, 1), d(2025, 3, 31), 4)]
    assert class_segments([(d(2024, 12, 1), 4), (d(2025, 3, 1), 2)], "2025-03") == [(d(2025, 3, 1), d(2025, 3, 31), 2)]


def test_contribution_by_days_rounds_once() -> None:
    from services.levy.domain.rules import contribution_by_days

    # 10000.00 × (0.009 × 14 + 0.019 × 14) / 28 = 140.00; 9999.99 × (0.009 × 10 + 0.019 × 21) / 31
    # = 9999.99 × 0.489 / 31 = 157.7417... → 157.74
    assert contribution_by_days(D("10000.00"), [(14, D("0.009")), (14, D("0.019"))], 28) == D("140.00")
    assert contribution_by_days(D("9999.99"), [(10, D("0.009")), (21, D("0.019"))], 31) == D("157.74")
    assert contribution_by_days(D("10000.00"), [(31, D("0.009"))], 31) == D("90.00")
