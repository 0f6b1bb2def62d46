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


def test_rehabilitation_items_are_held_to_the_plans_period_and_budget() -> None:
    from datetime import date

    from services.payments.payouts.adjudication import CatalogEntry, ItemIn

    catalog = {"PT": CatalogEntry("physiotherapy", D("60.00"), D("1.00")),
               "TN": CatalogEntry("massage", D("45.00"), D("0.80"))}
    items = [ItemIn("PT", 3, D("70.00")), ItemIn("TN", 2, D("45.00")), ItemIn("PT", 1, D("60.00")),
             ItemIn("ZZ", 1, D("10.00")), ItemIn("PT", 5, D("60.00"))]
    days = [date(2026, 4, 2), date(2026, 4, 3), date(2026, 3, 31), date(2026, 4, 4), date(2026, 4, 5)]
    # budget 500.00, 200.00 spent: 300.00 left. PT 3 × 60.00 = 180.00 (120.00 left); TN 2 × 45.00 × 0.80
    # = 72.00 (48.00 left); PT on 31 March: outside the plan, 0.00; ZZ: not in the catalog; PT 5 × 60.00
    # = 300.00 passes what is left: 48.00. Together 180.00 + 72.00 + 48.00 = 300.00: the budget exactly.
    charge = rules.adjudicate_rehabilitation(items, days, catalog, plan_start=date(2026, 4, 1),
                                             plan_end=date(2026, 4, 30), budget=D("500.00"), spent_before=D("200.00"))
    assert [o.approved for o in charge.items] == [D("180.00"), D("72.00"), D("0.00"), D("0.00"), D("48.00")]
    assert [o.reason for o in charge.items] == ["price_capped", "partial_share", "outside_plan_period",
                                                "not_in_catalog", "beyond_plan_budget"]
    assert charge.approved == D("300.00")


def test_a_device_at_its_standard_price_replaceable_after_its_service_life() -> None:
    from datetime import date

    calc, replaceable = rules.assistive_device("FZ-HEAR", "hearing aid", D("3000.00"), 60, date(2026, 1, 31), None)
    assert (calc.amount, calc.article, replaceable) == (D("3000.00"), "R.32", date(2031, 1, 31))
    # a month-end plus months stays in the month: 31 Jan + 1 month = 28 Feb
    assert rules.assistive_device("X", "x", D("1.00"), 1, date(2027, 1, 31), None)[1] == date(2027, 2, 28)
    with pytest.raises(rules.Refused) as caught:
        rules.assistive_device("FZ-HEAR", "hearing aid", D("3000.00"), 60, date(2031, 1, 30), date(2031, 1, 31))
    assert caught.value.field == "device_code"
    assert rules.assistive_device("FZ-HEAR", "hearing aid", D("3000.00"), 60, date(2031, 1, 31),
                                  date(2031, 1, 31))[0].notes == ("replaces the previous FZ-HEAR, replaceable from 2031-01-31",)
    with pytest.raises(rules.Refused):
        rules.assistive_device("NOPE", None, None, None, date(2026, 1, 1), None)
