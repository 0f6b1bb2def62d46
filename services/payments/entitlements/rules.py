"""The benefit rules: one small pure function per benefit, each naming its article (RULES.md).

Every function returns a `Calc`: the amount rounded half-up to the fen once (libs.money.round_fen),
the formula in symbols with the values put in, and every input by name, so the explanation of a
line is enough for an auditor to recompute it by hand. No policy value is a literal here: each is
passed in from the policy document in force.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from libs.money import round_fen, split_yuan, yuan_str

MAX_DEPENDENTS = 20


@dataclass(frozen=True)
class Calc:
    amount: Decimal  # yuan, at fen precision
    formula: str  # symbols and values: "insured_wage × ratio(grade 3) = 8000.00 × 0.80 = 6400.00"
    inputs: dict[str, str]
    article: str
    notes: tuple[str, ...] = field(default=())


def _y(amount: Decimal) -> str:
    return yuan_str(amount)


def treatment_leave_wage(insured_wage: Decimal, days: int, days_in_month: int) -> Calc:
    """R.33: the insured wage, monthly, during the granted treatment leave (停工留薪期).

    Proration: a month wholly within the leave pays the insured wage; a month partly within it
    pays insured_wage × leave days in the month / calendar days of that month, rounded once."""
    assert 0 < days <= days_in_month <= 31
    if days == days_in_month:
        return Calc(round_fen(insured_wage), f"insured_wage = {_y(insured_wage)}",
                    {"insured_wage": _y(insured_wage), "days": str(days), "days_in_month": str(days_in_month)}, "R.33")
    amount = round_fen(insured_wage * days / days_in_month)
    return Calc(amount, f"insured_wage × days / days_in_month = {_y(insured_wage)} × {days} / {days_in_month} = {_y(amount)}",
                {"insured_wage": _y(insured_wage), "days": str(days), "days_in_month": str(days_in_month)}, "R.33")


def disability_grant(insured_wage: Decimal, grade: int, months: int) -> Calc:
    """R.35–37: one-off disability grant, months of insured wage by grade (1: 27 … 10: 7)."""
    amount = round_fen(insured_wage * months)
    return Calc(amount, f"insured_wage × months(grade {grade}) = {_y(insured_wage)} × {months} = {_y(amount)}",
                {"insured_wage": _y(insured_wage), "grade": str(grade), f"disability_grant_months[{grade}]": str(months)},
                "R.35" if grade <= 4 else "R.36" if grade <= 6 else "R.37")


def disability_allowance(insured_wage: Decimal, grade: int, ratio: Decimal, minimum_wage: Decimal) -> Calc:
    """R.35 (grades 1–4, the fund) and R.36 (grades 5–6, the employer): monthly ratio × insured
    wage, never below the regional minimum wage — the payer tops the shortfall up."""
    raw = insured_wage * ratio
    inputs = {"insured_wage": _y(insured_wage), "grade": str(grade), f"disability_allowance_ratios[{grade}]": str(ratio),
              "minimum_monthly_wage": _y(minimum_wage)}
    article = "R.35" if grade <= 4 else "R.36"
    if raw < minimum_wage:
        top_up = minimum_wage - round_fen(raw)
        return Calc(round_fen(minimum_wage),
                    f"max(insured_wage × ratio(grade {grade}), minimum_wage) = max({_y(insured_wage)} × {ratio} = "
                    f"{_y(round_fen(raw))}, {_y(minimum_wage)}) = {_y(minimum_wage)}",
                    inputs, article, (f"topped up by {_y(top_up)} to the minimum monthly wage",))
    amount = round_fen(raw)
    return Calc(amount, f"insured_wage × ratio(grade {grade}) = {_y(insured_wage)} × {ratio} = {_y(amount)}", inputs, article)


def care_allowance(average_wage: Decimal, level: str, ratio: Decimal) -> Calc:
    """R.34: monthly care allowance, care ratio by level (full 50%, mostly 40%, partial 30%) of
    the region's average monthly wage — not the worker's own wage."""
    amount = round_fen(average_wage * ratio)
    return Calc(amount, f"average_monthly_wage × care_ratio({level}) = {_y(average_wage)} × {ratio} = {_y(amount)}",
                {"average_monthly_wage": _y(average_wage), "care_level": level, f"care_ratios.{level}": str(ratio)}, "R.34")


def termination_grant(kind: str, average_wage: Decimal, grade: int, months: int) -> Calc:
    """R.36–37: one-off grants when a grade 5–10 worker's employment ends — the medical grant
    (the fund) and the employment grant (the employer), each months of the region's average
    monthly wage by grade, both levels policy data (`termination_*_grant_months`)."""
    amount = round_fen(average_wage * months)
    return Calc(amount, f"average_monthly_wage × months(grade {grade}) = {_y(average_wage)} × {months} = {_y(amount)}",
                {"average_monthly_wage": _y(average_wage), "grade": str(grade), f"{kind}_months[{grade}]": str(months)},
                "R.36" if grade <= 6 else "R.37")


def funeral_grant(average_wage: Decimal, months: int) -> Calc:
    """R.39: funeral grant, funeral_months (6) × the region's average monthly wage."""
    amount = round_fen(average_wage * months)
    return Calc(amount, f"average_monthly_wage × funeral_months = {_y(average_wage)} × {months} = {_y(amount)}",
                {"average_monthly_wage": _y(average_wage), "funeral_months": str(months)}, "R.39")


def death_grant(national_income: Decimal, multiple: int) -> Calc:
    """R.39: one-off death grant, death_grant_multiple (20) × the previous year's national urban
    per-capita disposable income. Not due when a grade 1–4 worker dies later (see `death_grant_due`)."""
    amount = round_fen(national_income * multiple)
    return Calc(amount, f"national_disposable_income × death_grant_multiple = {_y(national_income)} × {multiple} = {_y(amount)}",
                {"national_disposable_income": _y(national_income), "death_grant_multiple": str(multiple)}, "R.39")


def death_grant_due(kind: str, grade_at_death: int | None) -> bool:
    """R.39 ¶3: a worker of grade 1–4 who dies later gets funeral grant and survivor pensions but
    no one-off death grant; a death in the accident (kind `death`) or of a lesser grade gets it."""
    return kind == "death" or grade_at_death is None or grade_at_death > 4


@dataclass(frozen=True)
class Survivor:
    dependent_id: str
    relation: str
    orphan_or_lone_elder: bool


def survivor_pensions(insured_wage: Decimal, survivors: list[Survivor], spouse: Decimal, other: Decimal,
                      bonus: Decimal, cap: Decimal) -> dict[str, Calc]:
    """R.39: monthly survivor pensions of the deceased's insured wage: the spouse 40%, every other
    dependent 30%, +10% for an orphan or a lone elder; all together at most `cap` (100%). Over
    the cap, the capped whole (insured_wage × cap, rounded once) is split in proportion to the
    ratios, so each keeps its proportion and the pensions add up to the whole to the fen
    (RULES.md "Splitting money": shares rounded down, the fen left to the largest remainders)."""
    assert len(survivors) <= MAX_DEPENDENTS
    ratios = {s.dependent_id: (spouse if s.relation == "spouse" else other) + (bonus if s.orphan_or_lone_elder else 0)
              for s in survivors}
    total = sum(ratios.values(), Decimal(0))
    capped = round_fen(insured_wage * cap)
    shares = dict(zip(ratios, split_yuan(capped, list(ratios.values())))) if total > cap else {}
    out = {}
    for s in survivors:
        r = ratios[s.dependent_id]
        parts = f"{spouse} (spouse)" if s.relation == "spouse" else f"{other} ({s.relation})"
        if s.orphan_or_lone_elder:
            parts += f" + {bonus} (orphan or lone elder)"
        inputs = {"insured_wage": _y(insured_wage), "relation": s.relation,
                  "orphan_or_lone_elder": str(s.orphan_or_lone_elder).lower(), "ratio": f"{parts} = {r}",
                  "survivors": str(len(survivors)), "total_ratio": str(total), "survivor_ratios.cap": str(cap)}
        if total > cap:
            amount = shares[s.dependent_id]
            out[s.dependent_id] = Calc(
                amount, f"insured_wage × cap × ratio / total_ratio = {_y(insured_wage)} × {cap} × {r} / {total} "
                        f"= {_y(amount)} (split of {_y(capped)})",
                {**inputs, "split": "largest remainder", "split_whole": _y(capped)}, "R.39",
                (f"the survivors' ratios add up to {total}, over the cap {cap}: insured_wage × cap = {_y(capped)} is "
                 f"split in proportion to the ratios, each share rounded down to the fen and the fen left to the "
                 f"largest remainders (RULES.md \"Splitting money\")",))
        else:
            amount = round_fen(insured_wage * r)
            out[s.dependent_id] = Calc(amount, f"insured_wage × ratio = {_y(insured_wage)} × {r} = {_y(amount)}",
                                       inputs, "R.39")
    return out


def anniversary(born: date, years: int) -> date:
    """The day someone born on `born` turns `years` (29 February → 28 February)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return born.replace(year=born.year + years, day=28)


def retirement_date(birth_date: date, sex: str, male_age: int, female_age: int) -> date:
    """R.35: the disability allowance of grades 1–4 ends at retirement (retirement_age by sex),
    when the basic pension replaces it."""
    return anniversary(birth_date, male_age if sex == "male" else female_age)
