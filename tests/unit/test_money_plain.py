"""plain_yuan_fen, the hot loops' reading of "8123.45": the fen parse_yuan gives, or None (never
a different amount) for every form it does not read itself."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.money import NotMoney, parse_yuan, plain_yuan_fen, plain_yuan_fens, to_fen


@pytest.mark.parametrize("text, fen", [("8123.45", 812345), ("0.00", 0), ("0.05", 5), ("0012.30", 1230),
                                       ("9999999999999.99", 999999999999999)])
def test_the_plain_form_is_read_to_the_fen(text: str, fen: int) -> None:
    assert plain_yuan_fen(text) == fen == to_fen(parse_yuan(text))


@pytest.mark.parametrize("value", ["8123", "8123.4", "8123.456", ".45", "-1.00", "+1.00", " 1.00", "1.00 ",
                                   "1_0.00", "１.００", "²1.00", "1e3.00", "99999999999999.99", "", "8123,45",
                                   812345, None, b"1.00"])
def test_any_other_form_is_left_to_parse_yuan(value: object) -> None:
    assert plain_yuan_fen(value) is None


@given(st.text(alphabet="0123456789.-+ e_１", max_size=18))
def test_it_never_reads_an_amount_parse_yuan_reads_otherwise(text: str) -> None:
    fen = plain_yuan_fen(text)
    if fen is None:
        return
    try:
        assert fen == to_fen(parse_yuan(text))
    except NotMoney:
        pytest.fail(f"{text!r} read as {fen} fen, refused by parse_yuan")


@given(st.lists(st.one_of(st.text(alphabet="0123456789.\n-", max_size=17),
                          st.from_regex(r"[0-9]{1,14}\.[0-9]{2}", fullmatch=True)), max_size=6))
def test_a_column_is_read_as_each_of_its_amounts(texts: list[str]) -> None:
    """plain_yuan_fens: every amount's plain_yuan_fen, or None as soon as one is not plain."""
    each = [plain_yuan_fen(t) for t in texts]
    assert plain_yuan_fens(texts) == (each if texts and None not in each else None)


@pytest.mark.parametrize("column", [[], ["1.00", None], ["1.00", 100], ["1.00\n2.00"], ["1.00\n2.00", "3.00"],
                                    ["1.00", "2.00\n"]])
def test_a_column_with_any_other_form_is_left_to_the_long_way(column: list) -> None:
    assert plain_yuan_fens(column) is None
