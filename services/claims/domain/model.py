"""The claim aggregate: one injury (or one occupational disease) of one worker, from the
application to the grade, the death of the worker, and the closure.

States and the commands each accepts (anything else is a `WrongState`, answered 409):

    (new)            apply                  → applied
    applied          decide                 → recognized | deemed | rejected
                     die                    → deceased
    recognized/deemed grant_treatment_leave → on_treatment_leave
                     appraise               → appraised
    on_treatment_leave grant_treatment_leave (extension), appraise
    appraised        appraise (re-appraisal, R.28), terminate (grades 5–10), arrange_work (grades 5–6),
                     die, close
    terminated       die, close
    deceased         close
    rejected         close
    closed           nothing

Appeals (R.55, R.26), in every state from the decision on but closed: `lodge_appeal` on the
recognition decision in force (reconsideration, litigation) or on the appraisal conclusion in
force (the provincial committee, whose conclusion is final), one open appeal per subject;
`decide_appeal` upholds, overturns or modifies it. The decision replaces the disputed one from
that one's own date: a rejection overturned recognizes the claim as from its decision (the state
follows its history: recognized, on leave, appraised…); a recognition revoked makes it
`rejected`; a committee's conclusion replaces the disputed appraisal.

Death is accepted once, in every state after the application but rejected and closed; a death
before the decision leaves the claim `applied` (it is still decided, then becomes `deceased`). The aggregate
is pure: the limits (leave months, re-appraisal months, the child age limit) come in as
arguments from the policy in force, and a bad value is an `InvalidField` (answered 422).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Sequence

from libs.events.aggregate import Aggregate

from . import deadlines
from .events import (
    CARE_LEVELS,
    OUTCOMES,
    RELATIONS,
    ROUTES_BY_SUBJECT,
    AppealDecided,
    AppealLodged,
    BankAccount,
    ClaimClosed,
    DependentRegistered,
    EmploymentTerminated,
    GradeAssigned,
    InjuryApplied,
    InjuryRecognized,
    InjuryRejected,
    InsuredWageDetermined,
    LegacyPaymentsRecorded,
    TreatmentLeaveGranted,
    WorkArrangementRecorded,
    WorkerDied,
)

MAX_DEPENDENTS = 20
MAX_LEAVE_GRANTS = 100
TERMINATION_GRADES = range(5, 11)  # R.36–37: grades 5–10 may end their employment
WORK_ARRANGEMENT_GRADES = (5, 6)  # R.36: the employer arranges suitable work, or pays the allowance
MAX_ARRANGEMENTS = 100
MAX_APPEALS = 20
UNSET = object()  # a field the command did not give (a grade of null is "no disability")
GRADES = range(1, 11)


class WrongState(Exception):
    """The command does not fit the claim's state (409)."""

    def __init__(self, claim_id: str, status: str, action: str, detail: str = "") -> None:
        self.status = status
        self.detail = detail or f"claim {claim_id} is {status}: it cannot {action}"
        super().__init__(self.detail)


class InvalidField(Exception):
    """A bad value in a command (422 naming the field)."""

    def __init__(self, field_: str, message: str) -> None:
        self.field, self.message = field_, message
        super().__init__(f"{field_}: {message}")


@dataclass(frozen=True)
class Leave:
    start: date
    end: date
    extension: bool


@dataclass(frozen=True)
class Appraisal:
    grade: int | None
    care_level: str
    concluded_on: date
    reappraisal: bool
    committee: bool = False  # the provincial committee's conclusion, replacing this one (R.26): final


@dataclass
class Appeal:
    appeal_id: str
    subject: str
    route: str
    lodged_on: date
    lodged_by: str
    due_by: date
    disputed_on: date
    disputed_decision: str | None
    disputed_grade: int | None
    disputed_care_level: str | None
    status: str = "open"  # open | upheld | overturned | modified
    decided_on: date | None = None
    decision: str | None = None
    grade: int | None = None
    care_level: str | None = None


@dataclass(frozen=True)
class Dependent:
    dependent_id: str
    id_number: str
    name: str
    relation: str
    born_on: date
    orphan_or_lone_elder: bool
    bank_account: BankAccount | None
    qualifies_until: date | None


@dataclass(frozen=True)
class NewDependent:
    """A dependent as the command gives it (validated here, numbered by the aggregate)."""

    id_number: str
    name: str
    relation: str
    born_on: date
    orphan_or_lone_elder: bool
    bank_account: BankAccount | None


@dataclass(frozen=True)
class Arrangement:
    arranged: bool
    effective_from: date


@dataclass
class History:
    appeals: list[Appeal] = field(default_factory=list)
    arrangements: list[Arrangement] = field(default_factory=list)
    leaves: list[Leave] = field(default_factory=list)
    appraisals: list[Appraisal] = field(default_factory=list)
    dependents: list[Dependent] = field(default_factory=list)
    wages: list[InsuredWageDetermined] = field(default_factory=list)


class Claim(Aggregate):
    aggregate_type = "claim"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = "new"
        self.application: InjuryApplied | None = None
        self.decision: str | None = None
        self.decided_on: date | None = None
        self.decision_received_on: date | None = None  # the decision in force, as received (appeals count from it)
        self.basis: str = ""
        self.appraisal_due_on: date | None = None
        self.died_on: date | None = None
        self.grade_at_death: int | None = None
        self.terminated_on: date | None = None
        self.closed_on: date | None = None
        self.close_reason: str = ""
        self.legacy_paid_through: str | None = None
        self.legacy_recorded = False
        self.history = History()

    # -- reading ----------------------------------------------------------------------------

    @property
    def app(self) -> InjuryApplied:
        assert self.application is not None, "a claim exists from its application on"
        return self.application

    @property
    def grade(self) -> int | None:
        """The grade in force: the last appraisal's (a re-appraisal supersedes, R.28)."""
        return self.history.appraisals[-1].grade if self.history.appraisals else None

    @property
    def insured_wage(self) -> Decimal | None:
        return self.history.wages[-1].insured_wage if self.history.wages else None

    def _require(self, allowed: Sequence[str], action: str) -> None:
        if self.status not in allowed:
            raise WrongState(self.id, self.status, action)

    # -- deciding ---------------------------------------------------------------------------

    @classmethod
    def apply_for(cls, claim_id: str, application: InjuryApplied) -> "Claim":
        """The application (R.17). Dates, the worker and the deadline are checked by the caller
        against the enrollment projection and the policy; here only what the claim itself says."""
        if application.applied_on < application.occurred_on:
            raise InvalidField("applied_on", "must not be before occurred_on")
        claim = cls(claim_id)
        claim.trigger(application, application.applied_on)
        return claim

    def decide(self, decision: str, decided_on: date, basis: str, appraisal_days: int) -> None:
        """R.14–16, R.20: recognized, deemed or rejected, once."""
        self._require(("applied",), "be decided")
        if decided_on < self.app.applied_on:
            raise InvalidField("decided_on", f"must not be before the application ({self.app.applied_on})")
        ids = {"employer_id": self.app.employer_id, "employee_id": self.app.employee_id}
        if decision == "rejected":
            self.trigger(InjuryRejected(claim_id=self.id, decided_on=decided_on, basis=basis, **ids), decided_on)
            return
        if decision not in ("recognized", "deemed"):
            raise InvalidField("decision", "must be recognized, deemed or rejected")
        self.trigger(InjuryRecognized(
            claim_id=self.id, decision=decision, decided_on=decided_on, basis=basis,  # type: ignore[arg-type]
            appraisal_due_on=deadlines.appraisal_due_on(decided_on, appraisal_days), **ids), decided_on)

    def determine_insured_wage(self, determined: InsuredWageDetermined) -> bool:
        """R.64: record the insured wage; on a wage correction only if the figure changed (so a
        redelivered correction emits nothing twice). Returns whether an event was recorded."""
        if self.status in ("new", "applied", "rejected"):
            raise WrongState(self.id, self.status, "have an insured wage")
        last = self.history.wages[-1] if self.history.wages else None
        if last is not None and last.reason == "legacy" and determined.reason == "wage_corrected":
            return False  # taken as given at go-live: the wage history does not re-derive it
        if last is not None and determined.reason == "wage_corrected" and (
            last.insured_wage == determined.insured_wage and last.average_wage == determined.average_wage
            and list(last.months) == list(determined.months)
        ):
            return False
        self.trigger(determined, determined.determined_on or self.decided_on or self.app.applied_on)
        return True

    def grant_treatment_leave(self, start: date, end: date, standard_months: int, extension_months: int,
                              appraisal_days: int) -> None:
        """R.33: treatment leave of usually ≤ `standard_months` (12) from its first day, extended
        by further grants to ≤ `extension_months` (12) more; grants follow each other day by day."""
        self._require(("recognized", "deemed", "on_treatment_leave"), "grant treatment leave")
        if end < start:
            raise InvalidField("end", "must not be before start")
        leaves = self.history.leaves
        if len(leaves) >= MAX_LEAVE_GRANTS:
            raise InvalidField("start", f"at most {MAX_LEAVE_GRANTS} grants of leave on one claim")
        if not leaves:
            if start < self.app.occurred_on:
                raise InvalidField("start", f"must not be before the injury ({self.app.occurred_on})")
            limit = deadlines.treatment_leave_limit(start, standard_months)
            extension = False
        else:
            expected = leaves[-1].end + timedelta(days=1)
            if start != expected:
                raise InvalidField("start", f"an extension starts the day after the leave granted so far ({expected})")
            limit = deadlines.treatment_leave_limit(leaves[0].start, standard_months + extension_months)
            extension = True
        if end > limit:
            months = standard_months + (extension_months if extension else 0)
            raise InvalidField("end", f"beyond the maximum of {months} months of treatment leave (last day {limit})")
        self.trigger(TreatmentLeaveGranted(
            claim_id=self.id, start=start, end=end, extension=extension,
            employer_id=self.app.employer_id, employee_id=self.app.employee_id,
            appraisal_due_on=deadlines.appraisal_due_on(end, appraisal_days)), start)

    def appraise(self, grade: int | None, care_level: str, concluded_on: date, reappraisal_min_months: int) -> None:
        """The disability appraisal (R.21–26); a re-appraisal (R.28) no sooner than
        `reappraisal_min_months` after the last conclusion, applying from its own date."""
        self._require(("recognized", "deemed", "on_treatment_leave", "appraised"), "be appraised")
        if grade is not None and grade not in GRADES:
            raise InvalidField("grade", "must be 1 to 10, or null for no disability")
        if care_level not in CARE_LEVELS:
            raise InvalidField("care_level", f"must be one of {', '.join(CARE_LEVELS)}")
        reappraisal = bool(self.history.appraisals)
        if reappraisal:
            last = self.history.appraisals[-1].concluded_on
            earliest = deadlines.reappraisal_earliest(last, reappraisal_min_months)
            if concluded_on < earliest:
                raise InvalidField("concluded_on", f"a re-appraisal is possible from {earliest} "
                                   f"({reappraisal_min_months} months after the conclusion of {last})")
        elif concluded_on < self.app.occurred_on:
            raise InvalidField("concluded_on", f"must not be before the injury ({self.app.occurred_on})")
        self.trigger(GradeAssigned(
            claim_id=self.id, grade=grade, care_level=care_level, concluded_on=concluded_on,  # type: ignore[arg-type]
            reappraisal=reappraisal, employer_id=self.app.employer_id, employee_id=self.app.employee_id),
            concluded_on)

    def terminate(self, terminated_on: date) -> None:
        """R.36–37: a worker of grade 5–10 ends the employment (one-off grants follow)."""
        self._require(("appraised",), "end the employment")
        grade = self.grade
        if grade is None or grade not in TERMINATION_GRADES:
            shown = "no disability" if grade is None else f"grade {grade}"
            raise WrongState(self.id, self.status, "end the employment",
                             f"claim {self.id} is appraised at {shown}: termination applies to grades 5–10 only")
        last = self.history.appraisals[-1].concluded_on
        if terminated_on < last:
            raise InvalidField("terminated_on", f"must not be before the appraisal ({last})")
        self.trigger(EmploymentTerminated(
            claim_id=self.id, terminated_on=terminated_on, grade=grade,
            employer_id=self.app.employer_id, employee_id=self.app.employee_id), terminated_on)

    def arrange_work(self, arranged: bool, effective_from: date) -> None:
        """R.36: a worker of grade 5–6 stays employed; the employer arranges suitable work or pays
        the monthly allowance. Recorded from a day on (each record supersedes from its own day)."""
        self._require(("appraised",), "record a work arrangement")
        grade = self.grade
        if grade not in WORK_ARRANGEMENT_GRADES:
            shown = "no disability" if grade is None else f"grade {grade}"
            raise WrongState(self.id, self.status, "record a work arrangement",
                             f"claim {self.id} is appraised at {shown}: a work arrangement applies to grades 5–6 only")
        if len(self.history.arrangements) >= MAX_ARRANGEMENTS:
            raise InvalidField("from", f"at most {MAX_ARRANGEMENTS} work arrangements on one claim")
        last = self.history.appraisals[-1].concluded_on
        if effective_from < last:
            raise InvalidField("from", f"must not be before the appraisal in force ({last})")
        self.trigger(WorkArrangementRecorded(
            claim_id=self.id, arranged=arranged, effective_from=effective_from, grade=grade,
            employer_id=self.app.employer_id, employee_id=self.app.employee_id), effective_from)

    def die(self, died_on: date, dependents: Sequence[NewDependent], dependent_child_age_limit: int) -> None:
        """The worker died: in the accident (kind `death`) or later of the injury (R.39). The
        grade in force is recorded, since grades 1–4 then get no one-off death grant."""
        self._require(("applied", "recognized", "deemed", "on_treatment_leave", "appraised", "terminated"),
                      "record a death")
        if self.died_on is not None:
            raise WrongState(self.id, self.status, "record a death",
                             f"claim {self.id} is {self.status}: the worker's death on {self.died_on} is recorded already")
        if died_on < self.app.occurred_on:
            raise InvalidField("died_on", f"must not be before the injury ({self.app.occurred_on})")
        if len(dependents) > MAX_DEPENDENTS:
            raise InvalidField("dependents", f"at most {MAX_DEPENDENTS} dependents")
        spouses = 0
        for i, d in enumerate(dependents):
            if d.relation not in RELATIONS:
                raise InvalidField(f"dependents.{i}.relation", f"must be one of {', '.join(RELATIONS)}")
            spouses += d.relation == "spouse"
            if spouses > 1:
                raise InvalidField(f"dependents.{i}.relation", "at most one spouse")
        ids = {d.id_number for d in dependents}
        if len(ids) != len(dependents):
            raise InvalidField("dependents", "the same id_number is given twice")
        self.trigger(WorkerDied(claim_id=self.id, employee_id=self.app.employee_id, died_on=died_on,
                                grade_at_death=self.grade, employer_id=self.app.employer_id), died_on)
        for i, d in enumerate(dependents, start=len(self.history.dependents) + 1):
            until = (deadlines.child_qualifies_until(d.born_on, dependent_child_age_limit)
                     if d.relation == "child" else None)
            self.trigger(DependentRegistered(
                claim_id=self.id, dependent_id=f"{self.id}-d{i}", id_number=d.id_number, name=d.name,
                relation=d.relation, born_on=d.born_on, orphan_or_lone_elder=d.orphan_or_lone_elder,  # type: ignore[arg-type]
                bank_account=d.bank_account, qualifies_until=until, employee_id=self.app.employee_id), died_on)

    def register_dependent(self, d: NewDependent, dependent_child_age_limit: int) -> None:
        """A survivor of a worker whose death is recorded already (a migrated claim's dependents
        come in their own file, MIGRATION.md), checked as at the death."""
        if self.died_on is None:
            raise WrongState(self.id, self.status, "register a dependent",
                             f"claim {self.id} is {self.status}: no death is recorded on it")
        if self.status == "closed":
            raise WrongState(self.id, self.status, "register a dependent")
        if len(self.history.dependents) >= MAX_DEPENDENTS:
            raise InvalidField("claim_legacy_id", f"at most {MAX_DEPENDENTS} dependents")
        if d.relation not in RELATIONS:
            raise InvalidField("relation", f"must be one of {', '.join(RELATIONS)}")
        if d.relation == "spouse" and any(x.relation == "spouse" for x in self.history.dependents):
            raise InvalidField("relation", "at most one spouse")
        if any(x.id_number == d.id_number for x in self.history.dependents):
            raise InvalidField("id_number", "is registered on this claim already")
        until = (deadlines.child_qualifies_until(d.born_on, dependent_child_age_limit)
                 if d.relation == "child" else None)
        self.trigger(DependentRegistered(
            claim_id=self.id, dependent_id=f"{self.id}-d{len(self.history.dependents) + 1}", id_number=d.id_number,
            name=d.name, relation=d.relation, born_on=d.born_on,  # type: ignore[arg-type]
            orphan_or_lone_elder=d.orphan_or_lone_elder, bank_account=d.bank_account, qualifies_until=until,
            employee_id=self.app.employee_id), self.died_on)

    def record_legacy_payments(self, paid_through: str | None, one_off_paid: bool, on: date) -> None:
        """Going live (MIGRATION.md): what the old system paid on this claim — the recurring
        benefits through `paid_through`, the one-off grants so far if `one_off_paid` — once."""
        if self.legacy_paid_through is not None or self.legacy_recorded:
            raise WrongState(self.id, self.status, "record the old system's payments twice")
        self.trigger(LegacyPaymentsRecorded(
            claim_id=self.id, paid_through=paid_through, one_off_paid=one_off_paid,
            employer_id=self.app.employer_id, employee_id=self.app.employee_id), on)

    def close(self, closed_on: date, reason: str) -> None:
        self._require(("rejected", "recognized", "deemed", "on_treatment_leave", "appraised", "terminated",
                       "deceased"), "be closed")
        latest = max([self.app.applied_on, self.decided_on or self.app.applied_on, self.died_on or self.app.applied_on,
                      self.terminated_on or self.app.applied_on]
                     + [a.concluded_on for a in self.history.appraisals])
        if closed_on < latest:
            raise InvalidField("closed_on", f"must not be before the claim's last event ({latest})")
        self.trigger(ClaimClosed(claim_id=self.id, closed_on=closed_on, reason=reason,
                                 employer_id=self.app.employer_id, employee_id=self.app.employee_id), closed_on)

    # -- appeals (R.55, R.26) -----------------------------------------------------------------

    def appeal(self, appeal_id: str) -> Appeal | None:
        return next((a for a in self.history.appeals if a.appeal_id == appeal_id), None)

    def lodge_appeal(self, subject: str, route: str, lodged_on: date, lodged_by: str,
                     appeal_days: dict[str, int]) -> AppealLodged:
        """An appeal against the recognition decision in force (reconsideration or litigation,
        R.55) or the appraisal conclusion in force (the provincial committee, R.26), lodged by
        the worker or the employer within the policy's days of receiving it (day N in time)."""
        if self.status in ("new", "closed") or (subject == "recognition" and self.decision is None):
            raise WrongState(self.id, self.status, f"take its {subject} to appeal")
        if route not in ROUTES_BY_SUBJECT.get(subject, ()):
            raise InvalidField("route", f"a {subject} is appealed by {' or '.join(ROUTES_BY_SUBJECT.get(subject, ()))}")
        if len(self.history.appeals) >= MAX_APPEALS:
            raise InvalidField("subject", f"at most {MAX_APPEALS} appeals on one claim")
        if subject == "recognition":
            assert self.decided_on is not None and self.decision_received_on is not None
            disputed_on, received_on = self.decided_on, self.decision_received_on
            disputed = {"disputed_decision": self.decision}
        else:
            if not self.history.appraisals:
                raise WrongState(self.id, self.status, "take its appraisal to appeal",
                                 f"claim {self.id} is {self.status}: it has no appraisal conclusion to appeal")
            last = self.history.appraisals[-1]
            if last.committee or any(a.subject == "appraisal" and a.disputed_on == last.concluded_on
                                     and a.status != "open" for a in self.history.appeals):
                raise WrongState(self.id, self.status, "take its appraisal to appeal",
                                 f"claim {self.id}: the provincial committee has decided on the conclusion of "
                                 f"{last.concluded_on}; its decision is final (R.26)")
            disputed_on = received_on = last.concluded_on
            disputed = {"disputed_grade": last.grade, "disputed_care_level": last.care_level}
        if any(a.subject == subject and a.status == "open" for a in self.history.appeals):
            raise WrongState(self.id, self.status, f"take its {subject} to appeal",
                             f"claim {self.id} has an open appeal on its {subject}: decide it first")
        due_by = deadlines.appeal_due_by(received_on, appeal_days[route])
        if lodged_on < received_on:
            raise InvalidField("lodged_on", f"must not be before the disputed {subject} of {received_on}")
        if lodged_on > due_by:
            article = "R.26" if subject == "appraisal" else "R.55"
            raise InvalidField("lodged_on", f"too late: a {route.replace('_', ' ')} of the {subject} received on "
                               f"{received_on} is lodged by {due_by} ({appeal_days[route]} days, {article})")
        event = AppealLodged(
            claim_id=self.id, appeal_id=f"{self.id}-a{len(self.history.appeals) + 1}", subject=subject,  # type: ignore[arg-type]
            route=route, lodged_on=lodged_on, lodged_by=lodged_by, due_by=due_by, disputed_on=disputed_on,  # type: ignore[arg-type]
            employer_id=self.app.employer_id, employee_id=self.app.employee_id, **disputed)
        self.trigger(event, lodged_on)
        return event

    def decide_appeal(self, appeal_id: str, outcome: str, decided_on: date, decision: str | None,
                      grade: object, care_level: str | None, appraisal_days: int) -> AppealDecided:
        """Uphold, overturn or modify: an overturned or modified recognition carries the new
        `decision`, an appraisal the new `grade` (None: no disability) and `care_level`."""
        appeal = self.appeal(appeal_id)
        assert appeal is not None, "the caller checks the appeal exists"
        if appeal.status != "open":
            raise WrongState(self.id, self.status, "decide the appeal",
                             f"appeal {appeal_id} is decided already ({appeal.status} on {appeal.decided_on})")
        if outcome not in OUTCOMES:
            raise InvalidField("outcome", f"must be one of {', '.join(OUTCOMES)}")
        if decided_on < appeal.lodged_on:
            raise InvalidField("decided_on", f"must not be before the appeal was lodged ({appeal.lodged_on})")
        new: dict = {}
        if outcome == "upheld":
            for name, value in (("decision", decision), ("grade", None if grade is UNSET else grade),
                                ("care_level", care_level)):
                if value is not None:
                    raise InvalidField(name, "an upheld appeal changes nothing: give no new value")
        elif appeal.subject == "recognition":
            new = {"decision": self._new_decision(appeal, outcome, decision)}
        else:
            if grade is UNSET:
                raise InvalidField("grade", "the committee's grade (1–10, or null for no disability) is required")
            if grade is not None and grade not in GRADES:
                raise InvalidField("grade", "must be 1 to 10, or null for no disability")
            if care_level not in CARE_LEVELS:
                raise InvalidField("care_level", f"must be one of {', '.join(CARE_LEVELS)}")
            if (grade, care_level) == (appeal.disputed_grade, appeal.disputed_care_level):
                raise InvalidField("grade", f"the disputed conclusion is grade {grade}, care {care_level}: an "
                                   f"{outcome} conclusion differs from it (or the appeal is upheld)")
            new = {"grade": grade, "care_level": care_level}
        restored = new.get("decision") in ("recognized", "deemed") and self.decision == "rejected"
        event = AppealDecided(
            claim_id=self.id, appeal_id=appeal_id, subject=appeal.subject, route=appeal.route,  # type: ignore[arg-type]
            outcome=outcome, decided_on=decided_on, replaces_from=appeal.disputed_on,  # type: ignore[arg-type]
            employer_id=self.app.employer_id, employee_id=self.app.employee_id,
            appraisal_due_on=deadlines.appraisal_due_on(decided_on, appraisal_days)
            if restored and not self.history.appraisals else None, **new)
        self.trigger(event, decided_on)
        return event

    def _new_decision(self, appeal: Appeal, outcome: str, decision: str | None) -> str:
        if decision not in ("recognized", "deemed", "rejected"):
            raise InvalidField("decision", "an overturned or modified recognition gives the new decision: "
                               "recognized, deemed or rejected")
        was_rejected = appeal.disputed_decision == "rejected"
        if outcome == "overturned" and was_rejected == (decision == "rejected"):
            raise InvalidField("decision", f"overturning a {appeal.disputed_decision} decision gives "
                               f"{'recognized or deemed' if was_rejected else 'rejected'}")
        if outcome == "modified" and (was_rejected or decision in ("rejected", appeal.disputed_decision)):
            raise InvalidField("decision", "a modified recognition stays a recognition on another footing "
                               "(recognized ↔ deemed); a reversal is overturned")
        return decision

    # -- applying ---------------------------------------------------------------------------

    def apply_InjuryApplied(self, e: InjuryApplied) -> None:
        self.status = "applied"
        self.application = e

    def apply_InjuryRecognized(self, e: InjuryRecognized) -> None:
        self.status = "deceased" if self.died_on is not None else e.decision
        self.decision, self.decided_on, self.basis = e.decision, e.decided_on, e.basis
        self.decision_received_on = e.decided_on
        self.appraisal_due_on = None if self.died_on is not None else e.appraisal_due_on

    def apply_InjuryRejected(self, e: InjuryRejected) -> None:
        self.status = "rejected"
        self.decision, self.decided_on, self.basis = "rejected", e.decided_on, e.basis
        self.decision_received_on = e.decided_on

    def apply_AppealLodged(self, e: AppealLodged) -> None:
        self.history.appeals.append(Appeal(
            e.appeal_id, e.subject, e.route, e.lodged_on, e.lodged_by, e.due_by, e.disputed_on, e.disputed_decision,
            e.disputed_grade, e.disputed_care_level))

    def apply_AppealDecided(self, e: AppealDecided) -> None:
        appeal = self.appeal(e.appeal_id)
        assert appeal is not None
        appeal.status, appeal.decided_on = e.outcome, e.decided_on
        appeal.decision, appeal.grade, appeal.care_level = e.decision, e.grade, e.care_level
        if e.outcome == "upheld":
            return
        if e.subject == "recognition":
            assert e.decision is not None
            self.decision, self.decision_received_on = e.decision, e.decided_on  # decided_on stays the original's
            if e.decision == "rejected":  # revoked: every benefit ends
                self.status, self.appraisal_due_on = "rejected", None
            else:
                self.status = self._status_from_history(e.decision)
                if e.appraisal_due_on is not None:
                    self.appraisal_due_on = e.appraisal_due_on
            return
        self.history.appraisals = [
            Appraisal(e.grade, e.care_level or "none", a.concluded_on, a.reappraisal, committee=True)
            if a.concluded_on == e.replaces_from else a for a in self.history.appraisals]

    def _status_from_history(self, decision: str) -> str:
        """The state a recognized claim is in, from what has happened to it."""
        if self.died_on is not None:
            return "deceased"
        if self.terminated_on is not None:
            return "terminated"
        if self.history.appraisals:
            return "appraised"
        if self.history.leaves:
            return "on_treatment_leave"
        return decision

    def apply_InsuredWageDetermined(self, e: InsuredWageDetermined) -> None:
        self.history.wages.append(e)

    def apply_TreatmentLeaveGranted(self, e: TreatmentLeaveGranted) -> None:
        self.status = "on_treatment_leave"
        self.history.leaves.append(Leave(e.start, e.end, e.extension))
        self.appraisal_due_on = e.appraisal_due_on

    def apply_GradeAssigned(self, e: GradeAssigned) -> None:
        self.status = "appraised"
        self.history.appraisals.append(Appraisal(e.grade, e.care_level, e.concluded_on, e.reappraisal))
        self.appraisal_due_on = None

    def apply_EmploymentTerminated(self, e: EmploymentTerminated) -> None:
        self.status = "terminated"
        self.terminated_on = e.terminated_on

    def apply_WorkArrangementRecorded(self, e: WorkArrangementRecorded) -> None:
        self.history.arrangements.append(Arrangement(e.arranged, e.effective_from))

    def apply_WorkerDied(self, e: WorkerDied) -> None:
        if self.status != "applied":  # a death before the decision: the claim still awaits it
            self.status = "deceased"
        self.died_on, self.grade_at_death = e.died_on, e.grade_at_death
        self.appraisal_due_on = None

    def apply_DependentRegistered(self, e: DependentRegistered) -> None:
        self.history.dependents.append(Dependent(
            e.dependent_id, e.id_number, e.name, e.relation, e.born_on, e.orphan_or_lone_elder,
            e.bank_account, e.qualifies_until))

    def apply_LegacyPaymentsRecorded(self, e: LegacyPaymentsRecorded) -> None:
        self.legacy_recorded, self.legacy_paid_through = True, e.paid_through

    def apply_ClaimClosed(self, e: ClaimClosed) -> None:
        self.status = "closed"
        self.closed_on, self.close_reason = e.closed_on, e.reason

    # -- deadlines ----------------------------------------------------------------------------

    def deadlines_on(self, on: date) -> dict:
        """The decision's and the appraisal's due dates, with whether they are overdue on `on`."""
        app = self.app
        decision_open = self.status == "applied"
        appraisal_open = self.status in ("recognized", "deemed", "on_treatment_leave")
        return {
            "application": {
                "employer_late_days": app.employer_late_days,
                "late": app.employer_late_days > 0,
            },
            "decision": {
                "due_on": app.decision_due_on, "clear_case": app.clear_case, "decided_on": self.decided_on,
                "overdue": decision_open and deadlines.overdue(app.decision_due_on, on),
            },
            "appraisal": {
                "due_on": self.appraisal_due_on if appraisal_open else None,
                "concluded_on": self.history.appraisals[0].concluded_on if self.history.appraisals else None,
                "overdue": appraisal_open and deadlines.overdue(self.appraisal_due_on, on),
            },
        }
