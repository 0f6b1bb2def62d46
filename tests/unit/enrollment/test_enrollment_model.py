"""The enrollment aggregates: every decision and every refusal, and replay gives the same state."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from libs.events.envelope import Envelope
from services.enrollment.domain import rules
from services.enrollment.domain.events import BankAccount, PolicyRef
from services.enrollment.domain.model import (
    Classification,
    Conflict,
    Employer,
    Invalid,
    NotEmployed,
    Policy,
    Worker,
)

REF = PolicyRef(region="440300", effective_from=date(2025, 7, 1), version=1)
SOFTWARE = Classification("I65", "I65", 1, Decimal("0.002"), REF)
METALS = Classification("C33", "C33", 4, Decimal("0.009"), REF)
ACCOUNT = BankAccount(bank_code="102584000011", account_no="6222020200112233445", holder="张三")


def replay(aggregate, cls):  # noqa: ANN001, ANN201
    """Persist-and-reload without a database: the pending events as envelopes, rehydrated."""
    envelopes = [
        Envelope(event_id=uuid.uuid4(), type=p.type, schema_version=1, aggregate_type=cls.aggregate_type,
                 aggregate_id=aggregate.id, sequence=i, occurred_on=p.occurred_on,
                 recorded_at=datetime.now(timezone.utc), actor="test", payload=p.payload.model_dump(mode="json"))
        for i, p in enumerate(aggregate.pending, 1)
    ]
    return cls.rehydrate(aggregate.id, envelopes)


# ------------------------------------------------------------------------------------ policy

def test_policy_versions_count_from_one_and_a_second_publication_supersedes() -> None:
    policy = Policy("policy-440300")
    assert policy.publish(date(2025, 7, 1), {"due_day": 15}, date(2025, 6, 1)) == (1, True)
    assert policy.publish(date(2026, 1, 1), {"due_day": 15}, date(2025, 6, 1)) == (2, True)
    assert policy.publish(date(2025, 7, 1), {"due_day": 20}, date(2025, 6, 2)) == (3, True)
    assert [p.payload.version for p in policy.pending] == [1, 2, 3]
    assert all(p.payload.region == "440300" for p in policy.pending)
    again = replay(policy, Policy)
    assert again.latest_version == 3 and again.by_date[date(2025, 7, 1)][0] == 3


def test_publishing_the_newest_document_again_records_nothing() -> None:
    policy = Policy("policy-440300")
    policy.publish(date(2025, 7, 1), {"due_day": 15, "late_fee_daily": "0.0005"}, date(2025, 6, 1))
    # the same document (keys in another order) for the same date: no new version
    assert policy.publish(date(2025, 7, 1), {"late_fee_daily": "0.0005", "due_day": 15}, date(2025, 6, 3)) == (1, False)
    assert len(policy.pending) == 1


# ---------------------------------------------------------------------------------- employer

def enrolled_employer() -> Employer:
    return Employer.enroll("er_1", "91440300MA5XXXXXXX", "Shenzhen Soft", "440300", date(2025, 7, 1), SOFTWARE)


def test_enroll_carries_the_class_and_rate_of_the_policy() -> None:
    employer = enrolled_employer()
    e = employer.pending[0].payload
    assert (e.risk_class, e.base_rate, e.division, e.policy_ref) == (1, Decimal("0.002"), "I65", REF)
    assert replay(employer, Employer).status == "active"


def test_status_moves_active_suspended_active_closed() -> None:
    employer = enrolled_employer()
    employer.change_status("suspended", date(2025, 8, 1))
    employer.change_status("active", date(2025, 9, 1))
    employer.change_status("closed", date(2025, 10, 1))
    last = employer.pending[-1].payload
    assert (last.status, last.name, last.risk_class, last.changed) == ("closed", "Shenzhen Soft", 1, ("status",))
    assert replay(employer, Employer).status == "closed"


@pytest.mark.parametrize("status", ["active", "suspended"])
def test_a_closed_employer_stays_closed(status: str) -> None:
    employer = enrolled_employer()
    employer.change_status("closed", date(2025, 10, 1))
    with pytest.raises(Conflict):
        employer.change_status(status, date(2025, 11, 1))
    with pytest.raises(Conflict):
        employer.change(date(2025, 11, 1), name="Reborn")


def test_the_same_status_again_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already active"):
        enrolled_employer().change_status("active", date(2025, 8, 1))


def test_a_change_before_enrollment_or_before_the_last_change_is_refused() -> None:
    employer = enrolled_employer()
    with pytest.raises(Invalid) as before_enrollment:
        employer.change_status("suspended", date(2025, 6, 30))
    assert before_enrollment.value.field == "changed_on"
    employer.change_status("suspended", date(2025, 9, 1))
    with pytest.raises(Invalid) as before_last:
        employer.change(date(2025, 8, 1), name="Other")
    assert before_last.value.field == "changed_on"


def test_a_change_of_industry_remaps_the_class_and_keeps_the_rest() -> None:
    employer = enrolled_employer()
    employer.change(date(2025, 9, 1), classification=METALS)
    e = employer.pending[-1].payload
    assert (e.industry_code, e.division, e.risk_class, e.base_rate) == ("C33", "C33", 4, Decimal("0.009"))
    assert (e.name, e.status, e.region, e.policy_ref) == ("Shenzhen Soft", "active", "440300", REF)
    assert e.changed == ("industry_code", "risk_class")
    assert replay(employer, Employer).classification.risk_class == 4


def test_a_change_that_changes_nothing_is_refused() -> None:
    employer = enrolled_employer()
    with pytest.raises(Invalid):
        employer.change(date(2025, 9, 1), name="Shenzhen Soft", classification=SOFTWARE)


# ------------------------------------------------------------------------------------ worker

BORN = date(1990, 3, 7)


def hired_worker() -> Worker:
    worker = Worker("ee_1")
    worker.hire("er_1", "440301199003070019", "张三", BORN, "male", date(2025, 7, 1), None)
    return worker


def test_a_worker_may_be_hired_on_the_sixteenth_birthday_not_the_day_before() -> None:
    assert rules.earliest_hire(date(2009, 5, 20)) == date(2025, 5, 20)
    assert rules.earliest_hire(date(2008, 2, 29)) == date(2024, 2, 29)
    assert rules.add_years(date(2008, 2, 29), 17) == date(2025, 3, 1)
    Worker("ee_2").hire("er_1", "x", "n", date(2009, 5, 20), "female", date(2025, 5, 20), None)
    with pytest.raises(Invalid) as refused:
        Worker("ee_3").hire("er_1", "x", "n", date(2009, 5, 20), "female", date(2025, 5, 19), None)
    assert refused.value.field == "hired_on"


def test_a_second_active_employment_at_the_same_employer_is_a_conflict() -> None:
    worker = hired_worker()
    with pytest.raises(Conflict):
        worker.hire("er_1", "440301199003070019", "张三", BORN, "male", date(2025, 8, 1), None)


def test_the_same_worker_at_a_second_employer_is_a_second_employment() -> None:
    worker = hired_worker()
    worker.hire("er_2", "440301199003070019", "张三", BORN, "male", date(2025, 8, 1), ACCOUNT)
    again = replay(worker, Worker)
    assert [(e.employer_id, e.active) for e in again.employments] == [("er_1", True), ("er_2", True)]
    assert again.bank_account == ACCOUNT


def test_separation_not_before_hire_and_not_twice() -> None:
    worker = hired_worker()
    with pytest.raises(Invalid) as early:
        worker.separate("er_1", date(2025, 6, 30))
    assert early.value.field == "separated_on"
    worker.separate("er_1", date(2025, 7, 1))  # the same day is a (short) employment
    with pytest.raises(Conflict, match="already separated"):
        worker.separate("er_1", date(2025, 8, 1))
    with pytest.raises(NotEmployed):
        worker.separate("er_9", date(2025, 8, 1))


def test_rehire_after_separation_but_not_before_it() -> None:
    worker = hired_worker()
    worker.separate("er_1", date(2025, 9, 30))
    with pytest.raises(Invalid) as refused:
        worker.hire("er_1", "440301199003070019", "张三", BORN, "male", date(2025, 9, 1), None)
    assert refused.value.field == "hired_on"
    with pytest.raises(Conflict, match="already hired"):  # the same employment again (a re-sent request)
        worker.hire("er_1", "440301199003070019", "张三", BORN, "male", date(2025, 7, 1), None)
    worker.hire("er_1", "440301199003070019", "张三", BORN, "male", date(2025, 11, 1), None)
    again = replay(worker, Worker)
    assert [(e.hired_on, e.separated_on) for e in again.employments] == [
        (date(2025, 7, 1), date(2025, 9, 30)), (date(2025, 11, 1), None)]


def test_a_bank_account_change_is_recorded_once() -> None:
    worker = hired_worker()
    assert worker.change_bank_account(ACCOUNT, date(2025, 8, 1)) is True
    assert worker.change_bank_account(ACCOUNT, date(2025, 8, 2)) is False
    assert [p.type for p in worker.pending] == ["EmployeeEnrolled", "BankAccountChanged"]
    # a later hire without an account carries the one on record
    worker.hire("er_2", "440301199003070019", "张三", BORN, "male", date(2025, 9, 1), None)
    assert worker.pending[-1].payload.bank_account == ACCOUNT
