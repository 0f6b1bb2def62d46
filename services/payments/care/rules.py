"""The rules of the fund's care beyond hospital bills: one small pure function per rule, each
naming its article. Every policy figure is passed in from the policy in force; each returns a
`Calc` (entitlements.rules) whose formula carries the values, so a line is recomputable by hand.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from libs.money import round_fen, yuan_str

from services.claims.domain.deadlines import add_months  # pure: the same month arithmetic as the claims' deadlines

from ..entitlements.rules import Calc
from ..payouts.adjudication import CatalogEntry, ItemIn, ItemOut, adjudicate_item

MAX_REFERRAL_DAYS = 366  # a referral covers at most a year away; a longer stay is a new referral


class Refused(Exception):
    """The request breaks a rule: `field` names what is wrong (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _y(amount: Decimal) -> str:
    return yuan_str(amount)


def travel_costs(transport_billed: Decimal, days: int, *, transport_cap: Decimal, lodging_daily: Decimal,
                 food_daily: Decimal, allowed_before: Decimal, days_before: int, referral_days: int) -> Calc:
    """R.30: treatment outside the region on an approved referral. Transport as billed, up to
    the policy's cap for the referral (what earlier claims of the same referral were allowed
    counts against it); lodging and food at the policy's daily rates for the days away, which
    together never pass the referral's days."""
    if days < 0:
        raise Refused("days", "must not be negative")
    if days_before + days > referral_days:
        raise Refused("days", f"the referral covers {referral_days} days, {days_before} already claimed: "
                              f"at most {referral_days - days_before} more")
    assert transport_billed >= 0 and Decimal(0) <= allowed_before <= transport_cap
    room = transport_cap - allowed_before
    transport = min(transport_billed, room)
    lodging = round_fen(lodging_daily * days)
    food = round_fen(food_daily * days)
    amount = round_fen(transport + lodging + food)
    formula = (f"min(transport, transport_cap − allowed_before) + days × (lodging_daily + food_daily) = "
               f"min({_y(transport_billed)}, {_y(transport_cap)} − {_y(allowed_before)}) + {days} × "
               f"({_y(lodging_daily)} + {_y(food_daily)}) = {_y(transport)} + {_y(lodging + food)} = {_y(amount)}")
    inputs = {"transport": _y(transport_billed), "out_of_region.transport_cap": _y(transport_cap),
              "allowed_before": _y(allowed_before), "days": str(days), "days_before": str(days_before),
              "referral_days": str(referral_days), "out_of_region.lodging_daily": _y(lodging_daily),
              "out_of_region.food_daily": _y(food_daily), "transport_allowed": _y(transport),
              "lodging": _y(lodging), "food": _y(food)}
    notes = (f"transport capped: {_y(transport_billed - transport)} of the bill is beyond the cap",) \
        if transport < transport_billed else ()
    return Calc(amount, formula, inputs, "R.30", notes)


MAX_PLAN_DAYS = 731  # a plan covers at most two years; a longer course is a new plan


@dataclass(frozen=True)
class PlanCharge:
    items: list[ItemOut]
    approved: Decimal
    calc: Calc


def _with(reason: str | None, more: str) -> str:
    return f"{reason}+{more}" if reason else more


def adjudicate_rehabilitation(items: Sequence[ItemIn], days: Sequence[date], catalog: Mapping[str, CatalogEntry], *,
                              plan_start: date, plan_end: date, budget: Decimal, spent_before: Decimal) -> PlanCharge:
    """R.30: rehabilitation at an agreement provider, under the plan the agency approved. Each item
    as a medical bill's (the rehabilitation catalog's price ceiling and reimbursable share); an
    item on a day outside the plan's period pays nothing; items are charged in the bill's order
    against what remains of the budget, and the item that reaches it pays only the remainder."""
    assert len(items) == len(days) and Decimal(0) <= spent_before <= budget
    remaining = budget - spent_before
    outs: list[ItemOut] = []
    for item, day in zip(items, days):
        out = adjudicate_item(item, catalog.get(item.code))
        if out.reason != "not_in_catalog":
            if not plan_start <= day <= plan_end:
                out = replace(out, approved=Decimal("0.00"), reason=_with(out.reason, "outside_plan_period"))
            elif out.approved > remaining:
                out = replace(out, approved=remaining, reason=_with(out.reason, "beyond_plan_budget"))
            remaining -= out.approved
        outs.append(out)
    approved = sum((o.approved for o in outs), Decimal("0.00"))
    assert approved <= budget - spent_before
    parts = " + ".join(_y(o.approved) for o in outs)
    formula = (f"sum over the items in the rehabilitation catalog and the plan's period of "
               f"min(unit_price, max_unit_price) × quantity × reimbursable_share, up to budget − spent_before = "
               f"{_y(budget)} − {_y(spent_before)} = {_y(budget - spent_before)}: {parts} = {_y(approved)}")
    inputs = {"plan.start": plan_start.isoformat(), "plan.end": plan_end.isoformat(), "plan.budget": _y(budget),
              "spent_before": _y(spent_before)}
    for n, (o, day) in enumerate(zip(outs, days)):
        entry = catalog.get(o.code)
        ceiling = f"{_y(entry.max_unit_price)} × share {entry.reimbursable_share}" if entry else "not in the catalog"
        inputs[f"items[{n}]"] = (f"{o.code} on {day.isoformat()}: {o.quantity} × {_y(o.unit_price)} "
                                 f"(ceiling {ceiling}) → {_y(o.approved)}" + (f" ({o.reason})" if o.reason else ""))
    return PlanCharge(outs, approved, Calc(approved, formula, inputs, "R.30"))


def assistive_device(code: str, name: str | None, standard_price: Decimal | None, service_life_months: int | None,
                     confirmed_on: date, replaceable_from: date | None) -> tuple[Calc, date]:
    """R.32: a device the appraisal committee confirmed the worker needs, at the standard price of
    the region's device catalog (paid to the supplier); a replacement of the same device not
    before the previous one's service life has run. Returns the amount and the day this one may
    be replaced from."""
    if standard_price is None or service_life_months is None:
        raise Refused("device_code", f"{code} is not in the region's device catalog")
    if replaceable_from is not None and confirmed_on < replaceable_from:
        raise Refused("device_code", f"the {code} configured before may be replaced from "
                                     f"{replaceable_from.isoformat()}, after its service life")
    amount = round_fen(standard_price)
    next_from = add_months(confirmed_on, service_life_months)
    formula = f"standard_price({code}) = {_y(amount)}"
    inputs = {"device_code": code, "name": name or "", f"device_catalog[{code}].standard_price": _y(amount),
              f"device_catalog[{code}].service_life_months": str(service_life_months),
              "confirmed_on": confirmed_on.isoformat(), "replaceable_from": next_from.isoformat()}
    notes = (f"replaces the previous {code}, replaceable from {replaceable_from.isoformat()}",) \
        if replaceable_from is not None else ()
    return Calc(amount, formula, inputs, "R.32", notes), next_from
