"""A region by date (libs/pooling.py), the consolidation's own checks (enrollment's Pooling) and
the carry-over entries (levy ledger): pure, with the dates and figures worked by hand."""
from __future__ import annotations

from datetime import date

import pytest

from libs.pooling import Move, Window, moved_into, moves_by_region, region_on, windows
from services.enrollment.domain.events import PolicyRef
from services.enrollment.domain.model import Conflict, Invalid, Pooling
from services.levy.domain import ledger

JAN, JUL = date(2026, 1, 1), date(2026, 7, 1)
# two counties into their prefecture in January, the prefecture into the province in July
CHAIN = moves_by_region([Move("440301", "440300", JAN), Move("440302", "440300", JAN), Move("440300", "440000", JUL)])
REF = PolicyRef(region="440000", effective_from=date(2024, 1, 1), version=1)


def test_a_region_by_date_follows_the_chain() -> None:
    assert region_on("440301", date(2025, 12, 31), CHAIN) == "440301"
    assert region_on("440301", JAN, CHAIN) == "440300"
    assert region_on("440301", date(2026, 6, 30), CHAIN) == "440300"
    assert region_on("440301", JUL, CHAIN) == "440000"
    assert region_on("440300", date(2026, 6, 30), CHAIN) == "440300"
    assert region_on("110000", JUL, CHAIN) == "110000"


def test_windows_say_which_recorded_regions_belong_to_a_region_and_when() -> None:
    assert windows("440300", CHAIN) == [Window("440300", None, JUL), Window("440301", JAN, JUL),
                                        Window("440302", JAN, JUL)]
    assert windows("440000", CHAIN) == [Window("440000", None, None), Window("440300", JUL, None),
                                        Window("440301", JUL, None), Window("440302", JUL, None)]
    assert windows("440301", CHAIN) == [Window("440301", None, JAN)]
    assert [m.region for m in moved_into("440300", CHAIN)] == ["440301", "440302"]


def test_a_region_is_consolidated_away_once_and_a_chain_never_goes_back() -> None:
    pooling = Pooling()
    first, new = pooling.consolidate("440300", ("440301", "440302"), JAN, REF, date(2026, 2, 1))
    assert new and first.consolidation_id.startswith("pc_")
    same, new = pooling.consolidate("440300", ("440301", "440302"), JAN, REF, date(2026, 3, 1))
    assert (same, new) == (first, False) and len(pooling.pending) == 1  # the same one: nothing recorded
    with pytest.raises(Conflict):
        pooling.consolidate("440000", ("440301",), JUL, REF, date(2026, 3, 1))
    with pytest.raises(Invalid) as back:  # the prefecture took the counties in January: not before
        pooling.consolidate("440000", ("440300",), date(2025, 7, 1), REF, date(2026, 3, 1))
    assert back.value.field == "effective_from"
    with pytest.raises(Invalid) as gone:
        pooling.consolidate("440301", ("440303",), JUL, REF, date(2026, 3, 1))
    assert gone.value.field == "into_region"
    for into, pools, day, field in (("440300", ("440303",), date(2026, 1, 2), "effective_from"),
                                    ("440300", ("440303", "440300"), JAN, "from_regions"),
                                    ("440300", ("440303", "440303"), JAN, "from_regions")):
        with pytest.raises(Invalid) as bad:
            pooling.consolidate(into, pools, day, REF, date(2026, 3, 1))
        assert bad.value.field == field
    pooling.consolidate("440000", ("440300",), JUL, REF, date(2026, 3, 1))
    assert pooling.region_on("440302", JUL) == "440000"


def test_the_carry_over_mirrors_and_balances() -> None:
    # cash 900.00, 80.00 receivable, 20.00 of employer credit: net assets 960.00
    out, in_ = ledger.carry_over_entries("pc_x:440301", JAN, {"cash": 90_000, "contributions_receivable": 8_000,
                                                              "employer_credit": -2_000})
    assert {(ln.account, ln.debit_fen, ln.credit_fen) for ln in out.lines} == {
        ("cash", 0, 90_000), ("contributions_receivable", 0, 8_000), ("employer_credit", 2_000, 0),
        ("pool_transfer", 96_000, 0)}
    assert {(ln.account, ln.credit_fen, ln.debit_fen) for ln in in_.lines} == \
        {(ln.account, ln.debit_fen, ln.credit_fen) for ln in out.lines}
    assert ledger.carry_over_entries("pc_x:440302", JAN, {"cash": 0}) is None
    with pytest.raises(AssertionError):
        ledger.carry_over_entries("pc_x:440303", JAN, {"contribution_income": -5})
