"""Reading an import file: UTF-8 CSV with a header row, column order free, empty means none.

A problem with the file as a whole (not UTF-8, no header, a column missing or unknown) refuses the
request (422 naming it); a problem with one row rejects that row only, naming its number (the
header is row 1, as a spreadsheet shows it) and its field.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import repeat

from libs.money import NotMoney, parse_yuan
from libs.web.problems import Problem, invalid, invalid_many

MAX_ROWS_PER_REQUEST = 10_000  # the command line posts a large file in chunks of fewer rows
MAX_FIELD_CHARS = 400
MAX_COLUMNS = 40
HEADER_ROW = 1
TRUE = frozenset({"true", "yes", "y", "1", "是"})
FALSE = frozenset({"false", "no", "n", "0", "否", ""})


# a string as json.dumps(..., ensure_ascii=False) writes it (the C function the encoder calls)
_JSON_TEXT = json.encoder.encode_basestring


class RowRejected(Exception):
    """One bad value of one row: the row is rejected, the others go on."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}")
        self.field, self.message = field_, message


def all_texts(texts: Sequence[str], max_len: int = 200) -> bool:
    """`Row.text`'s checks of a required column, a whole column at once: every value given and
    within `max_len` characters (a column of no rows: False)."""
    return bool(texts) and 0 < min(map(len, texts)) and max(map(len, texts)) <= max_len


class Row:
    """One row of a request: made once per row by `Table.rows` (a plain class: a wages request
    makes thousands), never changed after its key is set."""

    __slots__ = ("number", "values", "legacy_id", "problem")

    def __init__(self, number: int, values: dict[str, str], legacy_id: str = "",
                 problem: RowRejected | None = None) -> None:
        self.number = number  # the row of the file: the header is row 1
        self.values = values  # every column of the kind, stripped; "" when empty or absent
        self.legacy_id = legacy_id
        self.problem = problem

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.values!r}, {self.legacy_id!r})"

    def __getitem__(self, column: str) -> str:
        return self.values[column]

    def digest(self) -> str:
        """What "the same content" means for a row posted again: its columns as given — the
        SHA-256 of json.dumps(sorted(values.items()), ensure_ascii=False, separators=(",", ":")).
        A request's rows are digested together by `Table.digests`."""
        return digests(sorted(self.values), [[self.values[k]] for k in sorted(self.values)])[0]

    # -- typed values: each refusal names the column -----------------------------------------

    def text(self, column: str, *, required: bool = True, max_len: int = 200) -> str | None:
        value = self.values[column]
        if not value:
            if required:
                raise RowRejected(column, "is required")
            return None
        if len(value) > max_len:
            raise RowRejected(column, f"at most {max_len} characters")
        return value

    def day(self, column: str, *, required: bool = True) -> date | None:
        value = self.values[column]
        if not value:
            if required:
                raise RowRejected(column, "is required")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise RowRejected(column, "must be an ISO date such as 2026-01-31") from None

    def month(self, column: str, *, required: bool = True) -> str | None:
        value = self.values[column]
        if not value:
            if required:
                raise RowRejected(column, "is required")
            return None
        if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() \
                or not 1 <= int(value[5:]) <= 12 or int(value[:4]) < 1900:
            raise RowRejected(column, "must be a month YYYY-MM")
        return value

    def money(self, column: str, *, required: bool = True, default: Decimal | None = None) -> Decimal | None:
        value = self.values[column]
        if not value:
            if required:
                raise RowRejected(column, "is required")
            return default
        try:
            return parse_yuan(value)
        except NotMoney as exc:
            raise RowRejected(column, str(exc)) from None

    def flag(self, column: str) -> bool:
        value = self.values[column].lower()
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise RowRejected(column, "must be true or false (empty: false)")

    def integer(self, column: str, *, low: int, high: int) -> int | None:
        value = self.values[column]
        if not value:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            raise RowRejected(column, f"must be a whole number from {low} to {high}")
        return int(value)


@dataclass
class Table:
    """A request's rows as columns: read once, keyed and digested a column at a time (a wages
    request is thousands of rows of four columns), made into `Row`s for the kind's checks."""

    numbers: list[int]  # each row's number in the file (the header is row 1), blank lines left out
    columns: dict[str, list[str]]  # every column of the kind, in its order: each row's value, stripped; "" if absent
    problems: dict[int, RowRejected]  # row number → what is wrong with the row as a line of the file

    def rows(self) -> list[Row]:
        """A Row each, made by maps (no bytecode run a row: a quarter less)."""
        names, numbers = list(self.columns), self.numbers
        return list(map(Row, numbers, map(dict, map(zip, repeat(names), zip(*self.columns.values()))), repeat(""),
                        map(self.problems.get, numbers)))

    def digests(self) -> list[str]:
        """Each row's `Row.digest`, in the order of `numbers`."""
        names = sorted(self.columns)
        return digests(names, [self.columns[name] for name in names])


def digests(names: Sequence[str], columns: Sequence[Sequence[str]]) -> list[str]:
    """The SHA-256 of json.dumps(sorted(values.items()), ensure_ascii=False, separators=(",", ":"))
    of each row of `columns` (named by `names`, sorted): the names written once into a format
    string, each column's values JSON-encoded by one map (the encoder's own string function)."""
    if not names:
        return [hashlib.sha256(b"[]").hexdigest() for _value in range(len(columns[0]) if columns else 1)]
    template = "[" + ",".join("[" + _JSON_TEXT(n).replace("{", "{{").replace("}", "}}") + ",{}]" for n in names) + "]"
    sha256 = hashlib.sha256
    return [sha256(text.encode()).hexdigest() for text in map(template.format, *[map(_JSON_TEXT, c) for c in columns])]


def read_rows(body: bytes, columns: tuple[str, ...], optional: tuple[str, ...], first_row: int) -> list[Row]:
    return read_table(body, columns, optional, first_row).rows()


def read_table(body: bytes, columns: tuple[str, ...], optional: tuple[str, ...], first_row: int,
               max_rows: int = MAX_ROWS_PER_REQUEST) -> Table:
    """The rows of one request's body (the header first). `first_row` is the file's number of
    the body's first data row, so a file posted in chunks keeps its own row numbers."""
    try:
        text = body.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise invalid("body", f"is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise invalid("body", f"starts with a header row naming the columns: {','.join(columns)}")
        names = [h.strip() for h in header]
        _check_header(names, columns, optional)
        plain = _plain_table(text, names, (*columns, *optional), first_row, max_rows)
        if plain is not None:
            return plain
        # every record at once, each row's number and blankness by maps: no bytecode run a row
        # (a wages request is 50,000 of them); the body is bounded by the request's size limit
        records: list[list[str]] = list(reader)
    except csv.Error as exc:  # an unterminated quote
        raise invalid("body", f"is not a readable CSV: {exc}") from None
    numbers = list(range(first_row, first_row + len(records)))
    stripped = list(map(str.strip, map("".join, records)))
    if not all(stripped):  # a blank line (or one of blank fields) left out
        kept = [i for i, text in enumerate(stripped) if text]
        numbers, records = list(map(numbers.__getitem__, kept)), list(map(records.__getitem__, kept))
    if len(records) > max_rows:
        raise Problem(413, "Payload too large", f"at most {max_rows} rows per request: "
                      "post a larger file in chunks (the command line does)")
    return _table(numbers, records, names, (*columns, *optional))


def _plain_table(text: str, names: list[str], wanted: tuple[str, ...], first_row: int, max_rows: int) -> Table | None:
    """The commonest file read as columns by splitting its text, no list made a row: no quote,
    carriage return or NUL (then a line is a record and a comma ends a field, as the csv module
    reads it), every line the header's fields, none too long and no line blank (a column without
    an empty value says so). Else None: the csv way, which names a line's problem."""
    if '"' in text or "\r" in text or "\0" in text:
        return None
    lines = text.split("\n")
    del lines[0]  # the header
    if lines and not lines[-1]:  # the end of the last line
        lines.pop()
    width = len(names)
    if not lines or len(lines) > max_rows or set(map(str.count, lines, repeat(","))) != {width - 1}:
        return None
    fields = ",".join(lines).split(",")
    given = {name: list(map(str.strip, fields[i::width])) for i, name in enumerate(names)}
    if max(max(map(len, column)) for column in given.values()) > MAX_FIELD_CHARS \
            or all("" in column for column in given.values()):
        return None
    return Table(list(range(first_row, first_row + len(lines))),
                 {name: given.get(name) or [""] * len(lines) for name in wanted}, {})


def _table(numbers: list[int], records: list[list[str]], names: list[str], wanted: tuple[str, ...]) -> Table:
    """The records as columns: a column at a time when every record has the header's fields and
    no value is too long (the commonest file), else row by row (`_row`, which names a problem)."""
    if records and min(map(len, records)) == max(map(len, records)) == len(names):
        given = {name: list(map(str.strip, column)) for name, column in zip(names, zip(*records))}
        if max(max(map(len, column)) for column in given.values()) <= MAX_FIELD_CHARS:
            return Table(numbers, {name: given.get(name) or [""] * len(records) for name in wanted}, {})
    rows = [_row(number, names, record, wanted) for number, record in zip(numbers, records)]
    return Table(numbers, {name: [row.values[name] for row in rows] for name in wanted},
                 {row.number: row.problem for row in rows if row.problem is not None})


def _check_header(names: list[str], columns: tuple[str, ...], optional: tuple[str, ...]) -> None:
    errors = []
    if len(names) > MAX_COLUMNS:
        errors.append({"field": "header", "message": f"at most {MAX_COLUMNS} columns"})
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append({"field": f"header.{name}", "message": "appears twice"})
        seen.add(name)
        if name not in columns and name not in optional:
            errors.append({"field": f"header.{name}", "message": f"is not a column of this kind "
                                                               f"({', '.join((*columns, *optional))})"})
    errors += [{"field": f"header.{c}", "message": "is missing"} for c in columns if c not in seen]
    if errors:
        raise invalid_many(errors[:100])


def _row(number: int, names: list[str], record: list[str], wanted: tuple[str, ...]) -> Row:
    values = dict.fromkeys(wanted, "")
    problem = None
    if len(record) > len(names):
        problem = RowRejected("row", f"has {len(record)} fields, the header {len(names)}")
    for name, raw in zip(names, record):
        value = raw.strip()
        if len(value) > MAX_FIELD_CHARS:
            problem = problem or RowRejected(name, f"at most {MAX_FIELD_CHARS} characters")
            value = value[:MAX_FIELD_CHARS]
        values[name] = value
    return Row(number, values, problem=problem)
