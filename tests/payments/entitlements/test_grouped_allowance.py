"""The grouped month's R.35 in integer fen (`grouped.AllowanceTemplate`) against `rules`: for any
insured wage, grade, ratio and minimum wage, the same payer, fen and explanation JSON to the byte
as the Calc of `rules.disability_allowance` encoded by `MonthOfGroups._due` — both sides of the
minimum, the half-up rounding's edges, an uninsured employer's note and a wage written without
its fen included."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.entitlements import engine, grouped
from services.payments.entitlements.engine import _allowance_of
from tests.unit.payments.facts import policy

NOW = datetime(2027, 3, 2, 9, tzinfo=timezone.utc)


def _month(ratio: str, minimum: str) -> grouped.MonthOfGroups:
    pol = policy("440300", "2020-01-01", 1, "2020-01-01", minimum_monthly_wage=minimum,
                 disability_allowance_ratios={"1": ratio, "2": "0.85", "3": "0.80", "4": "0.75", "5": "0.70",
                                                              "6": "0.60"})
    return grouped.MonthOfGroups(engine.MonthAhead.of("440300", [pol], NOW), [None] * 22, frozenset())


def _inputs(wage: str, grade: str, uninsured: bool) -> grouped.Inputs:
    return grouped.Inputs(
        grouped.FORMAT, "c1", "emp-1", "440300", "employee:ee-1", "4", NOW.isoformat(), "e4", NOW.isoformat(), "e4",
        "GradeAssigned e4", "2026-06", "e1", "e2", wage, "e3",
        '{"effective_from": "2020-01-01", "region": "440300", "version": 1}', grade, "none", "e4", "1980-05-17",
        "male", "", "2026-01-10" if uninsured else "", "e0" if uninsured else "")


def _both(month: grouped.MonthOfGroups, inputs: grouped.Inputs) -> tuple:
    doc = month.doc
    by_rules = month._due("disability_allowance", _allowance_of(
        inputs.wage, int(inputs.grade), str(doc.disability_allowance_ratios[inputs.grade]),
        str(doc.minimum_monthly_wage)), inputs)
    return month._allowance(inputs), by_rules


@settings(max_examples=400, deadline=None)
@given(wage_fen=st.integers(min_value=1, max_value=10_000_000), ratio_units=st.integers(min_value=1, max_value=100),
       minimum_fen=st.integers(min_value=1, max_value=1_000_000), uninsured=st.booleans(),
       plain=st.booleans())
def test_template_equals_rules(wage_fen: int, ratio_units: int, minimum_fen: int, uninsured: bool,
                               plain: bool) -> None:
    ratio = f"{ratio_units // 100}.{ratio_units % 100:02d}" if ratio_units < 100 else "1.00"
    month = _month(ratio, f"{minimum_fen // 100}.{minimum_fen % 100:02d}")
    wage = f"{wage_fen // 100}" if plain and wage_fen % 100 == 0 else f"{wage_fen // 100}.{wage_fen % 100:02d}"
    templated, by_rules = _both(month, _inputs(wage, "1", uninsured))
    assert templated == by_rules
    assert all(t is not None for t in month._templates.values())  # the template made it


def test_edges() -> None:
    """Half up at exactly half a fen, a raw amount just under the minimum that rounds up to it,
    a wage written with one decimal, a ratio of three decimals; the template was used."""
    month = _month("0.905", "2360.00")
    for wage in ("2607.73", "2607.74", "2607.7", "2608", "9999999.99", "0.01"):
        templated, by_rules = _both(month, _inputs(wage, "1", False))
        assert templated == by_rules, wage
    assert any(t is not None for t in month._templates.values())
    raw = Decimal("2607.73") * Decimal("0.905")  # 2359.99565: under the minimum, rounds to 2360.00
    assert raw < Decimal("2360.00")
    assert _both(month, _inputs("2607.73", "1", False))[0][3].count("topped up by 0.00") == 1


def test_sql_yuan_is_python_yuan() -> None:
    """`in_database` writes fen as yuan text in SQL exactly as the template does in Python."""
    import sqlite3

    from services.payments.entitlements.in_database import _Sql

    db = sqlite3.connect(":memory:")
    expression = _Sql("sqlite").yuan("x")
    for fen in (0, 1, 9, 10, 99, 100, 101, 110, 250_000, 720_000, 1_234_567, 999_999_999_999):
        (got,) = db.execute(f"SELECT {expression} FROM (SELECT ? AS x)", (fen,)).fetchone()
        assert got == grouped._yuan(fen)


@settings(max_examples=200, deadline=None)
@given(claim=st.text(min_size=1, max_size=64), payee=st.text(max_size=80), point=st.text(max_size=120),
       fen=st.integers(min_value=-10 ** 12, max_value=10 ** 12),
       kind=st.sampled_from(sorted(engine.KINDS)), month=st.sampled_from(["2026-12", "2027-01"]),
       payer=st.sampled_from(["fund", "employer"]))
def test_sql_line_id_is_the_engines(claim: str, payee: str, point: str, fen: int, kind: str, month: str,
                                    payer: str) -> None:
    """The line id SQLite's function makes in the database month (its fields joined by '|' in SQL)
    is `engine.line_id`'s, to the character — the no-double-payment key — non-ASCII text included."""
    from services.payments.entitlements.in_database import line_id_of_text

    joined = "|".join((claim, kind, payee, month, payer, point, str(fen)))
    assert line_id_of_text(joined) == engine.line_id(claim, (kind, payee, month, payer), point, fen)
