"""The claim aggregate: one injury (or one occupational disease) of one worker, from the
application to the grade, the death of the worker, and the closure.

States and the commands each accepts (anything else is a `WrongState`, answered 409):

    (new)            apply                  → applied
    applied          decide                 → recognized | deemed | rejected
                     die                    → deceased
    recognized/deemed grant_treatment_leave → on_treatment_leave
                     appraise               → appraised
    on_treatment_leave grant_treatment_leave (extension), appraise
    appraised        appraise (re-appraisal, R.28), terminate (grades 5–10), die, close
    terminated       die, close
    deceased         close
    rejected         close
    closed           nothing

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
    RELATIONS,
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
    WorkerDied,
)

MAX_DEPENDENTS = 20
MAX_LEAVE_GRANTS = 100
TERMINATION_GRADES = range(5, 11)  # R.36–37: grades 5–10 may end their employment
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


@dataclass
class History:
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

    # -- applying ---------------------------------------------------------------------------

    def apply_InjuryApplied(self, e: InjuryApplied) -> None:
        self.status = "applied"
        self.application = e

    def apply_InjuryRecognized(self, e: InjuryRecognized) -> None:
        self.status = "deceased" if self.died_on is not None else e.decision
        self.decision, self.decided_on, self.basis = e.decision, e.decided_on, e.basis
        self.appraisal_due_on = None if self.died_on is not None else e.appraisal_due_on

    def apply_InjuryRejected(self, e: InjuryRejected) -> None:
        self.status = "rejected"
        self.decision, self.decided_on, self.basis = "rejected", e.decided_on, e.basis

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
