"""The levy's projections of other services' events, on a real migrated database: facts stored
whatever the order, benefit postings balanced and reversed on a return, the claims cost and
injuries the rate review reads, and the statement's expenditure by family."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from libs.db import make_engine, migrate, session_factory
from libs.events.envelope import Envelope
from services.levy.projections import LevyBenefitsProjection, LevyClaimsProjection, LevyEnrollmentProjection
from services.levy.tables import levy_employers, levy_employments, postings
from tests.conftest import fresh_data_dir

_seq = itertools.count(1)


def envelope(type_: str, aggregate_id: str, payload: dict) -> Envelope:
    return Envelope(event_id=uuid4(), type=type_, schema_version=1, aggregate_type="x", aggregate_id=aggregate_id,
                    sequence=next(_seq), occurred_on=date(2025, 1, 1), recorded_at=datetime.now(timezone.utc),
                    actor="test", payload=payload)


@pytest.fixture
def sessions(tmp_path: Path, migrated_data_dir: Path):  # noqa: ANN201
    # The levy database of a copy of the session's migrated files (120 orders below: a migration
    # of their own each was most of this file's time); `migrate` still runs, as on a restart.
    data = fresh_data_dir(migrated_data_dir, tmp_path / "data")
    engine = make_engine(f"sqlite:///{data / 'levy.db'}")
    migrate(engine, "levy")
    yield session_factory(engine)
    engine.dispose()


def project(sessions, projection, *envelopes: Envelope) -> None:  # noqa: ANN001
    with sessions() as s, s.begin():
        for e in envelopes:
            projection.handle(s, e)


ENROLLED = {"employer_id": "er_1", "uscc": "x", "name": "n", "industry_code": "C3311", "division": "C33",
            "region": "440300", "risk_class": 4, "base_rate": "0.0090", "enrolled_on": "2025-07-01",
            "policy_ref": {"region": "000000", "effective_from": "2015-10-01", "version": 1}}
CHANGED = {"employer_id": "er_1", "changed_on": "2025-09-01", "status": "suspended", "name": "n",
           "industry_code": "B0610", "division": "B06", "risk_class": 8, "base_rate": "0.0190", "region": "440300"}
HIRED = {"employee_id": "ee_1", "employer_id": "er_1", "id_number": "440304199003070018", "name": "张三",
         "birth_date": "1990-03-07", "sex": "male", "hired_on": "2025-07-01", "bank_account": None}
REHIRED = {**HIRED, "hired_on": "2025-10-01"}
LEFT = {"employee_id": "ee_1", "employer_id": "er_1", "separated_on": "2025-08-31"}


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))))
def test_enrollment_facts_in_any_order_give_the_same_state(sessions, order) -> None:  # noqa: ANN001
    events = [("EmployerEnrolled", ENROLLED), ("EmployerChanged", CHANGED), ("EmployeeEnrolled", HIRED),
              ("EmployeeEnrolled", REHIRED), ("EmployeeSeparated", LEFT)]
    projection = LevyEnrollmentProjection()
    project(sessions, projection, *(envelope(events[i][0], "a", events[i][1]) for i in order))
    with sessions() as s:
        employer = s.execute(select(levy_employers)).one()
        jobs = s.execute(select(levy_employments.c.hired_on, levy_employments.c.separated_on)
                         .order_by(levy_employments.c.hired_on)).all()
    assert (employer.risk_class, employer.status, employer.enrolled_on) == (8, "suspended", date(2025, 7, 1))
    # the separation ends the first employment only; the rehire is still on
    assert [tuple(j) for j in jobs] == [(date(2025, 7, 1), date(2025, 8, 31)), (date(2025, 10, 1), None)]


def settled(payout_id: str, on: str, *lines: tuple[str, str, str]) -> dict:
    total = sum(int(a.replace(".", "")) for _f, _e, a in lines)
    return {"payout_id": payout_id, "run_id": "run_1", "settled_on": on, "amount": f"{total // 100}.{total % 100:02d}",
            "lines": [{"line_id": f"{payout_id}-{i}", "claim_id": "c1", "employer_id": emp, "kind": "k",
                       "family": fam, "amount": amt} for i, (fam, emp, amt) in enumerate(lines)]}


def test_benefit_postings_balance_and_a_return_reverses_them(sessions) -> None:  # noqa: ANN001
    projection = LevyBenefitsProjection()
    p1 = settled("po_1", "2025-10-10", ("medical", "er_1", "1200.00"), ("short_term", "er_1", "300.50"))
    p2 = settled("po_2", "2025-10-11", ("long_term", "er_1", "800.00"))
    rejected = {**p2, "rejected_on": "2025-10-20", "reason": "AC04"}
    run = {"run_id": "run_1", "region": "440300", "period": "2025-10", "count": 2, "total": "2300.50"}
    # the return and the run arrive first (another key, another partition), the settlement after
    project(sessions, projection, envelope("PayoutRejected", "po_2", rejected), envelope("PayoutSettled", "po_1", p1),
            envelope("PaymentRunCreated", "run_1", run), envelope("PayoutSettled", "po_2", p2))
    project(sessions, projection, envelope("PayoutSettled", "po_1", p1))  # a redelivery under a new id
    with sessions() as s:
        rows = s.execute(select(postings.c.account, func.sum(postings.c.debit_fen), func.sum(postings.c.credit_fen))
                         .group_by(postings.c.account).order_by(postings.c.account)).all()
    assert [tuple(r) for r in rows] == [
        ("benefits_expense:long_term", 80_000, 80_000),  # paid, then returned
        ("benefits_expense:medical", 120_000, 0),
        ("benefits_expense:short_term", 30_050, 0),
        ("cash", 80_000, 230_050),
    ]
    assert sum(r[1] for r in rows) == sum(r[2] for r in rows)


def test_injuries_are_counted_once_recognized(sessions) -> None:  # noqa: ANN001
    from services.levy.tables import levy_injuries, levy_recognitions

    projection = LevyClaimsProjection()
    applied = {"claim_id": "c1", "employer_id": "er_1", "employee_id": "ee_1", "region": "440300",
               "kind": "accident", "occurred_on": "2025-05-01", "applied_on": "2025-05-02", "applicant": "employer",
               "description": "d", "birth_date": "1990-03-07", "sex": "male", "employer_late_days": 0}
    project(sessions, projection,
            envelope("InjuryRecognized", "c1", {"claim_id": "c1", "decision": "recognized",
                                                "decided_on": "2025-06-01", "basis": "R.14"}),
            envelope("InjuryApplied", "c1", applied))
    with sessions() as s:
        n = s.execute(select(func.count()).select_from(levy_injuries.join(
            levy_recognitions, levy_recognitions.c.claim_id == levy_injuries.c.claim_id))
            .where(levy_recognitions.c.recognized.is_(True))).scalar_one()
    assert n == 1
