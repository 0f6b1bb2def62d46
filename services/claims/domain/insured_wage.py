"""The insured wage (本人工资, R.64): the figure every wage-related benefit multiplies.

The average monthly contribution wage of the 12 months before the injury month (fewer months if
the worker was insured for less: the average of the months on record) at the employer where the
injury happened (劳社部函〔2004〕256号, item 1), floored and capped at the shares of the region's
average monthly wage that the policy in force on the injury date gives (`insured_wage_floor_ratio`,
`insured_wage_cap_ratio`; R.64's national values 60 % and 300 %). Rounded half-up to the fen once,
at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Mapping

from libs.money import round_fen

LOOKBACK_MONTHS = 12  # R.64: "the 12 months before the injury"


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_before(injury_on: date, count: int = LOOKBACK_MONTHS) -> list[str]:
    """The `count` periods before the injury month, oldest first (injury in 2026-03 → 2025-03 …
    2026-02)."""
    assert 1 <= count <= 120
    index = injury_on.year * 12 + injury_on.month - 1
    out = []
    for back in range(count, 0, -1):
        year, month = divmod(index - back, 12)
        out.append(f"{year:04d}-{month + 1:02d}")
    return out


@dataclass(frozen=True)
class InsuredWage:
    months: tuple[tuple[str, Decimal], ...]  # (period, wage) used, oldest first
    average_wage: Decimal  # the raw average (exact, not rounded); 0 with no history
    floor: Decimal
    cap: Decimal
    insured_wage: Decimal  # clamped, rounded half-up to the fen once
    no_wage_history: bool

    @property
    def derivation(self) -> str:
        if self.no_wage_history:
            return (f"no contribution wage on record in the {LOOKBACK_MONTHS} months before the injury: "
                    f"the floor {self.floor} applies")
        n = len(self.months)
        avg = round_fen(self.average_wage)
        text = f"average of {n} month{'s' if n != 1 else ''} on record = {avg}"
        if self.average_wage < self.floor:
            return text + f", below the floor {self.floor}: the floor applies"
        if self.average_wage > self.cap:
            return text + f", above the cap {self.cap}: the cap applies"
        return text + f", within floor {self.floor} and cap {self.cap}"


def floor_and_cap(average_monthly_wage: Decimal, floor_ratio: Decimal, cap_ratio: Decimal) -> tuple[Decimal, Decimal]:
    """R.64: floor = 60 % and cap = 300 % of the region's average monthly wage (8000 → 4800,
    24000), each rounded half-up to the fen."""
    assert average_monthly_wage > 0 and 0 < floor_ratio <= cap_ratio
    return round_fen(average_monthly_wage * floor_ratio), round_fen(average_monthly_wage * cap_ratio)


def derive_insured_wage(
    wages: Mapping[str, Decimal],
    injury_on: date,
    average_monthly_wage: Decimal,
    floor_ratio: Decimal,
    cap_ratio: Decimal,
) -> InsuredWage:
    """R.64. `wages` maps a period (YYYY-MM) to the worker's contribution wage that month; only
    the 12 periods before the injury month count, whatever else is given."""
    floor, cap = floor_and_cap(average_monthly_wage, floor_ratio, cap_ratio)
    window = months_before(injury_on)
    used = tuple((p, wages[p]) for p in window if p in wages)
    assert all(w >= 0 for _, w in used), "a wage is never negative"
    if not used:
        return InsuredWage((), Decimal("0"), floor, cap, floor, True)
    average = sum((w for _, w in used), Decimal("0")) / len(used)
    clamped = min(max(average, floor), cap)
    return InsuredWage(used, average, floor, cap, round_fen(clamped), False)
