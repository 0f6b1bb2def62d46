"""The levy's rules: one small pure function each, with the article it applies.

Money is Decimal yuan; rounding is half-up to the fen, once, where an amount becomes payable.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from libs.money import round_fen

# China Standard Time has no daylight saving: the ledger's "today" is the day in Beijing.
CHINA_TZ = timezone(timedelta(hours=8))
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
RATIO_PLACES = Decimal("0.0001")  # loss ratio and frequency are shown and compared to 4 places
AVERAGE_RATE_PLACES = Decimal("0.000001")


def today() -> date:
    return datetime.now(CHINA_TZ).date()


def parse_period(text: str) -> tuple[int, int]:
    """`YYYY-MM` → (year, month); ValueError otherwise."""
    m = PERIOD.match(text) if isinstance(text, str) else None
    if m is None or not 1900 <= int(m.group(1)) <= 9999:
        raise ValueError("must be a month YYYY-MM")
    return int(m.group(1)), int(m.group(2))


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_bounds(period: str) -> tuple[date, date]:
    """The first and the last day of a month."""
    year, month = parse_period(period)
    first = date(year, month, 1)
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, nxt - timedelta(days=1)


def due_date(period: str, due_day: int) -> date:
    """RULES.md: contributions of a month are due on the policy's `due_day` of the next month."""
    assert 1 <= due_day <= 28
    _first, last = period_bounds(period)
    return (last + timedelta(days=1)).replace(day=due_day)


def rate_in_force(base_rate: Decimal, multiplier: Decimal) -> Decimal:
    """人社部发〔2015〕71号: the employer's rate = its class's base rate × its floating step."""
    assert base_rate > 0 and multiplier > 0
    return base_rate * multiplier


def contribution(payroll: Decimal, rate: Decimal) -> Decimal:
    """R.10: the employer pays payroll × rate, rounded half-up to the fen once."""
    assert payroll >= 0 and rate > 0
    return round_fen(payroll * rate)


def class_segments(classes: list[tuple[date, int]], period: str) -> list[tuple[date, date, int]]:
    """The risk class of each day of a month, as (first day, last day, class) runs: a class
    change is charged from its effective date (RULES.md "Clarifications"), not from the next
    report. `classes` are (effective_from, class); a month before the first keeps the first."""
    assert classes, "an employer has a class from its enrollment"
    first, last = period_bounds(period)
    ordered = sorted(classes)
    in_force = next((c for d, c in reversed(ordered) if d <= first), ordered[0][1])
    runs = [(first, in_force)]
    for day, risk_class in ordered:
        if first < day <= last:
            runs.append((day, risk_class))
    out: list[tuple[date, date, int]] = []
    for (start, risk_class), nxt in zip(runs, [*(d for d, _ in runs[1:]), last + timedelta(days=1)]):
        if out and out[-1][2] == risk_class:
            out[-1] = (out[-1][0], nxt - timedelta(days=1), risk_class)
        else:
            out.append((start, nxt - timedelta(days=1), risk_class))
    return out


def contribution_by_days(payroll: Decimal, parts: list[tuple[int, Decimal]], days_in_month: int) -> Decimal:
    """R.10 with the rate changing within the month: payroll × Σ rate × days / days of the
    month, rounded half-up to the fen once. One part is `contribution(payroll, rate)`."""
    assert payroll >= 0 and parts and sum(days for days, _ in parts) == days_in_month
    if len(parts) == 1:
        return contribution(payroll, parts[0][1])
    return round_fen(sum((payroll * rate * days for days, rate in parts), Decimal(0)) / days_in_month)


def overdue_days(due: date, on: date) -> int:
    """SIL.86: late fees run from the day after the due date: on the due date 0, the next day 1."""
    return max(0, (on - due).days)


def late_fee(outstanding: Decimal, daily: Decimal, days: int) -> Decimal:
    """SIL.86: simple daily interest on the overdue contribution, unrounded (rounded where
    assessed: see account.py)."""
    assert days >= 0 and daily > 0
    return outstanding * daily * days if outstanding > 0 else Decimal(0)


def employed_in_month(hired_on: date, separated_on: date | None, period: str) -> bool:
    """A worker counts for a month if hired on or before its last day and not separated before
    its first day."""
    first, last = period_bounds(period)
    return hired_on <= last and (separated_on is None or separated_on >= first)


def loss_ratio(claims_cost: Decimal, contributions: Decimal) -> Decimal:
    """人社部发〔2015〕71号: claims paid by the fund against contributions, to 4 places."""
    assert contributions > 0
    return (claims_cost / contributions).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def frequency_per_mille(injuries: int, workers: int) -> Decimal:
    """Recognized injuries per thousand insured workers over the look-back, to 4 places."""
    if workers <= 0:
        return Decimal(0).quantize(RATIO_PLACES)
    return (Decimal(injuries) * 1000 / workers).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def clamp_multiplier(wanted: Decimal, allowed: tuple[Decimal, ...]) -> Decimal:
    """人社部发〔2015〕71号: only the class's floating steps are possible (class I only floats
    up): the allowed step nearest the wanted one; a tie goes to the one nearer 1.00."""
    assert allowed
    if wanted in allowed:
        return next(a for a in allowed if a == wanted)
    return min(allowed, key=lambda a: (abs(a - wanted), abs(a - 1)))


def review_years(year: int, lookback_years: int) -> tuple[int, int]:
    """The experience a review of `year` looks at: the `lookback_years` before it."""
    assert 1 <= lookback_years <= 3
    return year - lookback_years, year - 1
