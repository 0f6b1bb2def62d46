"""One function per enrollment command: (ctx, actor, command) -> result. No HTTP here.

Every check runs before the first write; the events and the read-model rows of one command commit
in one transaction, and the read-model unique constraints turn a concurrent duplicate into a
Conflict rather than a second employer or worker.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs import identifiers
from libs.events.envelope import time_ordered_ids
from libs.events.store import ConcurrencyConflict
from libs.policy import PolicyDocument, load_national_default
from libs.policy.projection import NATIONAL, policy_in_force, policy_ref
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal

from .domain.commands import (
    BankAccountInput,
    ChangeBankAccount,
    ChangeEmployer,
    ChangeEmployerStatus,
    ConsolidatePools,
    EnrollEmployee,
    EnrollEmployer,
    PublishPolicy,
    SeparateEmployee,
)
from .domain.events import BankAccount, PolicyRef
from .domain.model import (
    Classification,
    Conflict,
    Employer,
    Invalid,
    NotFound,
    POOLING_ID,
    Policy,
    Pooling,
    Worker,
    policy_aggregate_id,
)
from .tables import employers, employments, workers
from .worker_history import load_worker

T = TypeVar("T")
Actor = Principal | str

# China Standard Time has no daylight saving: the ledger's "today" is the day in Beijing.
CHINA_TZ = timezone(timedelta(hours=8))
# 人社部发〔2015〕71号: the eight-class rate table is in force from 1 October 2015.
NATIONAL_DEFAULT_EFFECTIVE_FROM = date(2015, 10, 1)
SYSTEM_ACTOR = "system"


def today() -> date:
    return datetime.now(CHINA_TZ).date()


def new_employer_id() -> str:
    return time_ordered_ids("er_", 1)[0]


def new_employer_ids(count: int) -> list[str]:
    return time_ordered_ids("er_", count)


def new_employee_id() -> str:
    return time_ordered_ids("ee_", 1)[0]


def new_employee_ids(count: int) -> list[str]:
    return time_ordered_ids("ee_", count)


def checked(field: str, check: Callable[[str], T], value: str) -> T:
    """An identifier check whose refusal names the request field."""
    try:
        return check(value)
    except identifiers.InvalidIdentifier as exc:
        raise Invalid(field, exc.message) from exc


# ------------------------------------------------------------------------------------ policy

def publish_policy(ctx: ServiceContext, actor: Actor, cmd: PublishPolicy) -> dict[str, Any]:
    """Publish a region's policy from a date; a pydantic ValidationError (the document) goes up
    to the caller with each bad field's location. Returns the stored version."""
    region = str(checked("region", identifiers.check_region, cmd.region))
    document = PolicyDocument.model_validate(cmd.document).model_dump(mode="json")
    with ctx.uow(actor) as uow:
        aggregate_id = policy_aggregate_id(region)
        policy = uow.load(Policy, aggregate_id) or Policy(aggregate_id)
        version, published = policy.publish(cmd.effective_from, document, today())
        uow.save(policy)
    return {"region": region, "effective_from": cmd.effective_from, "version": version,
            "published": published, "document": document}


def publish_national_default(ctx: ServiceContext) -> None:
    """SPEC.on_start: publish the national defaults as region 000000 if nothing is published
    there yet. Idempotent; two instances starting at once race on the aggregate's version and
    the loser's ConcurrencyConflict is the proof the winner did it."""
    aggregate_id = policy_aggregate_id(NATIONAL)
    try:
        with ctx.uow(SYSTEM_ACTOR) as uow:
            if uow.store.current_version(aggregate_id) > 0:
                return
            policy = Policy(aggregate_id)
            policy.publish(NATIONAL_DEFAULT_EFFECTIVE_FROM, load_national_default().model_dump(mode="json"), today())
            uow.save(policy)
    except ConcurrencyConflict:
        return


# ---------------------------------------------------------------------------------- employers

def classify(ctx: ServiceContext, region: str, on: date, industry_code: str, date_field: str) -> Classification:
    """Map an industry to its risk class and base rate by the region's policy in force on `on`
    (read from this service's projection of PolicyPublished, waiting a bounded time for one
    published a moment ago)."""
    industry = checked("industry_code", identifiers.check_industry_code, industry_code)
    version = ctx.await_projection(lambda session: policy_in_force(session, region, on))
    if version is None:
        raise Invalid(date_field, f"no policy is in force in region {region} (nor nationally) on {on.isoformat()}")
    return classification_by(version, industry)


def classification_by(version: Any, industry: identifiers.IndustryCode) -> Classification:
    """The risk class and base rate a policy version gives a (checked) industry code."""
    risk_class = version.document.risk_class_for(industry)  # validation made every division have one
    return Classification(
        industry_code=str(industry), division=industry.division, risk_class=risk_class,
        base_rate=version.document.base_rate(risk_class), policy_ref=PolicyRef.model_validate(policy_ref(version)))


def enroll_employer(ctx: ServiceContext, actor: Actor, cmd: EnrollEmployer) -> dict[str, Any]:
    uscc = str(checked("uscc", identifiers.check_uscc, cmd.uscc))
    region = str(checked("region", identifiers.check_region, cmd.region))
    classification = classify(ctx, region, cmd.enrolled_on, cmd.industry_code, "enrolled_on")
    employer_id = new_employer_id()
    try:
        with ctx.uow(actor) as uow:
            _refuse_known_uscc(uow.session, uscc)
            _refuse_region_gone(uow, region, cmd.enrolled_on)
            employer = Employer.enroll(employer_id, uscc, cmd.name, region, cmd.enrolled_on, classification)
            uow.save(employer)
            uow.session.execute(insert(employers).values(employer_row(employer)))
    except IntegrityError:  # a concurrent enrollment of the same USCC won the unique row
        with ctx.session_factory() as session:
            _refuse_known_uscc(session, uscc)
        raise
    return employer_view(employer)


def _refuse_region_gone(uow: Any, region: str, on: date) -> None:
    refuse_region_gone(uow.load(Pooling, POOLING_ID), region, on)


def refuse_region_gone(pooling: Pooling | None, region: str, on: date) -> None:
    """A pool consolidated away takes no employer from its date: enroll it in the new region."""
    if pooling is not None and (now_in := pooling.region_on(region, on)) != region:
        raise Invalid("region", f"belongs to region {now_in} on {on.isoformat()} (pools consolidated)")


def _refuse_known_uscc(session: Session, uscc: str) -> None:
    existing = session.execute(select(employers.c.employer_id).where(employers.c.uscc == uscc)).scalar()
    if existing is not None:
        raise Conflict(f"USCC {uscc} is already enrolled as employer {existing}", employer_id=existing)


def employer_row(employer: Employer) -> dict[str, Any]:
    c = employer.classification
    assert c is not None
    return {"employer_id": employer.id, "uscc": employer.uscc, "name": employer.name,
            "industry_code": c.industry_code, "division": c.division, "region": employer.region,
            "risk_class": c.risk_class, "base_rate": str(c.base_rate), "status": employer.status,
            "enrolled_on": employer.enrolled_on, "changed_on": employer.last_changed_on,
            "version": employer.version}


def employer_view(employer: Employer) -> dict[str, Any]:
    row = employer_row(employer)
    c = employer.classification
    assert c is not None
    row["policy_ref"] = c.policy_ref.model_dump(mode="json")
    return row


def _load_employer(uow: Any, employer_id: str) -> Employer:
    employer = uow.load(Employer, employer_id) if employer_id.startswith("er_") else None
    if employer is None:
        raise NotFound("employer", employer_id)
    return employer


def _save_employer(uow: Any, employer: Employer) -> None:
    uow.save(employer)
    row = employer_row(employer)
    uow.session.execute(update(employers).where(employers.c.employer_id == employer.id).values(row))


def change_employer_status(ctx: ServiceContext, actor: Actor, cmd: ChangeEmployerStatus) -> dict[str, Any]:
    with ctx.uow(actor) as uow:
        employer = _load_employer(uow, cmd.employer_id)
        employer.change_status(cmd.status, cmd.changed_on)
        _save_employer(uow, employer)
    return employer_view(employer)


def change_employer(ctx: ServiceContext, actor: Actor, cmd: ChangeEmployer) -> dict[str, Any]:
    if cmd.name is None and cmd.industry_code is None:
        raise Invalid("body", "give a new name or industry_code")
    with ctx.session_factory() as session:
        region = session.execute(select(employers.c.region).where(employers.c.employer_id == cmd.employer_id)).scalar()
    if region is None:
        raise NotFound("employer", cmd.employer_id)
    classification = None
    if cmd.industry_code is not None:
        classification = classify(ctx, region, cmd.changed_on, cmd.industry_code, "changed_on")
    with ctx.uow(actor) as uow:
        employer = _load_employer(uow, cmd.employer_id)
        employer.change(cmd.changed_on, name=cmd.name, classification=classification)
        _save_employer(uow, employer)
    return employer_view(employer)


# ---------------------------------------------------------------------------------- employees

def checked_account(field: str, account: BankAccountInput) -> BankAccount:
    bank_code = str(checked(f"{field}.bank_code", identifiers.check_cnaps, account.bank_code))
    account_no = str(checked(f"{field}.account_no", identifiers.check_account_no, account.account_no))
    return BankAccount(bank_code=bank_code, account_no=account_no, holder=account.holder)


def enroll_employee(ctx: ServiceContext, actor: Actor, cmd: EnrollEmployee) -> dict[str, Any]:
    id_number = checked("id_number", lambda s: identifiers.check_id_number(s, today=today()), cmd.id_number)
    number = id_number.value
    account = checked_account("bank_account", cmd.bank_account) if cmd.bank_account else None
    try:
        with ctx.uow(actor) as uow:
            employer = _load_employer(uow, cmd.employer_id)
            if employer.status == "closed":
                raise Conflict(f"employer {employer.id} is closed")
            known = uow.session.execute(
                select(workers.c.employee_id).where(workers.c.id_number == number)).scalar()
            worker = load_worker(uow, known) if known else Worker(new_employee_id())
            assert worker is not None, f"worker row {known} without events"
            worker.hire(employer.id, number, cmd.name, id_number.birth_date, id_number.sex, cmd.hired_on, account)
            uow.save(worker)
            _write_worker(uow.session, worker, new=known is None)
            uow.session.execute(insert(employments).values(
                employee_id=worker.id, employer_id=employer.id, hired_on=cmd.hired_on, active_employer_id=employer.id))
    except IntegrityError as exc:  # a concurrent enrollment of the same person got there first
        raise Conflict("the same worker was enrolled concurrently; retry") from exc
    return {"employee_id": worker.id, "employer_id": employer.id, "hired_on": cmd.hired_on,
            "new_worker": known is None}


def worker_row(worker: Worker) -> dict[str, Any]:
    """A new worker's row of the `workers` read model."""
    account = worker.bank_account
    return {"employee_id": worker.id, "id_number": worker.id_number, "birth_date": worker.birth_date,
            "sex": worker.sex, "name": worker.name, "bank_code": account.bank_code if account else None,
            "account_no": account.account_no if account else None, "holder": account.holder if account else None}


def _write_worker(session: Session, worker: Worker, new: bool, bank_changed_on: date | None = None) -> None:
    account = worker.bank_account
    row = {"name": worker.name, "bank_code": account.bank_code if account else None,
           "account_no": account.account_no if account else None, "holder": account.holder if account else None}
    if bank_changed_on is not None:
        row["bank_changed_on"] = bank_changed_on
    if new:
        session.execute(insert(workers).values(**worker_row(worker), **({"bank_changed_on": bank_changed_on}
                                                                       if bank_changed_on is not None else {})))
    else:
        session.execute(update(workers).where(workers.c.employee_id == worker.id).values(row))


def _load_worker_at(uow: Any, employer_id: str, employee_id: str) -> Worker:
    worker = load_worker(uow, employee_id) if employee_id.startswith("ee_") else None
    if worker is None or not any(e.employer_id == employer_id for e in worker.employments):
        raise NotFound("employee", f"{employee_id} of employer {employer_id}")
    return worker


def change_bank_account(ctx: ServiceContext, actor: Actor, cmd: ChangeBankAccount) -> dict[str, Any]:
    account = checked_account("bank_account", cmd.bank_account)
    with ctx.uow(actor) as uow:
        worker = _load_worker_at(uow, cmd.employer_id, cmd.employee_id)
        changed = worker.change_bank_account(account, cmd.changed_on)
        if changed:
            uow.save(worker)
            _write_worker(uow.session, worker, new=False, bank_changed_on=cmd.changed_on)
    return {"employee_id": worker.id, "changed": changed, "changed_on": cmd.changed_on}


def separate_employee(ctx: ServiceContext, actor: Actor, cmd: SeparateEmployee) -> dict[str, Any]:
    with ctx.uow(actor) as uow:
        worker = _load_worker_at(uow, cmd.employer_id, cmd.employee_id)
        worker.separate(cmd.employer_id, cmd.separated_on)
        uow.save(worker)
        uow.session.execute(
            update(employments)
            .where(employments.c.employee_id == worker.id, employments.c.active_employer_id == cmd.employer_id)
            .values(separated_on=cmd.separated_on, active_employer_id=None))
    return {"employee_id": worker.id, "employer_id": cmd.employer_id, "separated_on": cmd.separated_on}


# ------------------------------------------------------------------------------------ pooling

def consolidate_pools(ctx: ServiceContext, actor: Actor, cmd: ConsolidatePools) -> tuple[dict[str, Any], bool]:
    """RULES.md "Prevention and pooling": the pools of `from_regions` belong to `into_region`
    from `effective_from`. The same consolidation again answers the one recorded (new=False)."""
    into_region = str(checked("into_region", identifiers.check_region, cmd.into_region))
    from_regions = tuple(str(checked(f"from_regions.{i}", identifiers.check_region, r))
                         for i, r in enumerate(cmd.from_regions))
    if into_region == NATIONAL:
        raise Invalid("into_region", "the national default is not a pool")
    if NATIONAL in from_regions:
        raise Invalid(f"from_regions.{from_regions.index(NATIONAL)}", "the national default is not a pool")
    version = ctx.await_projection(lambda session: policy_in_force(session, into_region, cmd.effective_from))
    if version is None:
        raise Invalid("effective_from", f"no policy is in force in region {into_region} (nor nationally) "
                                        f"on {cmd.effective_from.isoformat()}")
    with ctx.uow(actor) as uow:
        pooling = uow.load(Pooling, POOLING_ID) or Pooling()
        event, new = pooling.consolidate(into_region, from_regions, cmd.effective_from,
                                         PolicyRef.model_validate(policy_ref(version)), today())
        if new:
            uow.save(pooling)
    return event.model_dump(mode="json"), new
