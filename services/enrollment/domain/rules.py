"""Enrollment rules: one small pure function each."""
from __future__ import annotations

from datetime import date

# Labour Law (劳动法) Art. 15: no employer may hire a minor under sixteen.
MINIMUM_WORKING_AGE_YEARS = 16


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year
    (the birthday has not come yet on 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return date(day.year + years, 3, 1)


def earliest_hire(birth_date: date) -> date:
    """The first day a person may be hired: their sixteenth birthday (Labour Law Art. 15)."""
    return add_years(birth_date, MINIMUM_WORKING_AGE_YEARS)


def may_be_hired(birth_date: date, hired_on: date) -> bool:
    return hired_on >= earliest_hire(birth_date)


EMPLOYER_TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"suspended", "closed"}),
    "suspended": frozenset({"active", "closed"}),
    "closed": frozenset(),  # a closed employer stays closed: a reopening is a new enrollment
}


def may_change_status(current: str, new: str) -> bool:
    """An employer's status moves active ⇄ suspended, and either to closed, never back."""
    return new in EMPLOYER_TRANSITIONS[current]
