"""GB 11643, GB 32100 / GB 11714, GB/T 2260, CNAPS, accounts and GB/T 4754-2011."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.identifiers import (
    DIVISIONS,
    PROVINCE_PREFIXES,
    USCC_ALPHABET,
    IndustryCode,
    InvalidIdentifier,
    check_account_no,
    check_cnaps,
    check_id_number,
    check_industry_code,
    check_region,
    check_uscc,
    id_check_char,
    make_id_number,
    make_uscc,
    mask_account_no,
    org_code_check_char,
    uscc_check_char,
)


def refusal(check, value, **kwargs) -> InvalidIdentifier:  # noqa: ANN001
    with pytest.raises(InvalidIdentifier) as caught:
        check(value, **kwargs)
    return caught.value


# --- strategies -----------------------------------------------------------------------------

regions = st.builds(lambda p, rest: p + rest, st.sampled_from(sorted(PROVINCE_PREFIXES)),
                    st.text("0123456789", min_size=4, max_size=4))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
sequences = st.integers(min_value=0, max_value=999)
id_numbers = st.builds(make_id_number, regions, birth_dates, sequences)

org_body_chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # letters of GB 11714 that the USCC alphabet has
uscc_prefixes16 = st.builds(
    lambda head, region, body: head + region + body,
    st.text(USCC_ALPHABET, min_size=2, max_size=2), regions, st.text(org_body_chars, min_size=8, max_size=8))
usccs = st.builds(make_uscc, uscc_prefixes16)


def one_change(code: str, alphabet: str):  # noqa: ANN201 - a strategy of (position, new char)
    return st.tuples(st.integers(0, len(code) - 1), st.sampled_from(alphabet)).filter(
        lambda change: code[change[0]] != change[1])


# --- GB 32100 -------------------------------------------------------------------------------

def test_the_rules_example_uscc_passes() -> None:
    assert check_uscc("91110000600037341L") == "91110000600037341L"


def test_a_lower_case_uscc_comes_back_canonical() -> None:
    assert check_uscc("91110000600037341l") == "91110000600037341L"


def test_a_wrong_uscc_check_character_names_the_right_one() -> None:
    error = refusal(check_uscc, "91110000600037341M")
    assert error.field_hint == "uscc"
    assert error.message == "check character should be 'L'"


@pytest.mark.parametrize("bad", ["", "91110000600037341", "91110000600037341LL", None, 91110000600037341])
def test_a_uscc_of_the_wrong_length_or_type_is_refused(bad: object) -> None:
    assert refusal(check_uscc, bad).message == "must be 18 characters"


@pytest.mark.parametrize("letter", "IOSVZ")
def test_letters_outside_the_gb32100_alphabet_are_refused(letter: str) -> None:
    code = "9111000060003734" + letter + "L"
    assert "not in the GB 32100 alphabet" in refusal(check_uscc, code).message


def test_the_division_part_of_a_uscc_must_be_digits() -> None:
    prefix = "91A10000600037341"
    assert "characters 3-8" in refusal(check_uscc, prefix + uscc_check_char(prefix)).message


def test_a_wrong_organization_code_check_is_refused_even_with_a_right_uscc_check() -> None:
    prefix = "91110000600037342"  # organization code check 2 instead of 1
    code = prefix + uscc_check_char(prefix)
    assert refusal(check_uscc, code).message == "organization code check character (17) should be '1'"


def test_organization_code_check_maps_10_to_x_and_11_to_0() -> None:
    # GB 11714 weights 3 7 9 10 5 8 4 2; check = 11 - (sum mod 11)
    assert org_code_check_char("00000001") == "9"  # sum 2
    assert org_code_check_char("00000030") == "X"  # sum 12 → 11 - 1 = 10
    assert org_code_check_char("00000000") == "0"  # sum 0 → 11
    assert org_code_check_char("60003734") == "1"  # the organization code of the RULES example
    assert check_uscc(make_uscc("9111000000000030"))[16] == "X"
    assert check_uscc(make_uscc("9111000000000000"))[16] == "0"


def test_make_uscc_from_16_or_17_characters() -> None:
    assert make_uscc("9111000060003734") == "91110000600037341L"
    assert make_uscc("91110000600037341") == "91110000600037341L"
    assert "should be '1'" in refusal(make_uscc, "91110000600037342").message
    assert refusal(make_uscc, "911100006000").message == "give the first 16 or 17 characters"


@given(usccs)
def test_generated_usccs_pass(code: str) -> None:
    assert check_uscc(code) == code


@given(st.data())
def test_any_single_character_change_of_a_uscc_is_refused(data: st.DataObject) -> None:
    code = data.draw(usccs)
    position, char = data.draw(one_change(code, USCC_ALPHABET))
    with pytest.raises(InvalidIdentifier):
        check_uscc(code[:position] + char + code[position + 1:])


# --- GB 11643 -------------------------------------------------------------------------------

def test_the_standard_example_id_number_passes_with_its_facts() -> None:
    number = check_id_number("11010519491231002X")
    assert number.value == "11010519491231002X"
    assert number.birth_date == date(1949, 12, 31)
    assert number.sex == "female"  # 17th digit 2
    assert number.region == "110105"
    assert number.masked == "110105********002X"
    assert str(number) == "11010519491231002X"


def test_an_odd_17th_digit_is_a_man() -> None:
    assert check_id_number(make_id_number("440305", date(1985, 7, 1), 123)).sex == "male"
    assert check_id_number(make_id_number("440305", date(1985, 7, 1), 124)).sex == "female"


def test_a_lower_case_x_comes_back_upper_case() -> None:
    assert check_id_number("11010519491231002x").value == "11010519491231002X"


def test_a_wrong_check_character_names_the_right_one() -> None:
    error = refusal(check_id_number, "110105194912310021")
    assert error.field_hint == "id_number"
    assert error.message == "check character should be 'X'"


@pytest.mark.parametrize("bad, message", [
    ("11010519491231002", "must be 18 characters"),
    (None, "must be 18 characters"),
    ("1101051949123100AX", "the first 17 characters must be digits"),
    ("11010519491231002Y", "the last character must be a digit or X"),
])
def test_malformed_id_numbers_are_refused(bad: object, message: str) -> None:
    assert refusal(check_id_number, bad).message == message


@pytest.mark.parametrize("birth", ["19490230", "19491301", "19490000", "00000101"])
def test_the_birth_digits_must_be_a_real_date(birth: str) -> None:
    body = "110105" + birth + "002"
    assert "not a real date" in refusal(check_id_number, body + id_check_char(body)).message


def test_a_birth_date_after_today_is_refused_and_today_itself_is_not() -> None:
    number = make_id_number("110105", date(2026, 3, 1), 1)
    assert "in the future" in refusal(check_id_number, number, today=date(2026, 2, 28)).message
    assert check_id_number(number, today=date(2026, 3, 1)).birth_date == date(2026, 3, 1)
    assert check_id_number(number).birth_date == date(2026, 3, 1)  # no today: no clock is read


@pytest.mark.parametrize("region", ["990105", "000000"])
def test_the_region_digits_must_be_a_division(region: str) -> None:
    body = region + "19491231" + "002"
    assert "digits 1-6" in refusal(check_id_number, body + id_check_char(body)).message


def test_make_id_number_takes_the_sequence_as_int_or_text() -> None:
    assert make_id_number("110105", date(1949, 12, 31), 2) == "11010519491231002X"
    assert make_id_number("110105", date(1949, 12, 31), "002") == "11010519491231002X"
    assert refusal(make_id_number, "110105", birth_date=date(1949, 12, 31), seq3="02").field_hint == "id_number"


@given(id_numbers)
def test_generated_id_numbers_pass(number: str) -> None:
    checked = check_id_number(number)
    assert checked.value == number
    assert checked.birth_date.strftime("%Y%m%d") == number[6:14]


@given(st.data())
def test_any_single_character_change_of_an_id_number_is_refused(data: st.DataObject) -> None:
    number = data.draw(id_numbers)
    position, char = data.draw(one_change(number, "0123456789X"))
    with pytest.raises(InvalidIdentifier):
        check_id_number(number[:position] + char + number[position + 1:])


# --- regions, banks -------------------------------------------------------------------------

@pytest.mark.parametrize("region", ["440300", "510100", "110105", "000000", "820000"])
def test_division_codes_pass(region: str) -> None:
    assert check_region(region) == region


@pytest.mark.parametrize("bad", ["44030", "4403000", "44030a", "990000", "100000", 440300, None])
def test_bad_division_codes_are_refused(bad: object) -> None:
    assert refusal(check_region, bad).field_hint == "region"


def test_cnaps_is_twelve_digits() -> None:
    assert check_cnaps("102100099996") == "102100099996"
    for bad in ("10210009999", "1021000999961", "10210009999A", None):
        assert refusal(check_cnaps, bad).message == "must be a 12-digit CNAPS code"


def test_account_numbers_are_8_to_32_digits() -> None:
    assert check_account_no("12345678") == "12345678"
    assert check_account_no("1" * 32) == "1" * 32
    for bad in ("1234567", "1" * 33, "6222 0202", "62220202001122334X", None):
        assert refusal(check_account_no, bad).field_hint == "account_no"


def test_account_numbers_are_masked_but_for_the_bank_and_the_last_four() -> None:
    assert mask_account_no("6222020200112233445") == "6222***********3445"
    assert mask_account_no("12345678") == "****5678"
    assert mask_account_no("123456789012") == "1234****9012"
    with pytest.raises(InvalidIdentifier):
        mask_account_no("not-an-account")


# --- GB/T 4754-2011 -------------------------------------------------------------------------

@pytest.mark.parametrize("code, division", [
    ("I65", "I65"), ("I6510", "I65"), ("C3311", "C33"), ("C331", "C33"), ("B06", "B06"),
    ("A01", "A01"), ("O79", "O79"), ("P82", "P82"), ("Q84", "Q84"), ("R85", "R85"), ("T96", "T96"),
])
def test_industry_codes_pass_and_give_their_division(code: str, division: str) -> None:
    industry = check_industry_code(code)
    assert industry == IndustryCode(code)
    assert industry.division == division
    assert industry.section == code[0]
    assert str(industry) == code


@pytest.mark.parametrize("bad, message", [
    ("I66", "division 66 belongs to section J, not I"),
    ("N79", "division 79 belongs to section O, not N"),  # the 2017 edition moved it
    ("A00", "division 00 does not exist in GB/T 4754-2011"),
    ("T97", "division 97 does not exist in GB/T 4754-2011"),
    ("U01", "'U' is not a GB/T 4754-2011 section (A-T)"),
    ("i65", "'i' is not a GB/T 4754-2011 section (A-T)"),
    ("C3X", "the section letter must be followed by digits only"),
    ("C3", "must be a section letter and 2 to 4 digits, e.g. 'C3311'"),
    ("C331101", "must be a section letter and 2 to 4 digits, e.g. 'C3311'"),
    (None, "must be a section letter and 2 to 4 digits, e.g. 'C3311'"),
])
def test_bad_industry_codes_say_why(bad: object, message: str) -> None:
    error = refusal(check_industry_code, bad)
    assert error.field_hint == "industry_code"
    assert error.message == message


def test_the_2011_table_has_96_divisions_each_in_one_section() -> None:
    assert len(DIVISIONS) == 96
    assert DIVISIONS[0] == "A01" and DIVISIONS[-1] == "T96"
    assert all(check_industry_code(d).division == d for d in DIVISIONS)


def test_invalid_identifier_is_a_value_error_with_a_human_message() -> None:
    error = InvalidIdentifier("uscc", "check character should be 'L'")
    assert isinstance(error, ValueError)
    assert str(error) == "check character should be 'L'"
