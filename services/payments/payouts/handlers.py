"""Commands of paying out that are not runs: registering hospitals and adjudicating bills.

No HTTP here: a handler takes the context, the acting principal and a command, validates all of
it before the first write, and either records everything in one transaction or nothing.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import inspect, insert, select, update
from sqlalchemy.orm import Session

from libs.money import split_yuan, to_fen, yuan_str
from libs.pooling import region_on
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import Problem, conflict, forbidden, invalid

from ..entitlements.tables import in_months
from .adjudication import ClaimFacts, ItemIn, Refused, adjudicate_items, check_stay
from .domain import AdjudicatedItem, BankAccount, Hospital, MedicalBill, MedicalBillAdjudicated
from .projection import policy_terms
from .runs import region_moves
from .tables import claim_facts, entitlement_lines, hospitals, medical_bills


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- hospitals -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PutHospital:
    hospital_id: str
    name: str
    region: str
    account: BankAccount
    kind: str = "hospital"  # PROVIDER_KINDS: a hospital, a rehabilitation provider or a device supplier


def put_hospital(ctx: ServiceContext, principal: Principal, cmd: PutHospital) -> tuple[bool, bool]:
    """Returns (created, changed)."""
    now = _now()
    with ctx.uow(principal) as uow:
        hospital = uow.load(Hospital, cmd.hospital_id) or Hospital(cmd.hospital_id)
        created = hospital.version == 0
        before = hospital.state
        changed = hospital.put(cmd.name, cmd.region, cmd.account, now.date(), cmd.kind)
        if not changed:
            return created, False
        uow.save(hospital)
        row = dict(name=cmd.name, region=cmd.region, bank_code=cmd.account.bank_code,
                   account_no=cmd.account.account_no, holder=cmd.account.holder, kind=cmd.kind)
        if created:
            uow.session.execute(insert(hospitals).values(hospital_id=cmd.hospital_id, account_changed_at=now, **row))
        else:
            if before is not None and before.bank_account != cmd.account:
                row["account_changed_at"] = now
            uow.session.execute(update(hospitals).where(hospitals.c.hospital_id == cmd.hospital_id).values(**row))
    return created, True


# ---- medical bills -------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmitBill:
    claim_id: str
    hospital_id: str
    admitted_on: date
    discharged_on: date
    items: list[ItemIn]


def may_act_for_hospital(principal: Principal, hospital_id: str) -> None:
    if principal.role == "agency":
        return
    if principal.role != "hospital" or principal.hospital_id != hospital_id:
        raise forbidden(f"this token may not act for hospital {hospital_id}")


def _claim(session: Session, claim_id: str) -> ClaimFacts | None:
    row = session.execute(select(claim_facts).where(claim_facts.c.claim_id == claim_id)).first()
    if row is None:
        return None
    return ClaimFacts(row.claim_id, row.status, row.occurred_on, row.closed_on)


def submit_bill(ctx: ServiceContext, principal: Principal, cmd: SubmitBill) -> MedicalBillAdjudicated:
    may_act_for_hospital(principal, cmd.hospital_id)
    # The claim's decision may still be on its way from the claims service: wait a bounded time.
    ctx.await_projection(lambda s: (c if (c := _claim(s, cmd.claim_id)) and c.status in ("recognized", "deemed")
                                    else None))
    with ctx.session_factory() as session:
        hospital = session.execute(select(hospitals).where(hospitals.c.hospital_id == cmd.hospital_id)).first()
        if hospital is None:
            raise invalid("hospital_id", f"no hospital {cmd.hospital_id} is registered")
        if hospital.kind == "supplier":
            raise invalid("hospital_id", f"{cmd.hospital_id} is a device supplier: it bills no treatment")
        claim = _claim(session, cmd.claim_id)
        try:
            check_stay(claim, cmd.admitted_on, cmd.discharged_on)
        except Refused as exc:
            raise (conflict(exc.message, field=exc.field) if exc.state else invalid(exc.field, exc.message)) from None
        claim_row = session.execute(select(claim_facts).where(claim_facts.c.claim_id == cmd.claim_id)).one()
        region = claim_row.region or hospital.region
        # from a consolidation's date, a moved claim is priced by the new region's catalog
        terms = policy_terms(session, region_on(region, cmd.admitted_on, region_moves(session)), cmd.admitted_on)
    if terms is None:
        raise conflict(f"no policy is in force in region {region} on {cmd.admitted_on.isoformat()}")
    out = adjudicate_items(cmd.items, terms.catalog)
    bill_id = "bill_" + uuid.uuid4().hex[:20]
    line_id = f"medical-{bill_id}"
    items = tuple(AdjudicatedItem(code=i.code, quantity=i.quantity, unit_price=i.unit_price, claimed=i.claimed,
                                  approved=i.approved, reason=i.reason) for i in out)
    event = MedicalBillAdjudicated(
        bill_id=bill_id, claim_id=cmd.claim_id, hospital_id=cmd.hospital_id, admitted_on=cmd.admitted_on,
        discharged_on=cmd.discharged_on, claimed=sum((i.claimed for i in out), Decimal("0.00")),
        approved=sum((i.approved for i in out), Decimal("0.00")), items=items, policy_ref=terms.policy_ref,
        region=region, employer_id=claim_row.employer_id, line_id=line_id)
    now = _now()
    with ctx.uow(principal) as uow:
        bill = MedicalBill(bill_id)
        bill.adjudicate(event, now.date())
        envelopes = uow.save(bill)
        uow.session.execute(insert(medical_bills).values(
            bill_id=bill_id, claim_id=cmd.claim_id, hospital_id=cmd.hospital_id, admitted_on=cmd.admitted_on,
            discharged_on=cmd.discharged_on, claimed_fen=to_fen(event.claimed), approved_fen=to_fen(event.approved),
            items_json=json.dumps([i.model_dump(mode="json") for i in items]),
            policy_ref_json=json.dumps(terms.policy_ref), recorded_at=now))
        if event.approved > 0:
            record_medical_line(uow.session, event, str(envelopes[0].event_id), hospital, now)
    return event


def record_medical_line(session: Session, e: MedicalBillAdjudicated, event_id: str, hospital, now: datetime) -> bool:  # noqa: ANN001
    """The approved amount as a fund line payable to the hospital (R.30). Insert-if-absent with a
    line id derived from the bill, so the entitlements projection may record the same line too."""
    if not inspect(session.connection()).has_table("entitlement_lines"):
        return False  # the entitlements projection will derive it from the event when it exists
    el = entitlement_lines
    if session.execute(select(el.c.line_id).where(in_months(el, session, "line_id",
                                                            (e.line_id, f"{e.line_id}-employer")))).first():
        return False
    explain = {"formula": "sum over catalog items of min(unit_price, max_unit_price) x quantity x reimbursable_share",
               "article": "R.30", "bill_id": e.bill_id, "claimed": str(e.claimed), "approved": str(e.approved),
               "items": [i.model_dump(mode="json") for i in e.items]}
    parts = [("fund", e.line_id, e.approved, explain)]
    late, stay = _late_days_in_stay(session, e), (e.discharged_on - e.admitted_on).days + 1
    if late:  # R.17: the employer bears the days it applied late; one bill between two payers
        employer_part, fund_part = split_yuan(e.approved, [late, stay - late])
        split = {"late_days_in_stay": str(late), "days_in_stay": str(stay), "split": "largest remainder",
                 "note": "R.17: the employer applied late and bears the benefits of its late days"}
        parts = [("fund", e.line_id, fund_part, {**explain, **split, "share": f"approved × {stay - late} / {stay} = "
                                                  f"{yuan_str(fund_part)}"}),
                 ("employer", f"{e.line_id}-employer", employer_part, {**explain, **split, "share":
                                                                      f"approved × {late} / {stay} = {yuan_str(employer_part)}"})]
    for payer, line_id, amount, why in parts:
        if amount == 0:
            continue
        session.execute(insert(el).values(
            line_id=line_id, claim_id=e.claim_id, employer_id=e.employer_id, region=e.region, kind="medical",
            family="medical", period=e.discharged_on.strftime("%Y-%m"), period_start=e.admitted_on,
            period_end=e.discharged_on, amount_fen=to_fen(amount), payer=payer, payee=f"hospital:{e.hospital_id}",
            bank_code=hospital.bank_code, account_no=hospital.account_no, holder=hospital.holder, adjusts=None,
            reason=f"medical bill {e.bill_id}", known_at=now, explain_json=json.dumps(why),
            policy_ref_json=json.dumps(e.policy_ref), source_event_ids_json=json.dumps([event_id])))
    return True


def _late_days_in_stay(session: Session, e: MedicalBillAdjudicated) -> int:
    """Days of the stay within the employer's late days (R.17: the `employer_late_days` days up
    to the application), as the claim's application recorded them."""
    row = session.execute(select(claim_facts.c.applied_on, claim_facts.c.employer_late_days)
                          .where(claim_facts.c.claim_id == e.claim_id)).first()
    if row is None or not row.employer_late_days or row.applied_on is None:
        return 0
    first_late = row.applied_on - timedelta(days=row.employer_late_days - 1)
    return max(0, (min(e.discharged_on, row.applied_on) - max(e.admitted_on, first_late)).days + 1)


def bill_view(row) -> dict:  # noqa: ANN001
    from libs.money import yuan_str

    items = json.loads(row.items_json)
    return {"bill_id": row.bill_id, "claim_id": row.claim_id, "hospital_id": row.hospital_id,
            "admitted_on": row.admitted_on.isoformat(), "discharged_on": row.discharged_on.isoformat(),
            "claimed": yuan_str(row.claimed_fen), "approved": yuan_str(row.approved_fen), "items": items,
            "rejected_items": [{"index": n, "code": i["code"], "reason": i["reason"]}
                               for n, i in enumerate(items) if is_rejected(i["reason"])],
            "policy_ref": json.loads(row.policy_ref_json), "kind": row.kind, "plan_id": row.plan_id}


REJECTING = frozenset({"not_in_catalog", "outside_plan_period", "beyond_plan_budget"})


def is_rejected(reason: str | None) -> bool:
    """An item the fund refused in whole or in part for what it is, not for its price or share:
    not in the catalog, or (a rehabilitation bill) outside the plan's period or beyond its budget."""
    return bool(reason) and not REJECTING.isdisjoint(reason.split("+"))


__all__ = ["Problem", "PutHospital", "SubmitBill", "put_hospital", "submit_bill", "bill_view"]
