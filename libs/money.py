"""Money: Decimal yuan at the edges, integer fen inside the databases.

SQLite has no exact decimal column, so every stored amount is an integer count of fen
(`amount_fen`); the API and the events carry yuan as decimal strings with exactly two places.
Rounding is half-up to the fen, once, where an amount becomes payable (API.md).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

FEN = Decimal("0.01")
MAX_PARTS = 100_000  # parts of one split
# A ceiling on any single amount: 10^13 yuan is far beyond any fund, and keeps fen in BIGINT.
MAX_AMOUNT_YUAN = Decimal("9999999999999.99")
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,32}(\.[0-9]{1,32})?")


class NotMoney(ValueError):
    """A value that is not an amount of yuan with at most two places."""


def parse_yuan(value: object, *, allow_negative: bool = False) -> Decimal:
    """Parse a decimal string (or Decimal/int) of yuan with at most two places, exactly."""
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise NotMoney("must be a decimal string such as \"8123.45\"")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value):  # not 1e5, " 5", "1_000", "+5", ".5"
        raise NotMoney("must be a decimal string such as \"8123.45\"")
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise NotMoney("must be a decimal string such as \"8123.45\"") from exc
    if not amount.is_finite():
        raise NotMoney("must be a finite amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise NotMoney("must have at most two decimal places")
    if amount < 0 and not allow_negative:
        raise NotMoney("must not be negative")
    if abs(amount) > MAX_AMOUNT_YUAN:
        raise NotMoney("is beyond the largest amount the ledger accepts")
    return amount.quantize(FEN)


def plain_yuan_fen(text: object) -> int | None:
    """The fen of the commonest form of an amount, "8123.45" (1 to 13 ASCII digits, a point, two
    digits), read without a Decimal for the hot loops (a wage line); None for any other form,
    which the caller reads the long way (parse_yuan)."""
    if type(text) is str and 4 <= len(text) <= 16 and text[-3] == ".":
        digits = text[:-3] + text[-2:]
        if digits.isdigit() and digits.isascii():
            return int(digits)
    return None


_PLAIN_COLUMN = re.compile(r"(?:[0-9]{1,13}\.[0-9]{2}\n)*[0-9]{1,13}\.[0-9]{2}")


def plain_yuan_fens(texts: Sequence[object]) -> list[int] | None:
    """plain_yuan_fen of a whole column at once (a report's wages): the fen of each when every
    one is in the plain form, else None (the caller reads them one by one, the long way). One
    regular-expression match over the column joined and `int` mapped over its digits: no
    Python call per amount."""
    try:
        joined = "\n".join(texts)  # type: ignore[arg-type]  # anything but str: TypeError
    except TypeError:
        return None
    # a text with a newline of its own would pass the match: the count of newlines tells
    if not texts or joined.count("\n") != len(texts) - 1 or _PLAIN_COLUMN.fullmatch(joined) is None:
        return None
    return list(map(int, joined.replace(".", "").split("\n")))


def round_fen(amount: Decimal) -> Decimal:
    """Round half-up to the fen: the one rounding an amount gets when it becomes payable."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen(amount: Decimal) -> int:
    """Yuan (already at fen precision) to an integer count of fen."""
    quantized = amount.quantize(FEN)
    assert quantized == amount, f"{amount} is not at fen precision; round it first"
    return int(quantized * 100)


def from_fen(amount_fen: int) -> Decimal:
    return (Decimal(amount_fen) / 100).quantize(FEN)


def yuan_str(amount: Decimal | int) -> str:
    """The wire form: a string with exactly two places. An int is taken as fen (written
    without a Decimal: a wage import's every row has one)."""
    if isinstance(amount, int):
        sign, fen = ("-", -amount) if amount < 0 else ("", amount)
        return f"{sign}{fen // 100}.{fen % 100:02d}"
    return str(amount.quantize(FEN))


def split_fen(total_fen: int, weights: Sequence[Decimal | int]) -> list[int]:
    """RULES.md "Splitting money": `total_fen` divided in proportion to `weights`, so that the
    parts add up to the whole to the fen. Each part gets its exact share rounded down to the fen
    (toward zero for a negative whole); the fen that remain go one each to the parts with the
    largest remainders, ties in the order the parts are listed. Exact: the shares are fractions,
    never a rounded quotient. A weight of 0 gets nothing."""
    assert 0 < len(weights) <= MAX_PARTS, f"1..{MAX_PARTS} parts"
    assert all(isinstance(w, (int, Decimal)) and not isinstance(w, bool) and w >= 0 for w in weights), \
        "weights are exact (int or Decimal) and not negative"
    whole = sum((Fraction(w) for w in weights), Fraction(0))
    assert whole > 0, "at least one weight is positive"
    sign, magnitude = (-1, -total_fen) if total_fen < 0 else (1, total_fen)
    exact = [magnitude * Fraction(w) / whole for w in weights]
    parts = [share.numerator // share.denominator for share in exact]
    left = magnitude - sum(parts)
    assert 0 <= left < len(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    assert sum(parts) == magnitude
    return [sign * p for p in parts]


def split_yuan(total: Decimal, weights: Sequence[Decimal | int]) -> list[Decimal]:
    """`split_fen` for an amount of yuan at fen precision."""
    return [from_fen(p) for p in split_fen(to_fen(total), weights)]
