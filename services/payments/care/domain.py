"""The fund's care beyond hospital bills (R.30, R.32): referrals out of the region and their
travel costs, rehabilitation plans, assistive devices. Events and aggregates; pure, no I/O.

| aggregate | id | events | decides |
|---|---|---|---|
| Referral | `rfl_…` | ReferralApproved, TravelCostsRecorded | travel costs stay inside the referral's days and transport cap |
| RehabilitationPlan | `rhp_…` | RehabilitationPlanApproved, RehabilitationCharged | nothing charged beyond the budget |
| ClaimDevices | `devices-<claim_id>` | AssistiveDeviceConfigured | no replacement inside the service life |

Payload field names are the contract of docs/events.md; money is a yuan string with two places.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, field_serializer

from libs.events.aggregate import Aggregate
from libs.events.registry import event_type
from libs.money import yuan_str

ZERO = Decimal("0.00")


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)

    @field_serializer("*", when_used="json")
    def _ser(self, value):  # noqa: ANN001, ANN202 - money as a two-place string on the wire
        return yuan_str(value) if isinstance(value, Decimal) else value


# ---- treatment outside the region (R.30) ----------------------------------------------------

@event_type("ReferralApproved")
class ReferralApproved(_Payload):
    referral_id: str
    claim_id: str
    region: str
    employee_id: str | None
    from_date: date
    to_date: date
    destination: str
    destination_region: str | None
    approved_on: date


@event_type("TravelCostsRecorded")
class TravelCostsRecorded(_Payload):
    cost_id: str
    referral_id: str
    claim_id: str
    region: str
    employer_id: str | None
    transport_billed: Decimal
    transport_allowed: Decimal
    days: int
    lodging: Decimal
    food: Decimal
    amount: Decimal
    payer: str
    payee: str
    line_id: str | None  # null when nothing is payable (the cap reached, no days)
    policy_ref: dict


class Referral(Aggregate):
    """An approved referral; its travel costs never pass its days or its transport cap."""

    aggregate_type = "referral"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.approved: ReferralApproved | None = None
        self.transport_allowed = ZERO
        self.days = 0

    @property
    def span_days(self) -> int:
        assert self.approved is not None
        return (self.approved.to_date - self.approved.from_date).days + 1

    def approve(self, e: ReferralApproved, on: date) -> None:
        assert self.approved is None, "a referral is approved once"
        assert e.from_date <= e.to_date
        self.trigger(e, on)

    def record_costs(self, e: TravelCostsRecorded, on: date) -> None:
        assert self.approved is not None
        assert self.days + e.days <= self.span_days, "travel days beyond the referral"
        assert e.amount == e.transport_allowed + e.lodging + e.food and e.transport_allowed <= e.transport_billed
        self.trigger(e, on)

    def apply_ReferralApproved(self, e: ReferralApproved) -> None:
        self.approved = e

    def apply_TravelCostsRecorded(self, e: TravelCostsRecorded) -> None:
        self.transport_allowed += e.transport_allowed
        self.days += e.days


# ---- rehabilitation under an approved plan (R.30) -------------------------------------------

@event_type("RehabilitationPlanApproved")
class RehabilitationPlanApproved(_Payload):
    plan_id: str
    claim_id: str
    region: str
    provider_id: str
    start: date
    end: date
    budget: Decimal
    approved_on: date


@event_type("RehabilitationCharged")
class RehabilitationCharged(_Payload):
    """A provider's bill adjudicated against the plan: what it approved, and the plan's spending after."""

    plan_id: str
    bill_id: str
    claim_id: str
    approved: Decimal
    spent: Decimal


class RehabilitationPlan(Aggregate):
    """A plan the agency approved: a provider, a period and a budget nothing is charged beyond."""

    aggregate_type = "rehabilitation_plan"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.approved: RehabilitationPlanApproved | None = None
        self.spent = ZERO

    @property
    def remaining(self) -> Decimal:
        assert self.approved is not None
        return self.approved.budget - self.spent

    def approve(self, e: RehabilitationPlanApproved, on: date) -> None:
        assert self.approved is None and e.start <= e.end and e.budget > 0
        self.trigger(e, on)

    def charge(self, bill_id: str, amount: Decimal, on: date) -> None:
        assert self.approved is not None and 0 < amount <= self.remaining, "a charge beyond the plan's budget"
        self.trigger(RehabilitationCharged(plan_id=self.id, bill_id=bill_id, claim_id=self.approved.claim_id,
                                           approved=amount, spent=self.spent + amount), on)

    def apply_RehabilitationPlanApproved(self, e: RehabilitationPlanApproved) -> None:
        self.approved = e

    def apply_RehabilitationCharged(self, e: RehabilitationCharged) -> None:
        self.spent = e.spent


# ---- assistive devices (R.32) ---------------------------------------------------------------

@event_type("AssistiveDeviceConfigured")
class AssistiveDeviceConfigured(_Payload):
    configuration_id: str
    claim_id: str
    region: str
    employer_id: str | None
    device_code: str
    name: str
    confirmed_on: date  # the appraisal committee's confirmation of the need
    supplier_id: str
    standard_price: Decimal
    service_life_months: int
    replaceable_from: date  # confirmed_on + the service life: no replacement before it
    replaces: str | None  # the configuration of the same device it replaces
    payer: str
    line_id: str
    policy_ref: dict


def devices_id(claim_id: str) -> str:
    return f"devices-{claim_id}"


class ClaimDevices(Aggregate):
    """A claim's assistive devices: each code's latest configuration, so a replacement inside
    the service life is refused whatever the concurrency."""

    aggregate_type = "claim_devices"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.latest: dict[str, AssistiveDeviceConfigured] = {}

    def configure(self, e: AssistiveDeviceConfigured, on: date) -> None:
        before = self.latest.get(e.device_code)
        assert before is None or e.confirmed_on >= before.replaceable_from, "a replacement inside the service life"
        assert e.replaces == (before.configuration_id if before else None) and e.standard_price > 0
        self.trigger(e, on)

    def apply_AssistiveDeviceConfigured(self, e: AssistiveDeviceConfigured) -> None:
        self.latest[e.device_code] = e
