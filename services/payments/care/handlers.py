"""Commands of the fund's care beyond hospital bills: one function per command, no HTTP here.
Every check runs before the first write; the events, the read-model rows and the fund line are
written in one transaction (a concurrent command on the same aggregate gets a 409).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from libs.money import to_fen, yuan_str
from libs.policy.projection import policy_in_force, policy_ref
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, invalid

from ..payouts.tables import claim_facts
from . import rules
from .domain import Referral, ReferralApproved, TravelCostsRecorded
from .lines import CareLine, record_line
from .tables import referrals

MEDICAL_FAMILY = "medical"  # R.30 treatment: the fund statement's medical expenditure


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def recognized_claim(ctx: ServiceContext, claim_id: str) -> Any:
    """The claim's facts, once the claims service's decision has reached this service (a bounded
    wait): 422 naming `claim_id` if unknown, 409 if it is not a recognized work injury."""
    def lookup(session: Session) -> Any:
        row = session.execute(select(claim_facts).where(claim_facts.c.claim_id == claim_id)).first()
        return row if row is not None and row.status in ("recognized", "deemed") else None

    found = ctx.await_projection(lookup)
    if found is not None:
        return found
    with ctx.session_factory() as session:
        row = session.execute(select(claim_facts).where(claim_facts.c.claim_id == claim_id)).first()
    if row is None:
        raise invalid("claim_id", f"no claim {claim_id} is known to the payments service")
    raise conflict(f"the claim is {row.status}, not recognized or deemed a work injury", field="claim_id")


def _within_claim(claim: Any, field: str, day: date) -> None:
    if claim.occurred_on is not None and day < claim.occurred_on:
        raise invalid(field, f"is before the injury of {claim.occurred_on.isoformat()}")
    if claim.closed_on is not None and day > claim.closed_on:
        raise conflict(f"{field} is after the claim closed on {claim.closed_on.isoformat()}", field=field)


def _policy(session: Session, region: str, on: date) -> Any:
    version = policy_in_force(session, region, on)
    if version is None:
        raise conflict(f"no policy is in force in region {region} on {on.isoformat()}")
    return version


# ---- referrals and travel costs (R.30) ------------------------------------------------------

@dataclass(frozen=True)
class ApproveReferral:
    claim_id: str
    from_date: date
    to_date: date
    destination: str
    destination_region: str | None


def approve_referral(ctx: ServiceContext, principal: Principal, cmd: ApproveReferral) -> dict[str, Any]:
    if cmd.to_date < cmd.from_date:
        raise invalid("to_date", "is before from_date")
    span = (cmd.to_date - cmd.from_date).days + 1
    if span > rules.MAX_REFERRAL_DAYS:
        raise invalid("to_date", f"a referral covers at most {rules.MAX_REFERRAL_DAYS} days")
    claim = recognized_claim(ctx, cmd.claim_id)
    _within_claim(claim, "from_date", cmd.from_date)
    if cmd.destination_region is not None and cmd.destination_region == claim.region:
        raise invalid("destination_region", f"is the claim's own region {claim.region}: no referral is needed")
    now = _now()
    referral_id = _new_id("rfl")
    event = ReferralApproved(
        referral_id=referral_id, claim_id=cmd.claim_id, region=claim.region, employee_id=claim.employee_id,
        from_date=cmd.from_date, to_date=cmd.to_date, destination=cmd.destination,
        destination_region=cmd.destination_region, approved_on=now.date())
    with ctx.uow(principal) as uow:
        referral = Referral(referral_id)
        referral.approve(event, now.date())
        [envelope] = uow.save(referral)
        uow.session.execute(insert(referrals).values(
            referral_id=referral_id, claim_id=cmd.claim_id, region=claim.region, from_date=cmd.from_date,
            to_date=cmd.to_date, destination=cmd.destination, destination_region=cmd.destination_region,
            approved_on=now.date(), transport_allowed_fen=0, days_claimed=0, event_id=str(envelope.event_id)))
    return referral_view_of(event, Decimal("0.00"), 0)


def referral_view_of(e: ReferralApproved, transport_allowed: Decimal, days: int) -> dict[str, Any]:
    return {"referral_id": e.referral_id, "claim_id": e.claim_id, "status": "approved",
            "from_date": e.from_date.isoformat(), "to_date": e.to_date.isoformat(), "destination": e.destination,
            "destination_region": e.destination_region, "approved_on": e.approved_on.isoformat(),
            "days": (e.to_date - e.from_date).days + 1, "days_claimed": days,
            "transport_allowed": yuan_str(transport_allowed)}


def referral_view(row: Any) -> dict[str, Any]:
    return {"referral_id": row.referral_id, "claim_id": row.claim_id, "status": "approved",
            "from_date": row.from_date.isoformat(), "to_date": row.to_date.isoformat(),
            "destination": row.destination, "destination_region": row.destination_region,
            "approved_on": row.approved_on.isoformat(), "days": (row.to_date - row.from_date).days + 1,
            "days_claimed": row.days_claimed, "transport_allowed": yuan_str(int(row.transport_allowed_fen))}


@dataclass(frozen=True)
class RecordTravelCosts:
    claim_id: str
    referral_id: str
    transport: Decimal
    days: int


def record_travel_costs(ctx: ServiceContext, principal: Principal, cmd: RecordTravelCosts) -> dict[str, Any]:
    """R.30: the fund's line for a referral's travel: transport up to the cap, days × daily rates."""
    claim = recognized_claim(ctx, cmd.claim_id)
    with ctx.session_factory() as session:
        row = session.execute(select(referrals).where(referrals.c.referral_id == cmd.referral_id)).first()
        if row is None or row.claim_id != cmd.claim_id:
            raise invalid("referral_id", f"no referral {cmd.referral_id} was approved for claim {cmd.claim_id}")
        version = _policy(session, claim.region, row.from_date)
    doc = version.document
    rates = doc.out_of_region
    now = _now()
    cost_id = _new_id("trc")
    with ctx.uow(principal) as uow:
        referral = uow.load(Referral, cmd.referral_id)
        assert referral is not None and referral.approved is not None
        try:
            calc = rules.travel_costs(
                cmd.transport, cmd.days, transport_cap=rates.transport_cap, lodging_daily=rates.lodging_daily,
                food_daily=rates.food_daily, allowed_before=referral.transport_allowed, days_before=referral.days,
                referral_days=referral.span_days)
        except rules.Refused as exc:
            raise invalid(exc.field, exc.message) from None
        transport_allowed = Decimal(calc.inputs["transport_allowed"])
        payee = f"employee:{claim.employee_id}"
        line_id = f"out_of_region-{cost_id}" if calc.amount > 0 else None
        event = TravelCostsRecorded(
            cost_id=cost_id, referral_id=cmd.referral_id, claim_id=cmd.claim_id, region=claim.region,
            employer_id=claim.employer_id, transport_billed=cmd.transport, transport_allowed=transport_allowed,
            days=cmd.days, lodging=Decimal(calc.inputs["lodging"]), food=Decimal(calc.inputs["food"]),
            amount=calc.amount, payer=doc.payer("out_of_region"), payee=payee, line_id=line_id,
            policy_ref=policy_ref(version))
        referral.record_costs(event, now.date())
        [envelope] = uow.save(referral)
        uow.session.execute(update(referrals).where(referrals.c.referral_id == cmd.referral_id).values(
            transport_allowed_fen=to_fen(referral.transport_allowed), days_claimed=referral.days))
        if line_id is not None:
            approved = referral.approved
            record_line(uow.session, CareLine(
                line_id=line_id, claim_id=cmd.claim_id, employer_id=claim.employer_id, region=claim.region,
                kind="out_of_region", family=MEDICAL_FAMILY, start=approved.from_date, end=approved.to_date,
                amount=calc.amount, payer=event.payer, payee=payee,
                reason=f"travel costs {cost_id} of referral {cmd.referral_id} to {approved.destination}",
                calc=calc, policy_ref=event.policy_ref, source_event_ids=(row.event_id, str(envelope.event_id)),
                extra={"referral": referral_view_of(approved, referral.transport_allowed, referral.days),
                       "input_sources": {"transport": str(envelope.event_id), "days": str(envelope.event_id),
                                         "referral_days": row.event_id,
                                         "allowed_before": f"TravelCostsRecorded of referral {cmd.referral_id}",
                                         "out_of_region": f"policy {policy_ref(version)}"}}), now)
    return {"cost_id": cost_id, "referral_id": cmd.referral_id, "claim_id": cmd.claim_id, "line_id": line_id,
            "transport": yuan_str(cmd.transport), "transport_allowed": yuan_str(transport_allowed),
            "days": cmd.days, "lodging": yuan_str(event.lodging), "food": yuan_str(event.food),
            "amount": yuan_str(calc.amount), "payer": event.payer, "payee": payee, "formula": calc.formula,
            "policy_ref": event.policy_ref, "transport_cap_remaining":
                yuan_str(rates.transport_cap - referral.transport_allowed), "days_remaining":
                referral.span_days - referral.days}


