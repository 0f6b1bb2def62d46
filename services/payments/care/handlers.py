"""Commands of the fund's care beyond hospital bills: one function per command, no HTTP here.
Every check runs before the first write; the events, the read-model rows and the fund line are
written in one transaction (a concurrent command on the same aggregate gets a 409).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from libs.money import to_fen, yuan_str
from libs.policy.projection import policy_in_force, policy_ref
from libs.pooling import region_on
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, invalid

from ..payouts.adjudication import CatalogEntry, ClaimFacts, Refused, check_stay
from ..payouts.domain import AdjudicatedItem, MedicalBill, MedicalBillAdjudicated
from ..payouts.handlers import SubmitBill, may_act_for_hospital
from ..payouts.runs import region_moves
from ..payouts.tables import claim_facts, hospitals, medical_bills
from . import rules
from .domain import (
    AssistiveDeviceConfigured,
    ClaimDevices,
    Referral,
    ReferralApproved,
    RehabilitationPlan,
    RehabilitationPlanApproved,
    TravelCostsRecorded,
    devices_id,
)
from .lines import CareLine, record_line
from .tables import devices, referrals, rehabilitation_plans

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
    """The policy a claim recorded under `region` is priced by on `on`: from a consolidation's
    date, the new region's (RULES.md "Prevention and pooling")."""
    region = region_on(region, on, region_moves(session))
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
    if cmd.destination_region is not None:
        with ctx.session_factory() as session:
            moves = region_moves(session)
        home = region_on(claim.region, cmd.from_date, moves)  # a consolidated pool is one region with its new one
        if region_on(cmd.destination_region, cmd.from_date, moves) == home:
            raise invalid("destination_region", f"is the claim's own region {home} on "
                                                f"{cmd.from_date.isoformat()}: no referral is needed")
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




# ---- rehabilitation (R.30) ------------------------------------------------------------------

@dataclass(frozen=True)
class ApprovePlan:
    claim_id: str
    provider_id: str
    start: date
    end: date
    budget: Decimal


def approve_plan(ctx: ServiceContext, principal: Principal, cmd: ApprovePlan) -> dict[str, Any]:
    """R.30: the agency approves a rehabilitation plan at an agreement provider: its period and budget."""
    if cmd.end < cmd.start:
        raise invalid("end", "is before start")
    if (cmd.end - cmd.start).days + 1 > rules.MAX_PLAN_DAYS:
        raise invalid("end", f"a plan covers at most {rules.MAX_PLAN_DAYS} days")
    if cmd.budget <= 0:
        raise invalid("budget", "must be greater than 0")
    claim = recognized_claim(ctx, cmd.claim_id)
    _within_claim(claim, "start", cmd.start)
    with ctx.session_factory() as session:
        provider = session.execute(select(hospitals).where(hospitals.c.hospital_id == cmd.provider_id)).first()
    if provider is None or provider.kind != "rehabilitation":
        raise invalid("provider_id", f"{cmd.provider_id} is no registered rehabilitation provider")
    now = _now()
    plan_id = _new_id("rhp")
    event = RehabilitationPlanApproved(plan_id=plan_id, claim_id=cmd.claim_id, region=claim.region,
                                       provider_id=cmd.provider_id, start=cmd.start, end=cmd.end, budget=cmd.budget,
                                       approved_on=now.date())
    with ctx.uow(principal) as uow:
        plan = RehabilitationPlan(plan_id)
        plan.approve(event, now.date())
        [envelope] = uow.save(plan)
        uow.session.execute(insert(rehabilitation_plans).values(
            plan_id=plan_id, claim_id=cmd.claim_id, region=claim.region, provider_id=cmd.provider_id,
            start=cmd.start, end=cmd.end, budget_fen=to_fen(cmd.budget), spent_fen=0, approved_on=now.date(),
            event_id=str(envelope.event_id)))
        row = uow.session.execute(select(rehabilitation_plans).where(rehabilitation_plans.c.plan_id == plan_id)).one()
    return plan_view(row)


def plan_view(row: Any) -> dict[str, Any]:
    return {"plan_id": row.plan_id, "claim_id": row.claim_id, "provider_id": row.provider_id, "status": "approved",
            "start": row.start.isoformat(), "end": row.end.isoformat(), "budget": yuan_str(int(row.budget_fen)),
            "spent": yuan_str(int(row.spent_fen)), "remaining": yuan_str(int(row.budget_fen - row.spent_fen)),
            "approved_on": row.approved_on.isoformat()}


def submit_rehabilitation_bill(ctx: ServiceContext, principal: Principal, cmd: SubmitBill, plan_id: str,
                               days: list[date]) -> MedicalBillAdjudicated:
    """A provider's bill under an approved plan: adjudicated against the rehabilitation catalog and
    the plan (nothing outside its period, nothing beyond its budget), its approved amount a fund
    line payable to the provider, paid by the payment run like a hospital's."""
    may_act_for_hospital(principal, cmd.hospital_id)
    claim = recognized_claim(ctx, cmd.claim_id)
    try:
        check_stay(ClaimFacts(claim.claim_id, claim.status, claim.occurred_on, claim.closed_on),
                   cmd.admitted_on, cmd.discharged_on)
    except Refused as exc:
        raise (conflict(exc.message, field=exc.field) if exc.state else invalid(exc.field, exc.message)) from None
    with ctx.session_factory() as session:
        provider = session.execute(select(hospitals).where(hospitals.c.hospital_id == cmd.hospital_id)).first()
        if provider is None or provider.kind != "rehabilitation":
            raise invalid("hospital_id", f"{cmd.hospital_id} is no registered rehabilitation provider")
        row = session.execute(select(rehabilitation_plans).where(rehabilitation_plans.c.plan_id == plan_id)).first()
        if row is None or row.claim_id != cmd.claim_id:
            raise invalid("plan_id", f"no rehabilitation plan {plan_id} was approved for claim {cmd.claim_id}")
        if row.provider_id != cmd.hospital_id:
            raise invalid("hospital_id", f"plan {plan_id} is with provider {row.provider_id}")
        version = _policy(session, claim.region, cmd.admitted_on)
    doc = version.document
    catalog = {code: CatalogEntry(i.name, i.max_unit_price, i.reimbursable_share)
               for code, i in doc.rehabilitation_catalog.items()}
    bill_id = "bill_" + uuid.uuid4().hex[:20]
    now = _now()
    with ctx.uow(principal) as uow:
        plan = uow.load(RehabilitationPlan, plan_id)
        assert plan is not None and plan.approved is not None
        spent_before = plan.spent
        charge = rules.adjudicate_rehabilitation(cmd.items, days, catalog, plan_start=plan.approved.start,
                                                 plan_end=plan.approved.end, budget=plan.approved.budget,
                                                 spent_before=spent_before)
        items = tuple(AdjudicatedItem(code=o.code, quantity=o.quantity, unit_price=o.unit_price, claimed=o.claimed,
                                      approved=o.approved, reason=o.reason, on=day)
                      for o, day in zip(charge.items, days))
        event = MedicalBillAdjudicated(
            bill_id=bill_id, claim_id=cmd.claim_id, hospital_id=cmd.hospital_id, admitted_on=cmd.admitted_on,
            discharged_on=cmd.discharged_on, claimed=sum((o.claimed for o in charge.items), Decimal("0.00")),
            approved=charge.approved, items=items, policy_ref=policy_ref(version), region=claim.region,
            employer_id=claim.employer_id, line_id=f"rehabilitation-{bill_id}", kind="rehabilitation",
            plan_id=plan_id)
        bill = MedicalBill(bill_id)
        bill.adjudicate(event, now.date())
        [bill_envelope] = uow.save(bill)
        if charge.approved > 0:
            plan.charge(bill_id, charge.approved, now.date())
            uow.save(plan)
        uow.session.execute(insert(medical_bills).values(
            bill_id=bill_id, claim_id=cmd.claim_id, hospital_id=cmd.hospital_id, admitted_on=cmd.admitted_on,
            discharged_on=cmd.discharged_on, claimed_fen=to_fen(event.claimed), approved_fen=to_fen(event.approved),
            items_json=json.dumps([i.model_dump(mode="json") for i in items]),
            policy_ref_json=json.dumps(event.policy_ref), recorded_at=now, kind="rehabilitation", plan_id=plan_id))
        uow.session.execute(update(rehabilitation_plans).where(rehabilitation_plans.c.plan_id == plan_id)
                            .values(spent_fen=to_fen(plan.spent)))
        if charge.approved > 0:
            record_line(uow.session, CareLine(
                line_id=event.line_id, claim_id=cmd.claim_id, employer_id=claim.employer_id, region=claim.region,
                kind="rehabilitation", family=MEDICAL_FAMILY, start=cmd.admitted_on, end=cmd.discharged_on,
                amount=charge.approved, payer=doc.payer("rehabilitation"), payee=f"hospital:{cmd.hospital_id}",
                reason=f"rehabilitation bill {bill_id} under plan {plan_id}", calc=charge.calc,
                policy_ref=event.policy_ref, source_event_ids=(row.event_id, str(bill_envelope.event_id)),
                extra={"bill_id": bill_id, "plan_id": plan_id, "claimed": yuan_str(event.claimed),
                       "approved": yuan_str(event.approved),
                       "items": [i.model_dump(mode="json") for i in items],
                       "input_sources": {"plan": row.event_id, "items": str(bill_envelope.event_id),
                                         "spent_before": f"RehabilitationCharged of plan {plan_id}",
                                         "rehabilitation_catalog": f"policy {policy_ref(version)}"}}), now)
    return event


# ---- assistive devices (R.32) ---------------------------------------------------------------

@dataclass(frozen=True)
class ConfigureDevice:
    claim_id: str
    device_code: str
    confirmed_on: date
    supplier_id: str


def configure_device(ctx: ServiceContext, principal: Principal, cmd: ConfigureDevice) -> dict[str, Any]:
    """R.32: the committee confirmed the need; the fund pays the supplier the catalog's standard
    price. A replacement of the same device inside its service life is a 422 naming `device_code`."""
    now = _now()
    if cmd.confirmed_on > now.date():
        raise invalid("confirmed_on", f"is in the future (today is {now.date().isoformat()})")
    claim = recognized_claim(ctx, cmd.claim_id)
    _within_claim(claim, "confirmed_on", cmd.confirmed_on)
    with ctx.session_factory() as session:
        supplier = session.execute(select(hospitals).where(hospitals.c.hospital_id == cmd.supplier_id)).first()
        if supplier is None or supplier.kind != "supplier":
            raise invalid("supplier_id", f"{cmd.supplier_id} is no registered assistive-device supplier")
        version = _policy(session, claim.region, cmd.confirmed_on)
    doc = version.document
    item = doc.device(cmd.device_code)
    configuration_id = _new_id("dev")
    line_id = f"assistive_device-{configuration_id}"
    with ctx.uow(principal) as uow:
        aggregate = uow.load(ClaimDevices, devices_id(cmd.claim_id)) or ClaimDevices(devices_id(cmd.claim_id))
        before = aggregate.latest.get(cmd.device_code)
        try:
            calc, replaceable_from = rules.assistive_device(
                cmd.device_code, item.name if item else None, item.standard_price if item else None,
                item.service_life_months if item else None, cmd.confirmed_on,
                before.replaceable_from if before else None)
        except rules.Refused as exc:
            raise invalid(exc.field, exc.message) from None
        assert item is not None
        event = AssistiveDeviceConfigured(
            configuration_id=configuration_id, claim_id=cmd.claim_id, region=claim.region,
            employer_id=claim.employer_id, device_code=cmd.device_code, name=item.name,
            confirmed_on=cmd.confirmed_on, supplier_id=cmd.supplier_id, standard_price=calc.amount,
            service_life_months=item.service_life_months, replaceable_from=replaceable_from,
            replaces=before.configuration_id if before else None, payer=doc.payer("assistive_device"),
            line_id=line_id, policy_ref=policy_ref(version))
        aggregate.configure(event, now.date())
        [envelope] = uow.save(aggregate)
        uow.session.execute(insert(devices).values(
            configuration_id=configuration_id, claim_id=cmd.claim_id, device_code=cmd.device_code, name=item.name,
            confirmed_on=cmd.confirmed_on, supplier_id=cmd.supplier_id, price_fen=to_fen(calc.amount),
            service_life_months=item.service_life_months, replaceable_from=replaceable_from,
            replaces=event.replaces, line_id=line_id))
        record_line(uow.session, CareLine(
            line_id=line_id, claim_id=cmd.claim_id, employer_id=claim.employer_id, region=claim.region,
            kind="assistive_device", family=MEDICAL_FAMILY, start=cmd.confirmed_on, end=cmd.confirmed_on,
            amount=calc.amount, payer=event.payer, payee=f"hospital:{cmd.supplier_id}",
            reason=f"{item.name} ({cmd.device_code}) confirmed on {cmd.confirmed_on.isoformat()}", calc=calc,
            policy_ref=event.policy_ref, source_event_ids=(str(envelope.event_id),),
            extra={"configuration_id": configuration_id, "replaces": event.replaces,
                   "input_sources": {"device_code": str(envelope.event_id), "confirmed_on": str(envelope.event_id),
                                     "device_catalog": f"policy {policy_ref(version)}"}}), now)
        row = uow.session.execute(select(devices).where(devices.c.configuration_id == configuration_id)).one()
    return {**device_view(row), "payer": event.payer, "payee": f"hospital:{cmd.supplier_id}",
            "formula": calc.formula, "policy_ref": event.policy_ref}


def device_view(row: Any) -> dict[str, Any]:
    return {"configuration_id": row.configuration_id, "claim_id": row.claim_id, "device_code": row.device_code,
            "name": row.name, "confirmed_on": row.confirmed_on.isoformat(), "supplier_id": row.supplier_id,
            "amount": yuan_str(int(row.price_fen)), "service_life_months": row.service_life_months,
            "replaceable_from": row.replaceable_from.isoformat(), "replaces": row.replaces, "line_id": row.line_id}
