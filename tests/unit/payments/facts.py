"""Hand-made facts for the entitlement engine's unit tests: a claim's events with the
knowledge times (recorded_at) the test chooses, and policy versions published at chosen times."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Any

from libs.policy import PolicyVersion, load_national_default
from libs.policy.document import PolicyDocument
from services.payments.entitlements.engine import Fact, PolicyFact


def at(day: str, hour: int = 9) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=timezone.utc).replace(hour=hour)


def policy(region: str = "440300", effective_from: str = "2020-01-01", version: int = 1,
           recorded: str = "2020-01-01", **changes: Any) -> PolicyFact:
    doc = load_national_default().model_dump(mode="json")
    doc.update(changes)
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"policy/{region}/{version}"))
    return PolicyFact(PolicyVersion(region, date.fromisoformat(effective_from), version,
                                    PolicyDocument.model_validate(doc), event_id), at(recorded, 0))


class ClaimFacts:
    """A claim's facts in the order a test writes them; each event gets a stable id."""

    def __init__(self, claim_id: str = "c1", *, region: str = "440300", employee_id: str = "ee-1",
                 employer_id: str = "emp-1", kind: str = "accident", occurred_on: str = "2026-01-10",
                 applied_on: str | None = None, late_days: int = 0, birth_date: str = "1980-05-17",
                 sex: str = "male", recorded: str | None = None) -> None:
        self.claim_id, self.employee_id = claim_id, employee_id
        self.facts: list[Fact] = []
        applied_on = applied_on or occurred_on
        self.add("InjuryApplied", recorded or applied_on, employer_id=employer_id, employee_id=employee_id,
                 region=region, kind=kind, occurred_on=occurred_on, applied_on=applied_on, applicant="employer",
                 description="hand caught in a press", birth_date=birth_date, sex=sex, employer_late_days=late_days)

    def add(self, type_: str, recorded: str, hour: int = 9, **payload: Any) -> Fact:
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.claim_id}/{len(self.facts)}/{type_}"))
        fact = Fact(event_id, type_, at(recorded, hour), {"claim_id": self.claim_id, **payload})
        self.facts.append(fact)
        return fact

    def recognized(self, decided_on: str, recorded: str | None = None) -> Fact:
        return self.add("InjuryRecognized", recorded or decided_on, decision="recognized", decided_on=decided_on,
                        basis="R.14(1)")

    def wage(self, insured_wage: str, recorded: str, reason: str = "recognized") -> Fact:
        return self.add("InsuredWageDetermined", recorded, employee_id=self.employee_id, average_wage=insured_wage,
                        insured_wage=insured_wage, months=[], floor="4800.00", cap="24000.00", reason=reason,
                        policy_ref={"region": "440300", "effective_from": "2020-01-01", "version": 1})

    def leave(self, start: str, end: str, recorded: str | None = None, extension: bool = False) -> Fact:
        return self.add("TreatmentLeaveGranted", recorded or start, start=start, end=end, extension=extension)

    def grade(self, grade: int | None, concluded_on: str, care_level: str = "none", recorded: str | None = None,
              reappraisal: bool = False) -> Fact:
        return self.add("GradeAssigned", recorded or concluded_on, grade=grade, care_level=care_level,
                        concluded_on=concluded_on, reappraisal=reappraisal)

    def terminated(self, on: str, grade: int, recorded: str | None = None) -> Fact:
        return self.add("EmploymentTerminated", recorded or on, terminated_on=on, grade=grade)

    def died(self, on: str, grade_at_death: int | None = None, recorded: str | None = None) -> Fact:
        return self.add("WorkerDied", recorded or on, employee_id=self.employee_id, died_on=on,
                        grade_at_death=grade_at_death)

    def dependent(self, n: int, relation: str, born_on: str, recorded: str, orphan: bool = False,
                  qualifies_until: str | None = None) -> Fact:
        return self.add("DependentRegistered", recorded, dependent_id=f"{self.claim_id}-d{n}", id_number="x",
                        name=f"dependent {n}", relation=relation, born_on=born_on, orphan_or_lone_elder=orphan,
                        bank_account=None, qualifies_until=qualifies_until)
