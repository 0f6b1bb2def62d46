"""RULES.md "Splitting money": the parts of a split add up to the whole to the fen; each part is
its exact share rounded down, and the fen left go one each to the largest remainders, ties in the
order listed. A property test over random amounts and part counts, and worked examples."""
from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.money import split_fen, split_yuan

weights = st.lists(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
                   min_size=1, max_size=40).filter(lambda ws: sum(ws) > 0)


@settings(max_examples=500, deadline=None)
@given(total=st.integers(min_value=-10**15, max_value=10**15), ws=weights)
def test_the_parts_always_add_up_to_the_whole(total: int, ws: list[D]) -> None:
    parts = split_fen(total, ws)
    assert len(parts) == len(ws) and sum(parts) == total
    whole = sum(Fraction(w) for w in ws)
    magnitude = abs(total)
    exact = [magnitude * Fraction(w) / whole for w in ws]
    floors = [e.numerator // e.denominator for e in exact]
    extra = [abs(p) - f for p, f in zip(parts, floors)]
    assert set(extra) <= {0, 1}  # never more than one fen from the exact share
    assert all(p == 0 for p, w in zip(parts, ws) if w == 0)
    assert all((p >= 0) if total >= 0 else (p <= 0) for p in parts)
    # the remaining fen went to the largest remainders, ties to the earlier part
    given_to = [i for i, x in enumerate(extra) if x]
    kept = [i for i, x in enumerate(extra) if not x]
    for i in given_to:
        for j in kept:
            ri, rj = exact[i] - floors[i], exact[j] - floors[j]
            assert ri > rj or (ri == rj and i < j)


def test_worked_examples() -> None:
    # 1.00 in three equal parts: 33.33… each, the one fen left to the first listed.
    assert split_fen(100, [1, 1, 1]) == [34, 33, 33]
    assert split_fen(-100, [1, 1, 1]) == [-34, -33, -33]
    # 9000.01 over 0.40, 0.30, 0.30: 3600.004, 2700.003, 2700.003 → floors 3600.00, 2700.00,
    # 2700.00 and the one fen left to the largest remainder, the first.
    assert split_yuan(D("9000.01"), [D("0.40"), D("0.30"), D("0.30")]) == [D("3600.01"), D("2700.00"), D("2700.00")]
    # 10.00 over 1 : 2 : 0 : 3 — 1.666…, 3.333…, 0, 5.00: remainders .666 and .333, one fen left.
    assert split_fen(1000, [1, 2, 0, 3]) == [167, 333, 0, 500]
    assert split_fen(0, [D("0.5"), D("0.5")]) == [0, 0]
