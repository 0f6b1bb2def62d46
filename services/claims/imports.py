"""Going live, the claims service's kinds (MIGRATION.md): `claims` and `dependents`.

A claim enters in the state its columns describe, by the same aggregate and the same checks as
the REST commands (application, decision, appraisal, termination, death), every event carrying
the row as its `source`:
- the insured wage is taken as given (`reason: legacy`), never re-derived from wages;
- `LegacyPaymentsRecorded` says what the old system paid: the recurring benefits through
  `paid_through`, the one-off grants if `one_off_paid`. The payments service derives every
  entitlement as usual and records those as settled outside the ledger, so the first payment run
  pays from the month after `paid_through`.
`dependents` of a deceased worker's claim are registered on it the same way.

The summary's totals carry the recurring benefits of the current month by kind and payer, worked
out by the entitlements derivation (a pure function) from the claim's own events, so the region
can reconcile them with the old system's monthly payroll of benefits.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from libs.events.envelope import Envelope
from libs.events.store import EventStore
from libs.events.tables import policy_versions
from libs.events.uow import UnitOfWork
from libs.imports.projection import legacy_refs
from libs.imports.rows import Row, RowRejected
from libs.imports.runner import Accepted, Outcome, in_one_savepoint, in_savepoint, source
from libs.imports.tables import TABLES
from libs.money import round_fen, yuan_str
from libs.policy.projection import NATIONAL
from libs.runtime.service import ServiceContext
from libs.web.problems import Problem

from . import handlers
from .domain.events import CARE_LEVELS, BankAccount, InsuredWageDetermined
from .domain.events import KINDS as CLAIM_KINDS
from .domain.insured_wage import floor_and_cap
from .domain.model import Claim, InvalidField, NewDependent, WrongState
from .tables import claims_employers, claims_employments, claims_separations, claims_workers

LOOKUP_CHUNK = 500
SAVE_CHUNK = 500  # new claims per append (libs.events.store.MAX_APPEND_BATCH events at most)
DECISIONS = ("recognized", "deemed", "rejected")


def _problem(exc: Problem | InvalidField | WrongState) -> RowRejected:
    """A refusal of the REST path (a problem, or the aggregate's) as a row's rejection."""
    if isinstance(exc, InvalidField):
        return RowRejected(exc.field, exc.message)
    if isinstance(exc, WrongState):
        return RowRejected("legacy_id", exc.detail)
    first = (exc.errors or [{"field": "legacy_id", "message": exc.detail}])[0]
    return RowRejected(first["field"], first["message"])


def _checked_rows(rows: Sequence[Row], check) -> dict[int, Any]:  # noqa: ANN001
    out: dict[int, Any] = {}
    for row in rows:
        try:
            out[row.number] = check(row)
        except RowRejected as exc:
            out[row.number] = exc
        except (Problem, InvalidField, WrongState) as exc:
            out[row.number] = _problem(exc)
    return out


def _not_future(row: Row, column: str, day: date | None, today: date) -> None:
    if day is not None and day > today:
        raise RowRejected(column, f"{day.isoformat()} is in the future")


Spans = tuple[list[date], list[date]]  # an employment's hires and separations


def employment_spans(session: Session, employee_ids: Sequence[str]) -> dict[tuple[str, str], Spans]:
    """The hires and separations of many workers, by (worker, employer): two queries a chunk."""
    ids = sorted(set(employee_ids))
    out: dict[tuple[str, str], Spans] = {}
    for i in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[i:i + LOOKUP_CHUNK]
        e, s = claims_employments.c, claims_separations.c
        for r in session.execute(select(e.employee_id, e.employer_id, e.hired_on).where(e.employee_id.in_(part))):
            out.setdefault((r.employee_id, r.employer_id), ([], []))[0].append(r.hired_on)
        for r in session.execute(select(s.employee_id, s.employer_id, s.separated_on).where(s.employee_id.in_(part))):
            out.setdefault((r.employee_id, r.employer_id), ([], []))[1].append(r.separated_on)
    return out


def employed_on(spans: Spans, on: date) -> bool:
    """`handlers.employed_on` over spans read already: the last hire on or before that day, and
    no separation after that hire and before that day (the day of separation is the last day)."""
    hires, separations = spans
    hired = max((h for h in hires if h <= on), default=None)
    return hired is not None and not any(hired <= left < on for left in separations)


def _by_key(session: Session, table, column, keys: Sequence[str]) -> dict[str, Any]:  # noqa: ANN001
    keys = sorted(set(keys))
    out = {}
    for i in range(0, len(keys), LOOKUP_CHUNK):
        for r in session.execute(select(table).where(column.in_(keys[i:i + LOOKUP_CHUNK]))):
            out[getattr(r, column.name)] = r
    return out


# ---- the month's recurring benefits, for the totals -----------------------------------------

class MonthBenefits:
    """The recurring benefits of one month of migrated claims, by kind and payer: the derivation
    of the entitlements (services.payments.entitlements.engine, pure) of that month alone, over
    the claim's events and the policies this service holds."""

    def __init__(self, session: Session, month: str) -> None:
        self.session, self.month = session, month
        self._policies: dict[str, list[Any]] = {}
        self._dues: dict[str, list[Any]] = {}

    def of(self, claim_id: str, payee: str | None = None, history: Sequence[Envelope] | None = None) -> dict[str, str]:
        """The month's recurring benefits of one claim (of one payee of it), from its events
        (`history`: all of them, as recorded; read from the store when not given)."""
        from services.payments.entitlements import engine

        out: dict[str, Decimal] = {}
        for d in self._month_dues(claim_id, history):
            if d.kind in engine.MONTHLY and d.month == self.month and (payee is None or d.payee == payee):
                key = f"recurring_benefits/{self.month}/{d.kind}/{d.payer}"
                out[key] = out.get(key, Decimal("0.00")) + d.calc.amount
        return {k: yuan_str(v) for k, v in out.items()}

    def _month_dues(self, claim_id: str, history: Sequence[Envelope] | None) -> list[Any]:
        """The claim's dues of the month, derived once (a claim's dependents share them)."""
        from services.payments.entitlements import engine

        if claim_id not in self._dues:
            if history is None:
                history = EventStore(self.session, "").read_aggregate(claim_id)
            facts = [engine.Fact(str(e.event_id), e.type, e.recorded_at, e.payload) for e in history]
            region = history[0].payload["region"]
            self._dues[claim_id] = engine.derive(facts, self._policy_facts(region), self.month,
                                                 from_month=self.month)
        return self._dues[claim_id]

    def _policy_facts(self, region: str) -> list[Any]:
        from libs.policy.document import PolicyDocument
        from libs.policy.resolve import PolicyVersion
        from services.payments.entitlements import engine

        if region not in self._policies:
            rows = self.session.execute(select(policy_versions).where(
                policy_versions.c.region.in_({region, NATIONAL}))).all()
            self._policies[region] = [engine.PolicyFact(PolicyVersion(
                r.region, r.effective_from, r.version, PolicyDocument.model_validate(json.loads(r.document)),
                r.event_id), engine.EPOCH) for r in rows]
        return self._policies[region]


class PolicyLimits:
    """`handlers.limits` of many claims' days: the versions of a region listed once, each version
    in force on some day read and parsed once (a province's claims fall on thousands of days)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._versions: dict[str, list[Any]] = {}
        self._limits: dict[tuple[str, int], handlers.Limits] = {}

    def on(self, region: str, day: date) -> handlers.Limits:
        """The limits of the policy in force in `region` on `day`, as `handlers.limits` gives them."""
        if region not in self._versions:
            v = policy_versions.c
            self._versions[region] = self.session.execute(select(v.region, v.version, v.effective_from).where(
                v.region.in_({region, NATIONAL}))).all()
        for candidate in (region, NATIONAL) if region != NATIONAL else (NATIONAL,):  # as policy_in_force
            found = max((r for r in self._versions[region] if r.region == candidate and r.effective_from <= day),
                        key=lambda r: (r.effective_from, r.version), default=None)
            if found is not None:
                key = (found.region, found.version)
                if key not in self._limits:
                    self._limits[key] = handlers.limits(self.session, region, day)
                return self._limits[key]
        return handlers.limits(self.session, region, day)  # none in force: its refusal


def current_month() -> str:
    day = handlers.today()
    return f"{day.year:04d}-{day.month:02d}"


# --------------------------------------------------------------------------------------- claims

@dataclass(frozen=True)
class LegacyClaim:
    application: handlers.Application
    employer: Any
    worker: Any
    decision: str
    decided_on: date
    insured_wage: Decimal | None
    grade: int | None
    care_level: str
    concluded_on: date | None
    terminated_on: date | None
    died_on: date | None
    one_off_paid: bool
    paid_through: str | None


class ClaimsKind:
    name = "claims"
    columns = ("legacy_id", "employee_legacy_id", "employer_legacy_id", "kind", "occurred_on", "applied_on",
               "decision", "decided_on", "grade", "care_level", "concluded_on", "insured_wage", "terminated_on",
               "died_on", "one_off_paid", "paid_through")
    optional = ("applicant", "description")

    def legacy_id(self, row: Row) -> str:
        return row.text("legacy_id", max_len=64)  # type: ignore[return-value]

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        today = handlers.today()
        with ctx.session_factory() as session:
            jobs = legacy_refs(session, "employees", [r["employee_legacy_id"] for r in rows])
            firms = legacy_refs(session, "employers", [r["employer_legacy_id"] for r in rows])
            employers = _by_key(session, claims_employers, claims_employers.c.employer_id,
                                [f.aggregate_id for f in firms.values()])  # type: ignore[attr-defined]
            workers = _by_key(session, claims_workers, claims_workers.c.employee_id,
                              [j.aggregate_id for j in jobs.values()])  # type: ignore[attr-defined]
            spans = employment_spans(session, [j.aggregate_id for j in jobs.values()])  # type: ignore[attr-defined]

            def check(row: Row) -> LegacyClaim:
                job = jobs.get(row["employee_legacy_id"])
                if job is None:
                    raise RowRejected("employee_legacy_id", f"no employee with legacy_id "
                                                            f"{row['employee_legacy_id'] or '(empty)'} is imported")
                firm = firms.get(row["employer_legacy_id"])
                if firm is None:
                    raise RowRejected("employer_legacy_id", f"no employer with legacy_id "
                                                            f"{row['employer_legacy_id'] or '(empty)'} is imported")
                if job.employer_id != firm.aggregate_id:  # type: ignore[attr-defined]
                    raise RowRejected("employee_legacy_id", f"is an employment at another employer than "
                                                            f"{row['employer_legacy_id']}")
                employer, worker = employers.get(firm.aggregate_id), workers.get(job.aggregate_id)  # type: ignore[attr-defined]
                if employer is None or worker is None:
                    raise RowRejected("employee_legacy_id", "the enrollment of this worker is not known here yet; "
                                                            "post the row again")
                return self._check(spans, row, employer, worker, today)

            return _checked_rows(rows, check)

    @staticmethod
    def _check(spans: dict[tuple[str, str], Spans], row: Row, employer: Any, worker: Any, today: date) -> LegacyClaim:
        kind = row.text("kind")
        if kind not in CLAIM_KINDS:
            raise RowRejected("kind", f"must be one of {', '.join(CLAIM_KINDS)}")
        occurred_on, applied_on = row.day("occurred_on"), row.day("applied_on")
        decided_on = row.day("decided_on")
        for column, day in (("occurred_on", occurred_on), ("applied_on", applied_on), ("decided_on", decided_on)):
            _not_future(row, column, day, today)
        if applied_on < occurred_on:  # type: ignore[operator]
            raise RowRejected("applied_on", "must not be before occurred_on")
        if decided_on < applied_on:  # type: ignore[operator]
            raise RowRejected("decided_on", f"must not be before the application ({applied_on})")
        if not employed_on(spans.get((worker.employee_id, employer.employer_id), ([], [])), occurred_on):  # type: ignore[arg-type]
            raise RowRejected("occurred_on", f"the worker was not employed by {row['employer_legacy_id']} on "
                                             f"{occurred_on}")
        applicant = row["applicant"] or "employer"
        if applicant not in ("employer", "worker"):
            raise RowRejected("applicant", "must be employer or worker (empty: employer)")
        decision = row.text("decision")
        if decision not in DECISIONS:
            raise RowRejected("decision", f"must be one of {', '.join(DECISIONS)}")
        appraisal = [c for c in ("grade", "care_level", "concluded_on", "terminated_on") if row[c]]
        if decision == "rejected":
            given = appraisal + [c for c in ("insured_wage", "died_on", "paid_through") if row[c]]
            if given or row.flag("one_off_paid"):
                raise RowRejected(given[0] if given else "one_off_paid", "a rejected claim has no benefits")
        insured_wage = row.money("insured_wage", required=decision != "rejected")
        if insured_wage is not None and insured_wage <= 0:
            raise RowRejected("insured_wage", "must be greater than 0")
        grade = row.integer("grade", low=1, high=10)
        care_level = row["care_level"] or "none"
        if care_level not in CARE_LEVELS:
            raise RowRejected("care_level", f"must be one of {', '.join(CARE_LEVELS)} (empty: none)")
        concluded_on = row.day("concluded_on", required=bool(appraisal))
        _not_future(row, "concluded_on", concluded_on, today)
        terminated_on = row.day("terminated_on", required=False)
        _not_future(row, "terminated_on", terminated_on, today)
        died_on = row.day("died_on", required=kind == "death")
        _not_future(row, "died_on", died_on, today)
        paid_through = row.month("paid_through", required=False)
        if paid_through is not None:
            if paid_through > current_month():
                raise RowRejected("paid_through", f"is after the current month {current_month()}")
            if paid_through < f"{occurred_on.year:04d}-{occurred_on.month:02d}":  # type: ignore[union-attr]
                raise RowRejected("paid_through", "is before the month of the injury")
        description = row.text("description", required=False, max_len=2000) or ""
        application = handlers.Application(employer.employer_id, worker.employee_id, kind, occurred_on,  # type: ignore[arg-type]
                                           applied_on, applicant, description)  # type: ignore[arg-type]
        return LegacyClaim(application, employer, worker, decision, decided_on, insured_wage, grade,  # type: ignore[arg-type]
                           care_level, concluded_on, terminated_on, died_on, row.flag("one_off_paid"), paid_through)

    def record(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, LegacyClaim]]) -> dict[int, Outcome]:
        """Every claim is new: built in memory by the aggregate (a refusal rejects its row), the
        chunk's claims recorded in one append in one savepoint (a chunk that meets a concurrent
        record goes row by row), the totals read back from what was recorded."""
        session = uow.session
        benefits = MonthBenefits(session, current_month())
        limits = PolicyLimits(session)

        def build(row: Row, c: LegacyClaim) -> Claim:
            src = source(import_id, self.name, row)
            try:
                lim = limits.on(c.employer.region, c.application.occurred_on)
                event = handlers.application_event(session, handlers.new_claim_id(), c.application, c.employer,
                                                   c.worker, src, lim)
                claim = Claim.apply_for(event.claim_id, event)
                with claim.sourced(src):
                    claim.decide(c.decision, c.decided_on, f"migrated from the old system ({row.legacy_id})",
                                 lim.appraisal_days)
                    if c.decision != "rejected":
                        claim.determine_insured_wage(self._insured_wage(claim, c, lim))
                    if c.concluded_on is not None:
                        claim.appraise(c.grade, c.care_level, c.concluded_on, lim.reappraisal_min_months)
                    if c.terminated_on is not None:
                        claim.terminate(c.terminated_on)
                    if c.died_on is not None:
                        claim.die(c.died_on, [], lim.dependent_child_age_limit)
                    if c.decision != "rejected":
                        claim.record_legacy_payments(c.paid_through, c.one_off_paid, handlers.today())
            except (Problem, InvalidField, WrongState) as exc:
                raise _problem(exc) from None
            return claim

        def accepted(claim: Claim, c: LegacyClaim, history: Sequence[Envelope]) -> Accepted:
            totals: dict[str, Any] = {"claims": 1}
            if c.decision != "rejected":
                totals.update(benefits.of(claim.id, history=history))
            return Accepted(claim.id, totals)

        def enter(row: Row, c: LegacyClaim) -> Accepted:
            claim = build(row, c)
            return accepted(claim, c, uow.save(claim))

        out: dict[int, Outcome] = {}
        built: list[tuple[Row, LegacyClaim, Claim]] = []
        for row, c in rows:
            try:
                built.append((row, c, build(row, c)))
            except RowRejected as exc:
                out[row.number] = exc

        recorded: dict[str, list[Envelope]] = {}  # each claim's events, as appended

        def write() -> None:
            for i in range(0, len(built), SAVE_CHUNK):
                for e in uow.save_new([claim for _row, _c, claim in built[i:i + SAVE_CHUNK]]):
                    recorded.setdefault(e.aggregate_id, []).append(e)

        if in_one_savepoint(uow, write):
            out.update({row.number: accepted(claim, c, recorded[claim.id]) for row, c, claim in built})
        else:
            out.update({row.number: in_savepoint(uow, lambda row=row, c=c: enter(row, c)) for row, c, _ in built})
        return out

    @staticmethod
    def _insured_wage(claim: Claim, c: LegacyClaim, lim: handlers.Limits) -> InsuredWageDetermined:
        """R.64's figure as the old system fixed it: taken as given, not floored, capped or
        re-derived (the policy's floor and cap are recorded beside it for reference)."""
        floor, cap = floor_and_cap(lim.average_monthly_wage, lim.floor_ratio, lim.cap_ratio)
        wage = round_fen(c.insured_wage)  # type: ignore[arg-type]
        return InsuredWageDetermined(
            claim_id=claim.id, employee_id=claim.app.employee_id, average_wage=wage, insured_wage=wage, months=[],
            floor=floor, cap=cap, policy_ref=lim.ref, reason="legacy",
            derivation=f"taken as given from the old system at go-live ({yuan_str(wage)}), not derived from "
                       "wage history", determined_on=c.decided_on)


# ----------------------------------------------------------------------------------- dependents

@dataclass(frozen=True)
class LegacyDependent:
    claim_id: str
    dependent: NewDependent


class DependentsKind:
    name = "dependents"
    columns = ("legacy_id", "claim_legacy_id", "id_number", "name", "relation", "born_on", "orphan_or_lone_elder",
               "bank_code", "account_no", "holder")
    optional = ()

    def legacy_id(self, row: Row) -> str:
        return row.text("legacy_id", max_len=64)  # type: ignore[return-value]

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        from .api import DependentIn  # the REST route's own checks of a dependent

        t = TABLES.import_rows
        keys = sorted({r["claim_legacy_id"] for r in rows if r["claim_legacy_id"]})
        claims: dict[str, str] = {}
        with ctx.session_factory() as session:
            for i in range(0, len(keys), LOOKUP_CHUNK):
                claims.update(session.execute(select(t.c.legacy_id, t.c.ref_id).where(
                    t.c.kind == "claims", t.c.legacy_id.in_(keys[i:i + LOOKUP_CHUNK]))).all())
        today = handlers.today()

        def check(row: Row) -> LegacyDependent:
            claim_id = claims.get(row["claim_legacy_id"])
            if claim_id is None:
                raise RowRejected("claim_legacy_id", f"no claim with legacy_id {row['claim_legacy_id'] or '(empty)'} "
                                                     "is imported")
            account = {c: row[c] for c in ("bank_code", "account_no", "holder")}
            if any(account.values()):
                missing = [c for c, v in account.items() if not v]
                if missing:
                    raise RowRejected(missing[0], "is required with a bank account (bank_code, account_no, holder)")
            try:
                d = DependentIn.model_validate({
                    "id_number": row["id_number"], "name": row["name"], "relation": row["relation"],
                    "born_on": row["born_on"], "orphan_or_lone_elder": row.flag("orphan_or_lone_elder"),
                    "bank_account": account if any(account.values()) else None})
            except ValidationError as exc:
                first = exc.errors()[0]
                column = str(first["loc"][-1]) if first["loc"] else "legacy_id"
                message = str(first["msg"]).removeprefix("Value error, ")
                raise RowRejected(column, message) from None
            _not_future(row, "born_on", d.born_on, today)
            bank = BankAccount(**d.bank_account.model_dump()) if d.bank_account else None
            return LegacyDependent(claim_id, NewDependent(d.id_number, d.name, d.relation, d.born_on,
                                                          d.orphan_or_lone_elder, bank))

        return _checked_rows(rows, check)

    def record(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, LegacyDependent]]) -> dict[int, Outcome]:
        """A claim's dependents in the request are registered together, as the death's own
        command registers them: one append (one moment, so the entitlements learn the family at
        once), each row's event carrying its row as its source and a refusal rejecting its row
        alone. The chunk's claims in one savepoint; one that meets a concurrent record goes
        claim by claim (that claim's rows are refused: post them again)."""
        session = uow.session
        policies = PolicyLimits(session)
        by_claim: dict[str, list[tuple[Row, LegacyDependent]]] = {}
        for row, d in rows:
            by_claim.setdefault(d.claim_id, []).append((row, d))

        stored = uow.store.read_aggregates(list(by_claim))  # the chunk's claims, read together

        def register(claim_id: str, items: list[tuple[Row, LegacyDependent]], history: list[Envelope] | None = None
                     ) -> tuple[Claim, list[Envelope], dict[int, Outcome]]:
            history = uow.store.read_aggregate(claim_id) if history is None else history
            if not history:
                raise RowRejected("claim_legacy_id", f"claim {claim_id} does not exist")
            claim = Claim.rehydrate(claim_id, history)
            limit = policies.on(claim.app.region, claim.app.occurred_on).dependent_child_age_limit
            outcomes: dict[int, Outcome] = {}
            for row, d in items:
                try:
                    with claim.sourced(source(import_id, self.name, row)):
                        claim.register_dependent(d.dependent, limit)
                except (InvalidField, WrongState) as exc:
                    outcomes[row.number] = _problem(exc)
                    continue
                outcomes[row.number] = Accepted(claim.history.dependents[-1].dependent_id, {"dependents": 1})
            return claim, history, outcomes

        out: dict[int, Outcome] = {}
        histories: dict[str, list[Envelope]] = {}  # each claim's events, with those appended here
        built: list[tuple[Claim, list[Envelope]]] = []
        for claim_id, items in by_claim.items():
            try:
                claim, history, outcomes = register(claim_id, items, stored.get(claim_id, []))
            except RowRejected as exc:
                out.update({row.number: exc for row, _d in items})
                continue
            out.update(outcomes)
            built.append((claim, history))

        def write() -> None:
            for claim, history in built:
                histories[claim.id] = [*history, *uow.save(claim)]

        if not in_one_savepoint(uow, write):
            histories.clear()

            def enter(claim_id: str, items: list[tuple[Row, LegacyDependent]]) -> dict[int, Outcome]:
                claim, history, outcomes = register(claim_id, items)
                histories[claim_id] = [*history, *uow.save(claim)]
                return outcomes

            for claim, _history in built:
                items = by_claim[claim.id]
                done = in_savepoint(uow, lambda claim_id=claim.id, items=items: enter(claim_id, items))
                out.update(done if not isinstance(done, RowRejected) else {row.number: done for row, _d in items})
        # each dependent's survivor pension of the month, with every dependent of the request known
        benefits = MonthBenefits(session, current_month())
        for row, d in rows:
            outcome = out[row.number]
            if isinstance(outcome, Accepted):
                outcome.totals.update(benefits.of(d.claim_id, payee=f"dependent:{outcome.ref_id}",
                                                  history=histories[d.claim_id]))
        return out


KINDS = (ClaimsKind(), DependentsKind())
