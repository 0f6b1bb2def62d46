"""One function per command of the claims service; no HTTP here.

Every command validates everything before its first write (a refused command records
nothing), reads what other services own from this service's projections of their events, and
takes every limit from the policy in force in the claim's region on the injury date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from libs.events.envelope import Envelope, time_ordered_ids
from libs.events.registry import REGISTRY
from libs.events.source import Source, describe
from libs.events.store import Context, EventStore, NewEvent
from libs.money import from_fen, round_fen
from libs.policy.projection import policy_in_force, policy_ref
from libs.pooling import sources_on
from libs.pooling_tables import read_moves
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, invalid, not_found

from .domain import deadlines
from .domain.events import InjuryApplied, InsuredWageDetermined, PolicyRef, WageMonth
from .domain.insured_wage import derive_insured_wage, months_before
from .domain.model import UNSET, Claim, InvalidField, NewDependent, WrongState
from .tables import (
    OPEN_FOR_APPRAISAL,
    claims,
    claims_employers,
    claims_employments,
    claims_legacy_wages,
    claims_reactions,
    claims_region_moves,
    claims_separations,
    claims_wage_reports,
    claims_workers,
    wages,
)

CHINA = timezone(timedelta(hours=8))
SYSTEM_ACTOR = "system"
MAX_PAGE = 1000


def today() -> date:
    """The ledger's calendar day (China Standard Time)."""
    return datetime.now(CHINA).date()


@contextmanager
def domain_errors() -> Iterator[None]:
    """The domain's refusals as problems: a wrong state is a 409 naming the state, a bad value a
    422 naming the field."""
    try:
        yield
    except WrongState as exc:
        # RFC 9457's `status` member is the HTTP status; the claim's own goes beside it
        raise conflict(exc.detail, claim_status=exc.status) from exc
    except InvalidField as exc:
        raise invalid(exc.field, exc.message) from exc


def _not_future(field: str, day: date) -> None:
    if day > today():
        raise invalid(field, f"{day} is in the future")


# -- policy -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """The policy values the claims service uses, by name, from the version in force."""

    ref: PolicyRef
    employer_application_days: int
    worker_application_days: int
    decision_days: int
    decision_days_clear: int
    appraisal_days: int
    leave_standard_months: int
    leave_extension_months: int
    reappraisal_min_months: int
    dependent_child_age_limit: int
    average_monthly_wage: Decimal
    floor_ratio: Decimal
    cap_ratio: Decimal
    appeal_days: dict[str, int]


def _get(obj: Any, name: str) -> Any:  # noqa: ANN401 - a policy sub-document (model or mapping)
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def limits(session: Session, region: str, on: date, field: str = "occurred_on") -> Limits:
    version = policy_in_force(session, region, on)
    if version is None:
        raise invalid(field, f"no policy is in force in region {region} on {on}")
    doc = version.document
    dl, leave = doc.deadlines, doc.treatment_leave_max_months
    return Limits(
        ref=PolicyRef(**policy_ref(version)),
        employer_application_days=int(_get(dl, "employer_application_days")),
        worker_application_days=int(_get(dl, "worker_application_days")),
        decision_days=int(_get(dl, "decision_days")),
        decision_days_clear=int(_get(dl, "decision_days_clear")),
        appraisal_days=int(_get(dl, "appraisal_days")),
        leave_standard_months=int(_get(leave, "standard")),
        leave_extension_months=int(_get(leave, "extension")),
        reappraisal_min_months=int(doc.reappraisal_min_months),
        dependent_child_age_limit=int(doc.dependent_child_age_limit),
        average_monthly_wage=Decimal(str(doc.average_monthly_wage)),
        floor_ratio=doc.insured_wage_floor_ratio,
        cap_ratio=doc.insured_wage_cap_ratio,
        appeal_days=doc.appeal_days.model_dump(),
    )


# -- reading the other services' facts ------------------------------------------------------------

def employed_on(session: Session, employee_id: str, employer_id: str, on: date) -> bool:
    """Employed by `employer_id` on `on`: the last hire on or before that day, and no separation
    after that hire and before that day (the day of separation is the last day employed)."""
    hired = session.execute(select(func.max(claims_employments.c.hired_on)).where(
        claims_employments.c.employee_id == employee_id, claims_employments.c.employer_id == employer_id,
        claims_employments.c.hired_on <= on)).scalar_one_or_none()
    if hired is None:
        return False
    left = session.execute(select(claims_separations.c.separated_on).where(
        claims_separations.c.employee_id == employee_id, claims_separations.c.employer_id == employer_id,
        claims_separations.c.separated_on >= hired, claims_separations.c.separated_on < on).limit(1)).first()
    return left is None


def worker_wages(session: Session, employee_id: str, employer_id: str, periods: Sequence[str]) -> dict[str, Decimal]:
    """The worker's contribution wage per period at one employer, from the wages in force: the
    employer's report of the month, or with none the month's imported wage history. A worker
    insured by two employers at once has the insured wage of the one where the injury happened
    (劳社部函〔2004〕256号, item 1; RULES.md "Clarifications")."""
    periods = list(periods)
    rows = session.execute(select(wages.c.period, func.sum(wages.c.wage_fen)).where(
        wages.c.employee_id == employee_id, wages.c.employer_id == employer_id,
        wages.c.period.in_(periods)).group_by(wages.c.period)).all()
    reported = select(claims_wage_reports.c.period).where(
        claims_wage_reports.c.employer_id == employer_id, claims_wage_reports.c.period.in_(periods))
    rows += session.execute(select(claims_legacy_wages.c.period, claims_legacy_wages.c.wage_fen).where(
        claims_legacy_wages.c.employee_id == employee_id, claims_legacy_wages.c.employer_id == employer_id,
        claims_legacy_wages.c.period.in_(periods), claims_legacy_wages.c.period.not_in(reported))).all()
    return {period: from_fen(int(fen)) for period, fen in rows}


def insured_wage_event(session: Session, claim: Claim, reason: str, on: date) -> InsuredWageDetermined:
    """R.64 for one claim, from the wages in force and the policy in force on the injury date."""
    app = claim.app
    lim = limits(session, app.region, app.occurred_on)
    found = worker_wages(session, app.employee_id, app.employer_id, months_before(app.occurred_on))
    w = derive_insured_wage(found, app.occurred_on, lim.average_monthly_wage, lim.floor_ratio, lim.cap_ratio)
    return InsuredWageDetermined(
        claim_id=claim.id, employee_id=app.employee_id, average_wage=round_fen(w.average_wage),
        insured_wage=w.insured_wage, months=[WageMonth(period=p, wage=v) for p, v in w.months],
        floor=w.floor, cap=w.cap, policy_ref=lim.ref, reason=reason,  # type: ignore[arg-type]
        no_wage_history=w.no_wage_history, derivation=w.derivation, determined_on=on)


# -- commands -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Application:
    employer_id: str
    employee_id: str
    kind: str
    occurred_on: date
    applied_on: date
    applicant: str
    description: str
    clear_case: bool = False


def apply_for_injury(ctx: ServiceContext, actor: Principal | str, cmd: Application) -> Claim:
    """R.17: an application by the employer (30 days) or the worker (one year)."""
    _not_future("occurred_on", cmd.occurred_on)
    _not_future("applied_on", cmd.applied_on)
    if cmd.applied_on < cmd.occurred_on:
        raise invalid("applied_on", "must not be before occurred_on")

    def lookup(session: Session):  # noqa: ANN202
        employer = session.execute(select(claims_employers).where(
            claims_employers.c.employer_id == cmd.employer_id)).first()
        worker = session.execute(select(claims_workers).where(
            claims_workers.c.employee_id == cmd.employee_id)).first()
        if employer is None or worker is None:
            return None
        if not employed_on(session, cmd.employee_id, cmd.employer_id, cmd.occurred_on):
            return None
        return employer, worker

    found = ctx.await_projection(lookup)
    with ctx.uow(actor) as uow:
        session = uow.session
        if found is None:  # name what is missing, from the projection as it now stands
            if session.execute(select(claims_employers.c.employer_id).where(
                    claims_employers.c.employer_id == cmd.employer_id)).first() is None:
                raise invalid("employer_id", f"unknown employer {cmd.employer_id}")
            if session.execute(select(claims_workers.c.employee_id).where(
                    claims_workers.c.employee_id == cmd.employee_id)).first() is None:
                raise invalid("employee_id", f"unknown worker {cmd.employee_id}")
            if not employed_on(session, cmd.employee_id, cmd.employer_id, cmd.occurred_on):
                raise invalid("employee_id",
                              f"worker {cmd.employee_id} was not employed by {cmd.employer_id} on {cmd.occurred_on}")
            raise AssertionError("the projection moved on; retry")  # pragma: no cover
        employer, worker = found
        event = application_event(session, new_claim_id(), cmd, employer, worker)
        with domain_errors():
            claim = Claim.apply_for(event.claim_id, event)
        uow.save(claim)
    return claim


def new_claim_id() -> str:
    """A new claim's id, time-ordered (`time_ordered_ids`): the claims' tables, the event store's
    and the payments' lines of a month by claim take a go-live's claims at their right edge.
    Ids made before ("clm_" + 20 hex digits) stay valid: nothing reads meaning out of an id."""
    return time_ordered_ids("clm_", 1)[0]


def application_event(session: Session, claim_id: str, cmd: Application, employer: Any, worker: Any,
                      source: Source | None = None, lim: Limits | None = None) -> InjuryApplied:
    """R.17, R.20: the application of a known worker at a known employer, with its deadlines from
    the policy in force on the injury date (a migrated claim's: with its `source`; an import
    passes that policy's `lim`, read once for the rows of the same region and day)."""
    lim = lim or limits(session, employer.region, cmd.occurred_on)
    if cmd.applicant == "worker" and not deadlines.worker_application_in_time(
            cmd.occurred_on, cmd.applied_on, lim.worker_application_days):
        raise invalid("applied_on", f"a worker's application is due within {lim.worker_application_days} "
                      f"days of {cmd.occurred_on} (R.17)")
    return InjuryApplied(
        claim_id=claim_id, employer_id=cmd.employer_id, employee_id=cmd.employee_id, region=employer.region,
        kind=cmd.kind, occurred_on=cmd.occurred_on, applied_on=cmd.applied_on,  # type: ignore[arg-type]
        applicant=cmd.applicant, description=cmd.description,  # type: ignore[arg-type]
        birth_date=worker.birth_date, sex=worker.sex,
        employer_late_days=deadlines.employer_late_days(cmd.occurred_on, cmd.applied_on,
                                                        lim.employer_application_days),
        clear_case=cmd.clear_case,
        decision_due_on=deadlines.decision_due_on(cmd.applied_on, cmd.clear_case, lim.decision_days,
                                                  lim.decision_days_clear),
        policy_ref=lim.ref, source=source)


def _load(uow, claim_id: str) -> Claim:  # noqa: ANN001
    claim = uow.load(Claim, claim_id) if len(claim_id) <= 64 else None
    if claim is None:
        raise not_found("claim", claim_id)
    return claim  # type: ignore[return-value]


def decide(ctx: ServiceContext, actor: Principal | str, claim_id: str, decision: str, decided_on: date,
           basis: str) -> Claim:
    """R.14–16, R.20; a recognition (or deeming) fixes the insured wage (R.64)."""
    _not_future("decided_on", decided_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            claim.decide(decision, decided_on, basis, lim.appraisal_days)
            if decision != "rejected":
                claim.determine_insured_wage(insured_wage_event(uow.session, claim, "recognized", decided_on))
        uow.save(claim)
    return claim


def grant_treatment_leave(ctx: ServiceContext, actor: Principal | str, claim_id: str, start: date, end: date) -> Claim:
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            claim.grant_treatment_leave(start, end, lim.leave_standard_months, lim.leave_extension_months,
                                        lim.appraisal_days)
        uow.save(claim)
    return claim


def appraise(ctx: ServiceContext, actor: Principal | str, claim_id: str, grade: int | None, care_level: str,
             concluded_on: date) -> Claim:
    _not_future("concluded_on", concluded_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            claim.appraise(grade, care_level, concluded_on, lim.reappraisal_min_months)
        uow.save(claim)
    return claim


def terminate(ctx: ServiceContext, actor: Principal | str, claim_id: str, terminated_on: date) -> Claim:
    _not_future("terminated_on", terminated_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        with domain_errors():
            claim.terminate(terminated_on)
        uow.save(claim)
    return claim


def arrange_work(ctx: ServiceContext, actor: Principal | str, claim_id: str, arranged: bool,
                 effective_from: date) -> Claim:
    """R.36: whether the employer of a grade 5–6 worker has arranged suitable work from a day on."""
    _not_future("from", effective_from)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        with domain_errors():
            claim.arrange_work(arranged, effective_from)
        uow.save(claim)
    return claim


def lodge_appeal(ctx: ServiceContext, actor: Principal | str, claim_id: str, subject: str, route: str,
                 lodged_on: date, lodged_by: str) -> tuple[Claim, str]:
    """R.55 / R.26: an appeal, within the days the policy in force on the injury date gives."""
    _not_future("lodged_on", lodged_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            event = claim.lodge_appeal(subject, route, lodged_on, lodged_by, lim.appeal_days)
        uow.save(claim)
    return claim, event.appeal_id


def decide_appeal(ctx: ServiceContext, actor: Principal | str, claim_id: str, appeal_id: str, outcome: str,
                  decided_on: date, decision: str | None, grade: object = UNSET,
                  care_level: str | None = None) -> Claim:
    """The decision on an appeal; a rejection overturned fixes the insured wage as a recognition
    does (R.64), from the wages and policy of the injury date."""
    _not_future("decided_on", decided_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        if claim.appeal(appeal_id) is None:
            raise not_found("appeal", appeal_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            claim.decide_appeal(appeal_id, outcome, decided_on, decision, grade, care_level, lim.appraisal_days)
            if claim.decision in ("recognized", "deemed") and not claim.history.wages:
                claim.determine_insured_wage(insured_wage_event(uow.session, claim, "recognized", decided_on))
        uow.save(claim)
    return claim


def record_death(ctx: ServiceContext, actor: Principal | str, claim_id: str, died_on: date,
                 dependents: Sequence[NewDependent]) -> Claim:
    _not_future("died_on", died_on)
    for i, d in enumerate(dependents):
        _not_future(f"dependents.{i}.born_on", d.born_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        lim = limits(uow.session, claim.app.region, claim.app.occurred_on)
        with domain_errors():
            claim.die(died_on, dependents, lim.dependent_child_age_limit)
        uow.save(claim)
    return claim


def close(ctx: ServiceContext, actor: Principal | str, claim_id: str, closed_on: date, reason: str) -> Claim:
    _not_future("closed_on", closed_on)
    with ctx.uow(actor) as uow:
        claim = _load(uow, claim_id)
        with domain_errors():
            claim.close(closed_on, reason)
        uow.save(claim)
    return claim


# -- reacting to a wage correction (called by the wages projection, in its transaction) ----------

def rederive_insured_wages(ctx: ServiceContext, session: Session, employee_ids: set[str], period: str,
                           cause: Envelope) -> int:
    """R.64 again for every claim whose insured wage used `period` of one of these workers. The
    claim's own state decides: an event only when the figure changed, so a redelivered
    correction emits nothing twice. Written in the projection's own transaction."""
    if not employee_ids:
        return 0
    cause_id = str(cause.event_id)
    if session.execute(select(claims_reactions.c.event_id).where(claims_reactions.c.event_id == cause_id)).first():
        return 0  # reacted to already (a replay of the projection): never emit twice
    rows = session.execute(select(claims.c.claim_id, claims.c.occurred_on).where(
        claims.c.employee_id.in_(sorted(employee_ids))).order_by(claims.c.claim_id)).all()
    store = EventStore(session, ctx.topic)
    emitted = 0
    for row in rows:
        if period not in months_before(row.occurred_on):
            continue
        history = store.read_aggregate(row.claim_id)
        if not history:
            continue
        claim = Claim.rehydrate(row.claim_id, history)
        if not claim.history.wages:
            continue  # not recognized yet: the recognition will read the corrected wages
        if not claim.determine_insured_wage(insured_wage_event(session, claim, "wage_corrected", cause.occurred_on)):
            continue
        new = [NewEvent(p.type, REGISTRY.latest_version(p.type), p.payload.model_dump(mode="json"), p.occurred_on)
               for p in claim.pending]
        store.append(claim.aggregate_type, claim.id, claim.persisted_version, new,
                     Context(actor=SYSTEM_ACTOR, correlation_id=cause.correlation_id, causation_id=cause.event_id))
        claim.pending.clear()
        emitted += 1
    session.execute(insert(claims_reactions).values(event_id=cause_id, emitted=emitted))
    return emitted


# -- queries ------------------------------------------------------------------------------------

def _brief(e: Envelope) -> str:
    p = e.payload
    match e.type:
        case "InjuryApplied":
            late = f", {p['employer_late_days']} days late" if p.get("employer_late_days") else ""
            return f"{p['kind']} of {p['occurred_on']} applied by the {p['applicant']} on {p['applied_on']}{late}"
        case "InjuryRecognized":
            return f"{p['decision']} on {p['decided_on']}"
        case "InjuryRejected":
            return f"rejected on {p['decided_on']}"
        case "InsuredWageDetermined":
            return f"insured wage {p['insured_wage']} ({p['reason']})"
        case "TreatmentLeaveGranted":
            return f"treatment leave {p['start']} to {p['end']}" + (" (extension)" if p["extension"] else "")
        case "GradeAssigned":
            grade = f"grade {p['grade']}" if p["grade"] is not None else "no disability"
            return f"{'re-appraised' if p['reappraisal'] else 'appraised'}: {grade}, care {p['care_level']}, " \
                   f"concluded {p['concluded_on']}"
        case "EmploymentTerminated":
            return f"employment terminated on {p['terminated_on']} (grade {p['grade']})"
        case "WorkerDied":
            return f"worker died on {p['died_on']}"
        case "DependentRegistered":
            return f"dependent {p['dependent_id']} registered ({p['relation']})"
        case "WorkArrangementRecorded":
            return (f"suitable work {'arranged' if p['arranged'] else 'not arranged'} "
                    f"from {p['effective_from']} (grade {p['grade']})")
        case "AppealLodged":
            return (f"{p['subject']} of {p['disputed_on']} appealed by the {p['lodged_by']} "
                    f"({p['route'].replace('_', ' ')}) on {p['lodged_on']}, due by {p['due_by']}")
        case "AppealDecided":
            new = (f": {p['decision']}" if p.get("decision") else
                   f": grade {p['grade'] if p.get('grade') is not None else 'none'}, care {p['care_level']}"
                   if p.get("care_level") else "")
            return f"appeal {p['appeal_id']} {p['outcome']} on {p['decided_on']}{new}, from {p['replaces_from']}"
        case "ClaimClosed":
            return f"closed on {p['closed_on']}: {p['reason']}"
        case "LegacyPaymentsRecorded":
            paid = f"recurring benefits paid through {p['paid_through']}" if p.get("paid_through") else \
                "no recurring benefit paid"
            return f"the old system's payments: {paid}, one-off grants {'paid' if p['one_off_paid'] else 'not paid'}"
    return e.type


def appeal_view(a) -> dict[str, Any]:  # noqa: ANN001 - model.Appeal
    disputed = ({"decision": a.disputed_decision} if a.subject == "recognition" else
                {"grade": a.disputed_grade, "care_level": a.disputed_care_level})
    out = {"appeal_id": a.appeal_id, "subject": a.subject, "route": a.route, "lodged_on": a.lodged_on,
           "lodged_by": a.lodged_by, "due_by": a.due_by, "disputed": {"on": a.disputed_on, **disputed},
           "status": a.status, "decided_on": a.decided_on}
    if a.status in ("overturned", "modified"):
        out["replaced_by"] = ({"decision": a.decision} if a.subject == "recognition" else
                              {"grade": a.grade, "care_level": a.care_level})
    return out


def claim_view(ctx: ServiceContext, claim_id: str, on: date) -> dict[str, Any]:
    with ctx.session_factory() as session:
        history = EventStore(session, ctx.topic).read_aggregate(claim_id) if len(claim_id) <= 64 else []
    if not history:
        raise not_found("claim", claim_id)
    claim = Claim.rehydrate(claim_id, history)
    app = claim.app
    wage = claim.history.wages[-1] if claim.history.wages else None
    return {
        "claim_id": claim.id, "status": claim.status, "version": claim.version,
        "employer_id": app.employer_id, "employee_id": app.employee_id, "region": app.region, "kind": app.kind,
        "occurred_on": app.occurred_on, "applied_on": app.applied_on, "applicant": app.applicant,
        "description": app.description, "employer_late_days": app.employer_late_days,
        "decision": claim.decision, "decided_on": claim.decided_on, "basis": claim.basis,
        "grade": claim.grade,
        "care_level": claim.history.appraisals[-1].care_level if claim.history.appraisals else None,
        "appraisals": [vars(a) for a in claim.history.appraisals],
        "treatment_leave": [vars(l) for l in claim.history.leaves],
        "work_arrangements": [{"arranged": a.arranged, "from": a.effective_from} for a in claim.history.arrangements],
        "appeals": [appeal_view(a) for a in claim.history.appeals],
        "died_on": claim.died_on, "grade_at_death": claim.grade_at_death, "terminated_on": claim.terminated_on,
        "closed_on": claim.closed_on, "close_reason": claim.close_reason or None,
        "deadlines": {"on": on, **claim.deadlines_on(on)},
        "insured_wage": None if wage is None else wage.model_dump(mode="json"),
        "insured_wage_history": [w.model_dump(mode="json") for w in claim.history.wages],
        "dependents": [{**vars(d), "bank_account": d.bank_account.model_dump() if d.bank_account else None}
                       for d in claim.history.dependents],
        "history": [{"sequence": e.sequence, "type": e.type, "occurred_on": e.occurred_on,
                     "recorded_at": e.recorded_at, "actor": e.actor, "summary": _brief(e),
                     "source": describe(e.payload.get("source"))} for e in history],
        "migrated": describe(history[0].payload.get("source")),
        "legacy_paid_through": claim.legacy_paid_through,
    }


def _regions_on(session: Session, region: str, on: date) -> list[str]:
    """RULES.md "Prevention and pooling": the recorded regions whose claims belong to `region`
    on `on` — itself until it is consolidated away, and the pools consolidated into it by then."""
    return sources_on(region, on, read_moves(session, claims_region_moves))


def list_claims(ctx: ServiceContext, *, employee_id: str | None, employer_id: str | None, status: str | None,
                overdue: bool | None, on: date, cursor: str | None, limit: int, region: str | None = None,
                order: str = "claim_id") -> dict[str, Any]:
    """`order="deadline"`: the worklist, the earliest open deadline first (so the overdue first),
    claims awaiting no decision last; its cursor is a position (`@n`)."""
    assert 1 <= limit <= MAX_PAGE
    late = or_(
        and_(claims.c.status == "applied", claims.c.decision_due_on < on),
        and_(claims.c.status.in_(OPEN_FOR_APPRAISAL), claims.c.appraisal_due_on < on),
    )
    stmt = select(claims)
    if employee_id:
        stmt = stmt.where(claims.c.employee_id == employee_id)
    if employer_id:
        stmt = stmt.where(claims.c.employer_id == employer_id)
    if status:
        stmt = stmt.where(claims.c.status == status)
    if region:  # the claims recorded under the pools that belong to the region on `on`
        with ctx.session_factory() as session:
            stmt = stmt.where(claims.c.region.in_(_regions_on(session, region, on)))
    if overdue is True:
        stmt = stmt.where(late)
    elif overdue is False:
        stmt = stmt.where(~late)
    if order == "deadline":  # read from an index: ix_claims_worklist, ix_claims_region_worklist
        offset = int(cursor[1:]) if cursor and cursor.startswith("@") and cursor[1:].isdigit() else 0
        stmt = stmt.order_by(claims.c.worklist_due_on, claims.c.claim_id).offset(offset)
    else:
        if cursor:
            stmt = stmt.where(claims.c.claim_id > cursor)
        stmt = stmt.order_by(claims.c.claim_id)
    with ctx.session_factory() as session:
        rows = session.execute(stmt.limit(limit + 1)).all()
    page = rows[:limit]
    items = []
    for r in page:
        decision_overdue = r.status == "applied" and deadlines.overdue(r.decision_due_on, on)
        appraisal_overdue = r.status in OPEN_FOR_APPRAISAL and deadlines.overdue(r.appraisal_due_on, on)
        items.append({
            "claim_id": r.claim_id, "employer_id": r.employer_id, "employee_id": r.employee_id,
            "region": r.region, "kind": r.kind, "occurred_on": r.occurred_on, "applied_on": r.applied_on,
            "status": r.status, "grade": r.grade,
            "insured_wage": None if r.insured_wage_fen is None else str(from_fen(r.insured_wage_fen)),
            "decision_due_on": r.decision_due_on, "appraisal_due_on": r.appraisal_due_on,
            "overdue": decision_overdue or appraisal_overdue,
            "decision_overdue": decision_overdue, "appraisal_overdue": appraisal_overdue,
        })
    more = len(rows) > limit
    if order == "deadline":
        return {"items": items, "next_cursor": f"@{offset + limit}" if more else None}
    return {"items": items, "next_cursor": page[-1].claim_id if more else None}

