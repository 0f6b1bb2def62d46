"""Adjudicating a medical bill against the region's medical catalog (R.30). Pure rules.

Each item: an unknown code is rejected; a unit price above the catalog's maximum is approved at
the maximum; only the reimbursable share is approved. Each item's approved amount is rounded
half-up to the fen once; the bill's amount is the exact sum of its items.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from libs.money import round_fen

MAX_ITEMS = 500
MAX_QUANTITY = 10_000
MAX_STAY_DAYS = 3_660  # a bill covers at most ten years in hospital


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    max_unit_price: Decimal
    reimbursable_share: Decimal


@dataclass(frozen=True)
class ItemIn:
    code: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ItemOut:
    code: str
    quantity: int
    unit_price: Decimal
    claimed: Decimal
    approved: Decimal
    reason: str | None


@dataclass(frozen=True)
class ClaimFacts:
    claim_id: str
    status: str  # applied | recognized | deemed | rejected
    occurred_on: date | None
    closed_on: date | None


class Refused(Exception):
    """The bill cannot be adjudicated at all: `field` names what is wrong, `state` says whether
    it is the claim's state (409) rather than the input (422)."""

    def __init__(self, field: str, message: str, state: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.state = field, message, state


def adjudicate_item(item: ItemIn, entry: CatalogEntry | None) -> ItemOut:
    """One line of a bill against the catalog (R.30: only catalog items, at catalog prices)."""
    assert 1 <= item.quantity <= MAX_QUANTITY and item.unit_price >= 0
    claimed = round_fen(item.unit_price * item.quantity)
    if entry is None:
        return ItemOut(item.code, item.quantity, item.unit_price, claimed, Decimal("0.00"), "not_in_catalog")
    assert Decimal(0) <= entry.reimbursable_share <= 1 and entry.max_unit_price >= 0
    capped = item.unit_price > entry.max_unit_price
    price = min(item.unit_price, entry.max_unit_price)
    approved = round_fen(price * item.quantity * entry.reimbursable_share)
    partial = entry.reimbursable_share < 1
    reason = "+".join(r for r, hit in (("price_capped", capped), ("partial_share", partial)) if hit) or None
    return ItemOut(item.code, item.quantity, item.unit_price, claimed, approved, reason)


def adjudicate_items(items: list[ItemIn], catalog: dict[str, CatalogEntry]) -> list[ItemOut]:
    assert 1 <= len(items) <= MAX_ITEMS
    return [adjudicate_item(i, catalog.get(i.code)) for i in items]


def check_stay(claim: ClaimFacts | None, admitted_on: date, discharged_on: date) -> None:
    """The stay must belong to a recognized (or deemed) injury: not before it happened, not after
    the claim closed (R.30 pays the treatment of a work injury, R.14/R.15 decide what one is)."""
    if discharged_on < admitted_on:
        raise Refused("discharged_on", "is before admitted_on")
    if (discharged_on - admitted_on).days > MAX_STAY_DAYS:
        raise Refused("discharged_on", f"a bill covers at most {MAX_STAY_DAYS} days")
    if claim is None:
        raise Refused("claim_id", "no such claim is known to the payments service")
    if claim.status not in ("recognized", "deemed"):
        raise Refused("claim_id", f"the claim is {claim.status}, not recognized or deemed a work injury",
                      state=True)
    if claim.occurred_on is not None and admitted_on < claim.occurred_on:
        raise Refused("admitted_on", f"is before the injury of {claim.occurred_on.isoformat()}")
    if claim.closed_on is not None and admitted_on > claim.closed_on:
        raise Refused("admitted_on", f"is after the claim closed on {claim.closed_on.isoformat()}", state=True)


def rejected_items(out: list[ItemOut]) -> list[dict]:
    return [{"index": n, "code": i.code, "reason": i.reason} for n, i in enumerate(out) if i.reason == "not_in_catalog"]
