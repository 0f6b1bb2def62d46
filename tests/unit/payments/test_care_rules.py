"""The care rules (R.30, R.32), pure, with figures worked by hand."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.payments.care import rules

RATES = {"transport_cap": D("3000.00"), "lodging_daily": D("300.00"), "food_daily": D("100.00")}


def test_travel_costs_pay_transport_as_billed_and_days_at_the_daily_rates() -> None:
    # 860.50 + 4 × (300.00 + 100.00) = 860.50 + 1600.00 = 2460.50
    calc = rules.travel_costs(D("860.50"), 4, **RATES, allowed_before=D("0.00"), days_before=0, referral_days=10)
    assert calc.amount == D("2460.50") and calc.article == "R.30" and calc.notes == ()


def test_transport_is_capped_per_referral_counting_what_was_allowed_before() -> None:
    # 3000.00 − 2800.00 = 200.00 left: min(500.00, 200.00) + 0 days = 200.00
    calc = rules.travel_costs(D("500.00"), 0, **RATES, allowed_before=D("2800.00"), days_before=3, referral_days=3)
    assert calc.amount == D("200.00")
    assert calc.notes == ("transport capped: 300.00 of the bill is beyond the cap",)


def test_the_days_never_pass_the_referrals() -> None:
    assert rules.travel_costs(D("0"), 2, **RATES, allowed_before=D("0"), days_before=8,
                              referral_days=10).amount == D("800.00")  # exactly the last two days
    with pytest.raises(rules.Refused) as caught:
        rules.travel_costs(D("0"), 3, **RATES, allowed_before=D("0"), days_before=8, referral_days=10)
    assert caught.value.field == "days"
