"""Identifiers the ledger accepts: resident identity numbers (GB 11643), unified social credit
codes (GB 32100 with the embedded GB 11714 organization code), administrative divisions
(GB/T 2260), CNAPS bank codes, bank account numbers and industry codes (GB/T 4754-2011).

Each `check_*` returns the canonical value (or a small value object) and raises
`InvalidIdentifier(field_hint, message)` on the first rule broken. The `make_*` generators at
the end build valid codes for tests and demo data; they are never used to repair input.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import mul

# --- errors ---------------------------------------------------------------------------------


class InvalidIdentifier(ValueError):
    """A code that breaks its standard. A ValueError, so pydantic validators turn it into a
    422 naming the field; `field_hint` names the kind of code, `message` says what is wrong."""

    def __init__(self, field_hint: str, message: str) -> None:
        super().__init__(message)
        self.field_hint = field_hint
        self.message = message


_DIGITS = "0123456789"


def _all_digits(s: str) -> bool:
    """Every character one of 0-9 (str.isdigit alone takes other scripts' digits too)."""
    return s.isascii() and s.isdigit() or not s

# --- administrative divisions (GB/T 2260) ---------------------------------------------------

NATIONAL_REGION = "000000"
# Province-level prefixes of GB/T 2260 (incl. 71 Taiwan, 81 Hong Kong, 82 Macao): a code whose
# first two digits are none of these is no division at all.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65"
    " 71 81 82".split()
)


def check_region(s: object) -> str:
    """A 6-digit administrative division code (GB/T 2260), or `000000`, the national level
    under which the national default policy is published."""
    if not isinstance(s, str) or len(s) != 6 or not _all_digits(s):
        raise InvalidIdentifier("region", "must be a 6-digit administrative division code")
    if s == NATIONAL_REGION:
        return s
    if s[:2] not in PROVINCE_PREFIXES:
        raise InvalidIdentifier("region", f"'{s[:2]}' is not a province-level division code")
    return s


# --- resident identity number (GB 11643) ----------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"  # indexed by sum mod 11


_ID_ZEROS = 48 * sum(_ID_WEIGHTS)  # the weighted sum of 17 characters "0", as their codes


def id_check_char(body17: str) -> str:
    """GB 11643 check character of the first 17 digits (ASCII: each digit's code less "0"'s,
    weighted; a map of C calls, where a digit at a time was a quarter of an import row's check)."""
    if len(body17) != 17 or not _all_digits(body17):
        raise ValueError(f"not 17 digits: {body17!r}")
    return _ID_CHECK_CHARS[(sum(map(mul, body17.encode(), _ID_WEIGHTS)) - _ID_ZEROS) % 11]


@dataclass(frozen=True)
class IdNumber:
    """A checked resident identity number (GB 11643); `value` is canonical (upper-case X)."""

    value: str
    birth_date: date

    @property
    def region(self) -> str:
        return self.value[:6]

    @property
    def sex(self) -> str:
        """GB 11643: the 17th digit (the sequence's last) is odd for a man, even for a woman."""
        return "male" if int(self.value[16]) % 2 == 1 else "female"

    @property
    def masked(self) -> str:
        """Keep the region and the last four: enough to tell records apart, not to identify."""
        return self.value[:6] + "*" * 8 + self.value[-4:]

    def __str__(self) -> str:
        return self.value


def check_id_number(s: object, today: date | None = None) -> IdNumber:
    """GB 11643: 17 digits and a check character; digits 7–14 a real birth date, not after
    `today` when given (no clock is read here). A lower-case `x` is accepted as `X`."""
    hint = "id_number"
    if not isinstance(s, str) or len(s) != 18:
        raise InvalidIdentifier(hint, "must be 18 characters")
    value = s[:17] + s[17].upper()
    if not _all_digits(value[:17]):
        raise InvalidIdentifier(hint, "the first 17 characters must be digits")
    if value[17] not in _ID_CHECK_CHARS:
        raise InvalidIdentifier(hint, "the last character must be a digit or X")
    expected = id_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(hint, f"check character should be '{expected}'")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentifier(hint, f"digits 7-14 '{value[6:14]}' are not a real date") from None
    if today is not None and born > today:
        raise InvalidIdentifier(hint, f"birth date {born.isoformat()} is in the future")
    try:
        check_region(value[:6])
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(hint, f"digits 1-6: {exc.message}") from None
    if value[:6] == NATIONAL_REGION:
        raise InvalidIdentifier(hint, "digits 1-6 must be a real division, not 000000")
    return IdNumber(value=value, birth_date=born)


def id_numbers_if_all_good(values: Sequence[str], today: date) -> list[IdNumber] | None:
    """`check_id_number(value, today)` of each of `values` (an import's column), a column at a
    time and each birth date read once, when every one of them is good; None as soon as one is
    not (check each then: `check_id_number` names its problem)."""
    if not values or min(map(len, values)) != 18 or max(map(len, values)) != 18:
        return None
    bodies = "".join([value[:17] for value in values])
    if not (bodies.isascii() and bodies.isdigit()):
        return None
    out: list[IdNumber] = []
    births: dict[str, date | None] = {}
    zeros, weights = _ID_ZEROS, _ID_WEIGHTS
    for value in values:
        last = value[17]
        if last == "x":
            value, last = value[:17] + "X", "X"
        if _ID_CHECK_CHARS[(sum(map(mul, value[:17].encode(), weights)) - zeros) % 11] != last:
            return None
        digits = value[6:14]
        born = births.get(digits, False)
        if born is False:
            try:
                born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
            except ValueError:
                born = None
            births[digits] = born if born is None or born <= today else None
            born = births[digits]
        if born is None or value[:2] not in PROVINCE_PREFIXES or value[:6] == NATIONAL_REGION:
            return None
        out.append(IdNumber(value, born))  # type: ignore[arg-type]
    return out


# --- unified social credit code (GB 32100) and organization code (GB 11714) -----------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I O S V Z: value = position
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # GB 11714: A=10 … Z=35


def uscc_check_char(prefix17: str) -> str:
    """GB 32100 check character: (31 − Σ value×weight mod 31) mod 31, as its character."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(prefix17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character: 11 − (Σ value×weight mod 11); 10 → 'X', 11 → '0'."""
    check = 11 - sum(_ORG_BODY_CHARS.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _check_uscc_shape(s: str, length: int) -> None:
    hint = "uscc"
    for position, c in enumerate(s, start=1):
        if c not in USCC_ALPHABET:
            raise InvalidIdentifier(hint, f"character {position} '{c}' is not in the GB 32100 alphabet")
    if length >= 8 and not _all_digits(s[2:8]):
        raise InvalidIdentifier(hint, "characters 3-8 must be the digits of a division code")
    if length >= 17 and s[16] not in _DIGITS + "X":
        raise InvalidIdentifier(hint, "character 17 (organization code check) must be a digit or X")


def check_uscc(s: object) -> str:
    """GB 32100 unified social credit code: 18 characters of its alphabet with the mod-31
    check at 18, and the GB 11714 organization code at 9–17 with its own mod-11 check at 17.
    Lower-case input is accepted; the canonical upper-case code is returned."""
    hint = "uscc"
    if not isinstance(s, str) or len(s) != 18:
        raise InvalidIdentifier(hint, "must be 18 characters")
    value = s.upper()
    _check_uscc_shape(value, 18)
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(hint, f"check character should be '{expected}'")
    expected_org = org_code_check_char(value[8:16])
    if value[16] != expected_org:
        raise InvalidIdentifier(hint, f"organization code check character (17) should be '{expected_org}'")
    return value


# --- banks ----------------------------------------------------------------------------------


def check_cnaps(s: object) -> str:
    """A CNAPS bank (branch) code: 12 digits."""
    if not isinstance(s, str) or len(s) != 12 or not _all_digits(s):
        raise InvalidIdentifier("bank_code", "must be a 12-digit CNAPS code")
    return s


def check_account_no(s: object) -> str:
    """A bank account or card number: 8 to 32 digits."""
    if not isinstance(s, str) or not 8 <= len(s) <= 32 or not _all_digits(s):
        raise InvalidIdentifier("account_no", "must be 8 to 32 digits")
    return s


def mask_account_no(s: str) -> str:
    """Show the last four (and, for 12 digits or more, the first four, which name the bank)."""
    account_no = check_account_no(s)
    shown_head = 4 if len(account_no) >= 12 else 0
    return account_no[:shown_head] + "*" * (len(account_no) - shown_head - 4) + account_no[-4:]


# --- industry (GB/T 4754-2011) --------------------------------------------------------------

# GB/T 4754-2011 sections and their two-digit divisions (大类); the 2015 risk table
# (人社部发〔2015〕71号) is built on these. The 2017 edition renumbered from 79 on.
_SECTION_DIVISIONS = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 78), "O": (79, 81), "P": (82, 82), "Q": (83, 84), "R": (85, 89),
    "S": (90, 95), "T": (96, 96),
}
SECTION_OF_DIVISION = {
    f"{n:02d}": section for section, (low, high) in _SECTION_DIVISIONS.items() for n in range(low, high + 1)
}
DIVISIONS = tuple(section + number for number, section in SECTION_OF_DIVISION.items())  # "A01" … "T96"


@dataclass(frozen=True)
class IndustryCode:
    """A checked GB/T 4754-2011 code: section letter, 2-digit division, optionally the 3-digit
    group or 4-digit class (`C3311`)."""

    code: str

    @property
    def section(self) -> str:
        return self.code[0]

    @property
    def division(self) -> str:
        """Section letter and division, e.g. "I65": the key of the risk-class table."""
        return self.code[:3]

    def __str__(self) -> str:
        return self.code


def check_industry_code(s: object) -> IndustryCode:
    """GB/T 4754-2011: a section letter A–T, a division that exists and belongs to that section,
    then optionally one or two more digits (group, class)."""
    hint = "industry_code"
    if not isinstance(s, str) or not 3 <= len(s) <= 5:
        raise InvalidIdentifier(hint, "must be a section letter and 2 to 4 digits, e.g. 'C3311'")
    section, digits = s[0], s[1:]
    if section not in _SECTION_DIVISIONS:
        raise InvalidIdentifier(hint, f"'{section}' is not a GB/T 4754-2011 section (A-T)")
    if not _all_digits(digits):
        raise InvalidIdentifier(hint, "the section letter must be followed by digits only")
    owner = SECTION_OF_DIVISION.get(digits[:2])
    if owner is None:
        raise InvalidIdentifier(hint, f"division {digits[:2]} does not exist in GB/T 4754-2011")
    if owner != section:
        raise InvalidIdentifier(hint, f"division {digits[:2]} belongs to section {owner}, not {section}")
    return IndustryCode(code=s)


# --- generators (tests and demo data only) --------------------------------------------------


def make_id_number(region6: str, birth_date: date, seq3: int | str) -> str:
    """A valid GB 11643 number: region, birth date, 3-digit sequence (odd last digit = male)
    and the computed check character."""
    seq = f"{seq3:03d}" if isinstance(seq3, int) else seq3
    if len(seq) != 3 or not _all_digits(seq):
        raise InvalidIdentifier("id_number", "the sequence must be 3 digits")
    body = check_region(region6) + birth_date.strftime("%Y%m%d") + seq
    value = body + id_check_char(body)
    check_id_number(value)
    return value


def make_uscc(prefix17_without_check: str) -> str:
    """A valid GB 32100 code from its first 17 characters (authority, type, division, the
    8-character organization body and its check), or from the first 16, in which case the
    GB 11714 check at 17 is computed too. Only the final check character is added."""
    prefix = prefix17_without_check.upper()
    if len(prefix) not in (16, 17):
        raise InvalidIdentifier("uscc", "give the first 16 or 17 characters")
    _check_uscc_shape(prefix, len(prefix))
    if len(prefix) == 16:
        prefix += org_code_check_char(prefix[8:16])
    return check_uscc(prefix + uscc_check_char(prefix))
