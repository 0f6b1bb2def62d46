"""Events the claims service writes (payload models; the envelope is libs.events).

The names and fields of docs/events.md, plus a few added fields (consumers ignore what they
don't know): the employer and worker on every event, and the due dates a projection shows, so no
consumer has to call back.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from libs.events.registry import event_type, upcaster
from libs.events.source import Source, add_source
from libs.money import yuan_str

# Money on the wire: a decimal string in yuan with exactly two places.
Yuan = Annotated[Decimal, PlainSerializer(yuan_str, return_type=str, when_used="json")]

Kind = Literal["accident", "occupational_disease", "death"]
Applicant = Literal["employer", "worker"]
Decision = Literal["recognized", "deemed"]
CareLevel = Literal["none", "partial", "mostly", "full"]
Relation = Literal["spouse", "child", "parent", "grandparent", "grandchild", "sibling"]
Sex = Literal["male", "female"]
AppealSubject = Literal["recognition", "appraisal"]
AppealRoute = Literal["reconsideration", "litigation", "appraisal_committee"]
AppealOutcome = Literal["upheld", "overturned", "modified"]
DecisionOrRejection = Literal["recognized", "deemed", "rejected"]

KINDS: tuple[str, ...] = ("accident", "occupational_disease", "death")
CARE_LEVELS: tuple[str, ...] = ("none", "partial", "mostly", "full")
RELATIONS: tuple[str, ...] = ("spouse", "child", "parent", "grandparent", "grandchild", "sibling")
ROUTES_BY_SUBJECT: dict[str, tuple[str, ...]] = {
    "recognition": ("reconsideration", "litigation"),  # R.55
    "appraisal": ("appraisal_committee",),  # R.26: the provincial committee; its conclusion is final
}
OUTCOMES: tuple[str, ...] = ("upheld", "overturned", "modified")


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class PolicyRef(_Payload):
    region: str
    effective_from: date
    version: int


class BankAccount(_Payload):
    bank_code: str
    account_no: str
    holder: str


@event_type("InjuryApplied", version=2)
class InjuryApplied(_Payload):
    claim_id: str
    employer_id: str
    employee_id: str
    region: str
    kind: Kind
    occurred_on: date  # the accident, or the diagnosis of an occupational disease
    applied_on: date
    applicant: Applicant
    description: str
    birth_date: date
    sex: Sex
    employer_late_days: int = Field(ge=0)  # days past the employer's limit (R.17); 0 if in time
    # added: the decision's due date (R.20) and whether it was a clear case (15 days)
    clear_case: bool = False
    decision_due_on: date | None = None
    policy_ref: PolicyRef | None = None
    source: Source | None = None  # v2: a go-live import's row


@event_type("InjuryRecognized", version=2)
class InjuryRecognized(_Payload):
    claim_id: str
    decision: Decision
    decided_on: date
    basis: str
    employer_id: str = ""
    employee_id: str = ""
    appraisal_due_on: date | None = None  # added: decided_on + the policy's appraisal days
    source: Source | None = None  # v2: a go-live import's row


@event_type("InjuryRejected", version=2)
class InjuryRejected(_Payload):
    claim_id: str
    decided_on: date
    basis: str
    employer_id: str = ""
    employee_id: str = ""
    source: Source | None = None  # v2: a go-live import's row


class WageMonth(_Payload):
    period: str  # YYYY-MM
    wage: Yuan


@event_type("InsuredWageDetermined", version=2)
class InsuredWageDetermined(_Payload):
    claim_id: str
    employee_id: str
    average_wage: Yuan  # the raw average of the months used, shown at fen precision
    insured_wage: Yuan  # after floor and cap, rounded half-up to the fen once
    months: list[WageMonth]
    floor: Yuan
    cap: Yuan
    policy_ref: PolicyRef
    # `legacy`: taken as given from the old system at go-live (MIGRATION.md), never re-derived
    reason: Literal["recognized", "wage_corrected", "legacy"]
    # added: how the figure came about, in words, and whether there was no wage at all
    no_wage_history: bool = False
    derivation: str = ""
    determined_on: date | None = None
    source: Source | None = None  # v2: a go-live import's row


@event_type("TreatmentLeaveGranted")
class TreatmentLeaveGranted(_Payload):
    claim_id: str
    start: date
    end: date
    extension: bool
    employer_id: str = ""
    employee_id: str = ""
    appraisal_due_on: date | None = None  # added: end + the policy's appraisal days


@event_type("GradeAssigned", version=2)
class GradeAssigned(_Payload):
    claim_id: str
    grade: int | None = Field(ge=1, le=10)
    care_level: CareLevel
    concluded_on: date
    reappraisal: bool
    employer_id: str = ""
    employee_id: str = ""
    source: Source | None = None  # v2: a go-live import's row


@event_type("EmploymentTerminated", version=2)
class EmploymentTerminated(_Payload):
    claim_id: str
    terminated_on: date
    grade: int = Field(ge=5, le=10)
    employer_id: str = ""
    employee_id: str = ""
    source: Source | None = None  # v2: a go-live import's row


@event_type("WorkerDied", version=2)
class WorkerDied(_Payload):
    claim_id: str
    employee_id: str
    died_on: date
    grade_at_death: int | None = Field(ge=1, le=10)
    employer_id: str = ""
    source: Source | None = None  # v2: a go-live import's row


@event_type("DependentRegistered", version=2)
class DependentRegistered(_Payload):
    claim_id: str
    dependent_id: str
    id_number: str
    name: str
    relation: Relation
    born_on: date
    orphan_or_lone_elder: bool
    bank_account: BankAccount | None
    qualifies_until: date | None  # a child: the day it stops qualifying; others: null
    employee_id: str = ""
    source: Source | None = None  # v2: a go-live import's row


@event_type("WorkArrangementRecorded")
class WorkArrangementRecorded(_Payload):
    """R.36 (grades 5–6, still employed): whether the employer has arranged suitable work from a
    day on. Until it says so the ledger assumes it has not (the employer pays the allowance)."""

    claim_id: str
    arranged: bool
    effective_from: date
    grade: int = Field(ge=5, le=6)
    employer_id: str = ""
    employee_id: str = ""


@event_type("AppealLodged")
class AppealLodged(_Payload):
    """A recognition decision taken to reconsideration or to court (R.55), or an appraisal
    conclusion to the provincial committee (R.26), within the policy's `appeal_days`."""

    claim_id: str
    appeal_id: str
    subject: AppealSubject
    route: AppealRoute
    lodged_on: date
    lodged_by: Applicant
    due_by: date  # the last day it could be lodged
    disputed_on: date  # the disputed decision's or conclusion's own date
    disputed_decision: DecisionOrRejection | None = None  # a recognition appeal: the decision in force
    disputed_grade: int | None = Field(default=None, ge=1, le=10)  # an appraisal appeal: the conclusion
    disputed_care_level: CareLevel | None = None
    employer_id: str = ""
    employee_id: str = ""


@event_type("AppealDecided")
class AppealDecided(_Payload):
    """The decision on an appeal. Overturned or modified, it replaces the disputed decision or
    conclusion from that one's own date (`replaces_from`): a new `decision` for a recognition, a
    new `grade` and `care_level` for an appraisal. Upheld, nothing changes."""

    claim_id: str
    appeal_id: str
    subject: AppealSubject
    route: AppealRoute
    outcome: AppealOutcome
    decided_on: date
    replaces_from: date
    decision: DecisionOrRejection | None = None
    grade: int | None = Field(default=None, ge=1, le=10)
    care_level: CareLevel | None = None
    employer_id: str = ""
    employee_id: str = ""
    appraisal_due_on: date | None = None  # a rejection overturned before any appraisal: when one is due


@event_type("ClaimClosed")
class ClaimClosed(_Payload):
    claim_id: str
    closed_on: date
    reason: str
    employer_id: str = ""
    employee_id: str = ""


@event_type("LegacyPaymentsRecorded")
class LegacyPaymentsRecorded(_Payload):
    """A migrated claim: what the old system already paid (MIGRATION.md). The recurring benefits
    of every month up to `paid_through` (null: none) and, when `one_off_paid`, the one-off grants
    of the decisions so far are settled outside the ledger."""

    claim_id: str
    paid_through: str | None  # YYYY-MM
    one_off_paid: bool
    employer_id: str = ""
    employee_id: str = ""
    source: Source | None = None


for _type in ("InjuryApplied", "InjuryRecognized", "InjuryRejected", "InsuredWageDetermined", "GradeAssigned",
              "EmploymentTerminated", "WorkerDied", "DependentRegistered"):
    upcaster(_type, from_version=1)(add_source)
