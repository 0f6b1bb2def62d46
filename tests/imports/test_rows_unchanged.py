"""What a row's digest and a request's totals are does not change with how they are computed: a
row imported before (its digest in import_rows) must still be "the same content" when posted
again, and a summary's totals add up to the fen."""
from __future__ import annotations

import hashlib
import json

import pytest

import libs.imports.rows as rows_module
from libs.imports.rows import Row, read_rows, read_table
from libs.imports.runner import AcceptedRows, add_totals, column_totals, totals_json, totals_jsons
from libs.web.problems import Problem


def test_a_rows_digest_is_the_sha256_of_its_columns_as_json() -> None:
    for values in ({"name": "王五 Wang", "wage": "8123.45", "period": "2026-01", "note": 'a "quoted", text'},
                   {"b": "back\\slash \t tab \x01 \u2028 é", "a": "", "[": "]", "": "\"\"", "é": "😀"}):
        row = Row(7, values)
        canonical = json.dumps(sorted(row.values.items()), ensure_ascii=False, separators=(",", ":"))
        assert row.digest() == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_rows_totals_are_kept_as_json_writes_them() -> None:
    for totals in ({"wage_lines": 1, "wages": "8123.45"}, {}, {"b/c": 2, "a": "0.00", "z": -3},
                   {"名": "王五 \"q\" \\ \x02", "é": 10**20}, {"flag": True, "n": 1}, {"x": 1.5}, {"x": None},
                   {"x": {"y": 1}}):
        assert totals_json(totals) == json.dumps(totals, sort_keys=True)


def test_blank_lines_and_lines_of_blank_fields_are_no_rows() -> None:
    body = "a,b\n1,2\n\n , \n,\n3, x \n".encode()
    rows = read_rows(body, ("a", "b"), (), 2)
    assert [(r.number, r.values) for r in rows] == [(2, {"a": "1", "b": "2"}), (6, {"a": "3", "b": "x"})]


def test_totals_add_counts_and_amounts_to_the_fen() -> None:
    parts = [{"wage_lines": 1, "wages": "8123.45"}, {"wage_lines": 1, "wages": "0.55"}, {"workers": 2},
             {"wage_lines": 1, "wages": "1000.00"}]
    assert add_totals(*parts) == {"wage_lines": 3, "wages": "9124.00", "workers": 2}
    assert add_totals({"wages": "1.10"}, *parts[:2]) == {"wages": "8125.10", "wage_lines": 2}
    assert add_totals() == {}


def test_rows_recorded_alike_keep_their_totals_as_json_writes_them() -> None:
    alike = AcceptedRows([2, 3, 4], ["a", "b", "c"], {"wage_lines": [1, 1, 1], "wages": [812345, 55, -100],
                                                       "{odd} \"key\"": [0, 7, 10**20]}, fen=frozenset({"wages"}))
    rows = [{"wage_lines": 1, "wages": "8123.45", "{odd} \"key\"": 0}, {"wage_lines": 1, "wages": "0.55",
                                                                      "{odd} \"key\"": 7},
            {"wage_lines": 1, "wages": "-1.00", "{odd} \"key\"": 10**20}]
    assert totals_jsons(alike) == [json.dumps(r, sort_keys=True) for r in rows]
    assert column_totals(alike) == add_totals(*rows)
    assert totals_jsons(AcceptedRows([2], [None], {})) == ["{}"]


def test_a_tables_digests_are_its_rows_digests() -> None:
    body = 'b,a,c\n"x, ""y""",é😀, {z} \n \\,\t,{}\n'.encode()
    table = read_table(body, ("a", "b", "c"), (), 2)
    assert table.digests() == [row.digest() for row in table.rows()] == [
        hashlib.sha256(json.dumps(sorted(row.values.items()), ensure_ascii=False, separators=(",", ":")).encode())
        .hexdigest() for row in table.rows()]
    assert [r.values for r in table.rows()] == [{"a": "é😀", "b": 'x, "y"', "c": "{z}"},
                                                {"a": "", "b": "\\", "c": "{}"}]


@pytest.mark.parametrize("body,plain", [
    ("a,b,c\n1,2,3\n4, 5 ,6\n", True),  # the commonest: split
    ("a,b,c\n1,2,3\n4,5,6", True),  # no end to the last line
    ("b,a\n1,2\n, x\n", True),  # columns in another order, an empty value, an optional one missing (c)
    ("a,b,c\n1,,3\n4,2,\n", True),  # a column without an empty value: no blank line
    ("a,b,c\n王五 \t,\u00a0é😀\u2028, \x0b{z}\x1c\n", True),  # what strip takes, a line break only csv's
    ("a,b,c\n1,2,3\n\n4,5,6\n", False),  # a blank line
    ("a,b,c\n1,2,3\n , ,\n", False),  # a line of blank fields
    ("a,b,c\n1,2\n", False),  # a field missing
    ("a,b,c\n1,2,3,4\n", False),  # a field too many
    ('a,b,c\n"1,5",2,3\n', False),  # quoted
    ("a,b,c\r\n1,2,3\r\n", False),  # carriage returns
    ("a,b,c\n1,\x00,3\n", False),  # NUL
    ("a,b,c\n1,2," + "x" * 401 + "\n", False),  # a field too long
    ("a,b,c\n" + "1,2,3\n" * 4, False),  # more rows than the request takes
    ("a,b,c\n", False),  # no rows
    ('a,"b",c\n1,2,3\n', False),  # a quoted header
])
def test_a_plain_file_split_is_what_the_csv_module_reads(body: str, plain: bool, monkeypatch) -> None:  # noqa: ANN001
    """A file without quotes, carriage returns or NUL whose every line has the header's fields is
    read by splitting its text (`_plain_table`): the same rows, numbers and problems as the csv
    module's reading; any other file goes the csv way."""
    def read() -> object:
        try:
            table = read_table(("\ufeff" + body).encode(), ("a", "b"), ("c",), 5, max_rows=3)
        except Problem as exc:
            return (exc.status, exc.detail)
        return table.numbers, table.columns, {n: (p.field, p.message) for n, p in table.problems.items()}

    taken: list = []
    with monkeypatch.context() as m:
        m.setattr(rows_module, "_plain_table", lambda *args: taken.append(plain_table(*args)) or taken[-1])
        fast = read()
    assert (taken[0] is not None) is plain
    monkeypatch.setattr(rows_module, "_plain_table", lambda *args: None)
    assert fast == read()


plain_table = rows_module._plain_table
