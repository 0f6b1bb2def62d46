"""Deadlines of a claim with their edge days (R.17, R.20, R.25, R.28, R.33, R.39)."""
from __future__ import annotations

from datetime import date

import pytest

from services.claims.domain import deadlines as d

# The national defaults of the policy's `deadlines` (RULES.md); the functions take them as data.
EMPLOYER_DAYS, WORKER_DAYS, DECISION_DAYS, DECISION_DAYS_CLEAR, APPRAISAL_DAYS = 30, 365, 60, 15, 60


@pytest.mark.parametrize("applied_on, late", [
    (date(2026, 3, 1), 0),     # the day itself
    (date(2026, 3, 31), 0),    # day 30: in time
    (date(2026, 4, 1), 1),     # day 31: one day late
    (date(2026, 4, 10), 10),
])
def test_employer_late_days(applied_on: date, late: int) -> None:
    assert d.employer_late_days(date(2026, 3, 1), applied_on, EMPLOYER_DAYS) == late


@pytest.mark.parametrize("applied_on, in_time", [
    (date(2026, 3, 1), True),
    (date(2027, 3, 1), True),    # day 365 (2026-03-01 + 365 days)
    (date(2027, 3, 2), False),   # day 366
])
def test_worker_application_one_year(applied_on: date, in_time: bool) -> None:
    assert d.worker_application_in_time(date(2026, 3, 1), applied_on, WORKER_DAYS) is in_time


def test_worker_year_across_a_leap_day() -> None:
    # 2027-03-01 + 365 days = 2028-02-29 (2028 is a leap year)
    assert d.worker_application_in_time(date(2027, 3, 1), date(2028, 2, 29), WORKER_DAYS)
    assert not d.worker_application_in_time(date(2027, 3, 1), date(2028, 3, 1), WORKER_DAYS)


def test_decision_due_60_or_15_days() -> None:
    assert d.decision_due_on(date(2026, 1, 10), False, DECISION_DAYS, DECISION_DAYS_CLEAR) == date(2026, 3, 11)
    assert d.decision_due_on(date(2026, 1, 10), True, DECISION_DAYS, DECISION_DAYS_CLEAR) == date(2026, 1, 25)
    due = date(2026, 3, 11)
    assert not d.overdue(due, date(2026, 3, 11))  # on the due day: in time
    assert d.overdue(due, date(2026, 3, 12))
    assert not d.overdue(None, date(2030, 1, 1))


def test_appraisal_due_60_days() -> None:
    assert d.appraisal_due_on(date(2026, 6, 30), APPRAISAL_DAYS) == date(2026, 8, 29)


@pytest.mark.parametrize("start, months, last", [
    (date(2026, 1, 1), 12, date(2026, 12, 31)),
    (date(2026, 1, 1), 24, date(2027, 12, 31)),
    (date(2026, 3, 15), 12, date(2027, 3, 14)),
    (date(2026, 1, 31), 1, date(2026, 2, 27)),  # 31 Jan + 1 month = 28 Feb, the day before
])
def test_treatment_leave_limit(start: date, months: int, last: date) -> None:
    assert d.treatment_leave_limit(start, months) == last


def test_reappraisal_earliest() -> None:
    assert d.reappraisal_earliest(date(2026, 6, 15), 12) == date(2027, 6, 15)
    assert d.reappraisal_earliest(date(2024, 2, 29), 12) == date(2025, 2, 28)


@pytest.mark.parametrize("born_on, until", [
    (date(2015, 5, 20), date(2033, 5, 20)),
    (date(2016, 2, 29), date(2034, 2, 28)),  # a leap-day child turns 18 on 28 Feb
])
def test_child_qualifies_until(born_on: date, until: date) -> None:
    assert d.child_qualifies_until(born_on, 18) == until


def test_add_months_clamps_and_goes_back() -> None:
    assert d.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert d.add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert d.add_months(date(2026, 12, 5), 1) == date(2027, 1, 5)
