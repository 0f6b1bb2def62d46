"""Deadlines of a claim, computed from the policy's day counts (never literals here).

Convention: a limit of N days from day D is met on D + N (day N is in time, day N + 1 is late);
a due date is D + N and a thing is overdue on any day after its due date.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    assert -1200 <= months <= 1200
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def days_after(start: date, end: date) -> int:
    return (end - start).days


def employer_late_days(occurred_on: date, applied_on: date, employer_application_days: int) -> int:
    """R.17: the employer applies within N days of the accident or the diagnosis. Days beyond
    that are the employer's to pay, whoever finally applied (R.17 para. 4); 0 when in time."""
    assert applied_on >= occurred_on and employer_application_days >= 0
    return max(0, days_after(occurred_on, applied_on) - employer_application_days)


def worker_application_in_time(occurred_on: date, applied_on: date, worker_application_days: int) -> bool:
    """R.17 para. 2: the worker or the family applies within N days (one year) of the accident or
    the diagnosis; day N is in time, day N + 1 is not."""
    assert applied_on >= occurred_on and worker_application_days >= 0
    return days_after(occurred_on, applied_on) <= worker_application_days


def decision_due_on(applied_on: date, clear_case: bool, decision_days: int, decision_days_clear: int) -> date:
    """R.20: the decision within N days of acceptance (60), or M days for a clear case (15).
    The ledger takes the application date as the day of acceptance."""
    assert decision_days >= 0 and decision_days_clear >= 0
    return applied_on + timedelta(days=decision_days_clear if clear_case else decision_days)


def appraisal_due_on(requested_on: date, appraisal_days: int) -> date:
    """R.25: the appraisal committee concludes within N days (60) of the request. The ledger
    counts from the end of the last treatment leave granted, or from the recognition decision
    when no leave was granted (the day the worker can be appraised)."""
    assert appraisal_days >= 0
    return requested_on + timedelta(days=appraisal_days)


def overdue(due_on: date | None, on: date) -> bool:
    return due_on is not None and on > due_on


def treatment_leave_limit(first_start: date, months: int) -> date:
    """The last day of a treatment leave that may last `months` months from `first_start`
    (R.33: usually ≤ 12 months, extended by ≤ 12 more)."""
    assert months >= 0
    return add_months(first_start, months) - timedelta(days=1)


def reappraisal_earliest(last_concluded_on: date, reappraisal_min_months: int) -> date:
    """R.28: a re-appraisal no sooner than N months (one year) after the last conclusion."""
    assert reappraisal_min_months >= 0
    return add_months(last_concluded_on, reappraisal_min_months)


def child_qualifies_until(born_on: date, dependent_child_age_limit: int) -> date:
    """R.39 and the region's rule: a child's survivor pension stops at the age limit (18): the
    day of that birthday (29 Feb → 28 Feb in a common year)."""
    assert dependent_child_age_limit >= 0
    return add_years(born_on, dependent_child_age_limit)


def appeal_due_by(received_on: date, appeal_days: int) -> date:
    """R.55 / R.26: an appeal within N days of receiving the decision or conclusion; day N is in
    time, day N + 1 is not. The ledger takes the decision's own date as the day it was received."""
    assert appeal_days >= 0
    return received_on + timedelta(days=appeal_days)
