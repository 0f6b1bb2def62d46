"""The employees kind checks a request's rows a column at a time when every row is good
(`EmployeesKind._all_good`), row by row otherwise (`_check`): on good rows both give the same
employments, and one bad row anywhere sends the request the row-by-row way, which names its field."""
from __future__ import annotations

from datetime import date

import pytest

from libs.identifiers import id_check_char, make_id_number
from libs.imports.rows import RowRejected, read_rows
from services.enrollment.imports import EmployeesKind


def unchecked_id(body17: str) -> str:
    """An ID number with its right check character, whatever its digits say."""
    return body17 + id_check_char(body17)


HEADER = "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"
TODAY = date(2026, 6, 30)
EMPLOYERS = {"E1": "er_0000000000000001", "E2": "er_0000000000000002"}
A, B = make_id_number("440300", date(1980, 1, 2), 11), make_id_number("110101", date(1990, 3, 4), 12)
X = next(n for n in (make_id_number("440300", date(1985, 5, 5), s) for s in range(1, 200)) if n.endswith("X"))
GOOD = [
    f"W1,E1,{A},Worker One,2016-02-01,,102584000001,62220202000000000001,Worker One",
    f"W2,E2,{B},Worker Two,2019-07-01,2020-12-31,,,",
    f"W3,E1,{X[:17]}x,王五,2016-02-01,2016-02-01,102584000001,12345678,王五",  # a lower-case x; left the day hired
    f"W4,E2,{make_id_number('440300', date(2000, 2, 29), 3)},Leap,2016-02-29,,,,",
]
BAD = {  # a bad row → the field the row-by-row check names
    f"W9,E3,{A},Nine,2016-02-01,,,,": "employer_legacy_id",
    f"W9,,{A},Nine,2016-02-01,,,,": "employer_legacy_id",
    f"W9,E1,{A[:17]}{'0' if A[17] != '0' else '1'},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{A[:16]},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{unchecked_id('00000019800102011')},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{unchecked_id('99000019800102011')},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{unchecked_id('44030020270102011')},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{unchecked_id('44030019800231011')},Nine,2016-02-01,,,,": "id_number",
    f"W9,E1,{A},,2016-02-01,,,,": "name",
    f"W9,E1,{A},{'n' * 201},2016-02-01,,,,": "name",
    f"W9,E1,{A},Nine,,,,,": "hired_on",
    f"W9,E1,{A},Nine,2016-02-30,,,,": "hired_on",
    f"W9,E1,{A},Nine,2016-02-01,2016-01-31,,,": "separated_on",
    f"W9,E1,{A},Nine,2016-02-01,someday,,,": "separated_on",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,,": "account_no",
    f"W9,E1,{A},Nine,2016-02-01,,,62220202000000000001,Nine": "bank_code",
    f"W9,E1,{A},Nine,2016-02-01,,10258400000,62220202000000000001,Nine": "bank_code",
    f"W9,E1,{A},Nine,2016-02-01,,10258400000a,62220202000000000001,Nine": "bank_code",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,1234567,Nine": "account_no",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,{'1' * 33},Nine": "account_no",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,1234567８,Nine": "account_no",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,12345678,": "holder",
    f"W9,E1,{A},Nine,2016-02-01,,102584000001,12345678,{'h' * 201}": "holder",
}


def rows_of(*lines: str):  # noqa: ANN201
    kind = EmployeesKind()
    rows = read_rows(("\n".join([HEADER, *lines]) + "\n").encode(), kind.columns, kind.optional, 2)
    for row in rows:
        row.legacy_id = kind.legacy_id(row)
    return rows


def test_good_rows_give_the_same_employments_both_ways() -> None:
    rows = rows_of(*GOOD)
    fast = EmployeesKind._all_good(rows, EMPLOYERS, TODAY)
    assert fast == {row.number: EmployeesKind._check(row, EMPLOYERS, TODAY) for row in rows}
    assert [e.id_number.value for e in fast.values()] == [A, B, X, GOOD[3].split(",")[2]]
    assert fast[2].bank_account.account_no == "62220202000000000001" and fast[3].bank_account is None


@pytest.mark.parametrize("line", sorted(BAD))
def test_one_bad_row_sends_the_request_row_by_row(line: str) -> None:
    rows = rows_of(*GOOD[:2], line, *GOOD[2:])
    assert EmployeesKind._all_good(rows, EMPLOYERS, TODAY) is None
    with pytest.raises(RowRejected) as refused:
        EmployeesKind._check(rows[2], EMPLOYERS, TODAY)
    assert refused.value.field == BAD[line]
