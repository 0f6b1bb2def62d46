"""The wages kind checks a request's rows a column at a time when every row is good
(`_all_good`), row by row otherwise: both give the same verdict on the same rows — each good row
the same Wage, and a file with one bad row goes the row-by-row way, naming each bad row's field."""
from __future__ import annotations

from datetime import date

import pytest

from libs.imports.rows import RowRejected, read_rows
from services.levy import imports as levy_imports

CSV = {"Content-Type": "text/csv"}
HEADER = "employee_legacy_id,employer_legacy_id,period,wage"


def post(api, kind: str, body: str) -> dict:  # noqa: ANN001
    r = api.post(f"/v1/imports/{kind}", content=body.encode(), headers=CSV)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def book(api, unique) -> str:  # noqa: ANN001
    """Two employers, four workers (one rehired at E1, one who left E1); the tag of their old keys."""
    tag, region = f"P{unique.n}", unique.region
    post(api, "employers", "\n".join([
        "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step",
        f"{tag}-E1,{unique.uscc()},One,C3311,{region},2016-01-01,",
        f"{tag}-E2,{unique.uscc()},Two,C3311,{region},2019-06-15,"]) + "\n")
    a, b, c = (unique.id_number(date(1980, 1, 2), 11), unique.id_number(date(1990, 3, 4), 12),
               unique.id_number(date(1985, 5, 6), 13))
    summary = post(api, "employees", "\n".join([
        "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder",
        f"{tag}-W1,{tag}-E1,{a},A,2016-02-01,2018-12-31,,,",
        f"{tag}-W1b,{tag}-E1,{a},A,2020-01-01,,,,",
        f"{tag}-W2,{tag}-E2,{b},B,2019-07-01,,,,",
        f"{tag}-W3,{tag}-E1,{c},C,2018-01-15,2020-06-30,,,"]) + "\n")
    assert summary["accepted"] == 4, summary["errors"]
    return tag


def both_ways(runtime, rows, monkeypatch) -> tuple[dict, dict]:  # noqa: ANN001
    kind, ctx = levy_imports.WagesKind(), runtime.services["levy"].ctx
    for row in rows:
        object.__setattr__(row, "legacy_id", kind.legacy_id(row))
    fast = kind.check(ctx, rows)
    with monkeypatch.context() as m:
        m.setattr(levy_imports, "_all_good", lambda *args: None)
        slow = kind.check(ctx, rows)
    return fast, slow


def test_good_rows_give_the_same_wages_both_ways(api, runtime, book, monkeypatch) -> None:  # noqa: ANN001
    tag = book
    rows = read_rows("\n".join([
        HEADER, f"{tag}-W1,{tag}-E1,2017-03,6000.00", f"{tag}-W1b,{tag}-E1,2021-05,0006100.50",
        f"{tag}-W2,{tag}-E2,2019-07,5000.00", f"{tag}-W2,{tag}-E2,2020-02,0.00"]).encode() + b"\n",
        tuple(HEADER.split(",")), (), 2)
    fast, slow = both_ways(runtime, rows, monkeypatch)
    assert fast == slow
    assert [(w.period, w.wage_fen) for w in fast.values()] == [
        ("2017-03", 600000), ("2021-05", 610050), ("2019-07", 500000), ("2020-02", 0)]


def test_one_bad_row_goes_row_by_row_naming_its_field(api, runtime, book, monkeypatch) -> None:  # noqa: ANN001
    tag = book
    bad = [f"{tag}-W1,{tag}-E1,2019-05,6000.00",  # between W1's employment and W1b's
           f"{tag}-W2,{tag}-E2,2019-05,5000.00",  # before E2's enrollment month
           f"{tag}-W2,{tag}-E1,2019-08,5000.00",  # W2 works at E2
           f"{tag}-W9,{tag}-E1,2019-08,5000.00",  # no such worker
           f"{tag}-W2,{tag}-E2,2019-08,50.001",  # beyond the fen
           f"{tag}-W2,{tag}-E2,2019-09,1e3"]
    rows = read_rows("\n".join([HEADER, f"{tag}-W1,{tag}-E1,2017-03,6000.00", *bad]).encode() + b"\n",
                     tuple(HEADER.split(",")), (), 2)
    fast, slow = both_ways(runtime, rows, monkeypatch)
    verdicts = {n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in fast.items()}
    assert verdicts == {n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in slow.items()}
    assert {n: o.field for n, o in fast.items() if isinstance(o, RowRejected)} == {
        3: "period", 4: "period", 5: "employee_legacy_id", 6: "employee_legacy_id", 7: "wage", 8: "wage"}


@pytest.mark.parametrize("worker,employer,period", [
    ("W1", "E1", "2025-03"), ("W1", "E1", "1900-01"), ("W1", "E1", "2100-12"), ("", "E1", "2025-03"),
    ("W1", "", "2025-03"), ("W" * 64, "E1", "2025-03"), ("W" * 65, "E1", "2025-03"), ("W1", "E" * 65, "2025-03"),
    ("W1", "E1", "2025-13"), ("W1", "E1", "2025-00"), ("W1", "E1", "1899-12"), ("W1", "E1", "2025-3"),
    ("W1", "E1", ""), ("W1", "E1", "2025/03")])
def test_a_rows_key_is_what_the_checks_make_of_it(worker: str, employer: str, period: str) -> None:
    """The wages key read straight from a plain row is the key (or the refusal) the typed
    checks give."""
    row = read_rows(f"{HEADER}\n{worker},{employer},{period},1.00\n".encode(), tuple(HEADER.split(",")), (), 2)[0]

    def by_checks() -> str:
        parts = [row.text(c, max_len=64) for c in ("employee_legacy_id", "employer_legacy_id")]
        return "/".join([*parts, row.month("period")])  # type: ignore[list-item]

    def outcome(make) -> object:  # noqa: ANN001
        try:
            return make()
        except RowRejected as exc:
            return (exc.field, exc.message)

    assert outcome(lambda: levy_imports.WagesKind().legacy_id(row)) == outcome(by_checks)


@pytest.mark.parametrize("line", [
    "{tag}-W2,{tag}-E2,2019-05,5000.00",  # before E2's enrollment month (2019-06)
    "{tag}-W1,{tag}-E1,2099-01,6000.00",  # after the current month
    "{tag}-W1,{tag}-E1,2019-05,6000.00",  # W1 separated before it, W1b hired after it
    "{tag}-W2,{tag}-E2,2019-06,5000.00",  # E2's enrollment month, W2 hired after it
    "{tag}-W2,{tag}-E1,2019-08,5000.00",  # W2 works at E2
    "{tag}-W9,{tag}-E1,2019-08,5000.00",  # no such worker
    "{tag}-W1,{tag}-E9,2019-08,5000.00"])  # no such employer
def test_each_refusal_beside_good_rows_is_the_row_by_row_verdict(api, runtime, book, monkeypatch,  # noqa: ANN001
                                                                  line: str) -> None:
    """The column-at-a-time check refuses a request with any one bad row (then it goes row by
    row), whichever rule the row breaks."""
    tag = book
    rows = read_rows("\n".join([HEADER, f"{tag}-W1,{tag}-E1,2017-03,6000.00", line.format(tag=tag),
                                f"{tag}-W2,{tag}-E2,2019-07,5000.00"]).encode() + b"\n", tuple(HEADER.split(",")), (), 2)
    seen: list = []
    with monkeypatch.context() as m:
        m.setattr(levy_imports, "_all_good", lambda *args: seen.append(all_good(*args)) or seen[-1])
        fast, slow = both_ways(runtime, rows, monkeypatch)
    assert seen and seen[0] is None
    assert {n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in fast.items()} == {
        n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in slow.items()}
    assert [n for n, o in fast.items() if isinstance(o, RowRejected)] == [3]


all_good = levy_imports._all_good


@pytest.mark.parametrize("line", [
    None,  # every row good
    "{tag}-W3,{tag}-E1,2020-07,6000.00",  # W3 separated before it
    "{tag}-W3,{tag}-E1,2017-12,6000.00",  # W3 hired after it
    "{tag}-W3,{tag}-E2,2019-08,6000.00",  # W3 worked at E1
    "{tag}-W9,{tag}-E1,2019-08,6000.00",  # no such worker
    "{tag}-W3,{tag}-E9,2019-08,6000.00",  # no such employer
    "{tag}-W3,{tag}-E1,2019-08,6000.001"])  # beyond the fen
def test_workers_each_once_read_in_the_rows_order_give_the_row_by_row_verdicts(  # noqa: ANN001
        api, runtime, book, monkeypatch, line: str | None) -> None:
    """Rows whose workers come once each, each employed once (a go-live's wage file), are judged
    on the refs and employments as the statement gave them, in the rows' order (`Found.in_order`),
    not through the workers by key: the same Wages, or a refusal that goes row by row."""
    tag = book
    rows = read_rows("\n".join([HEADER, f"{tag}-W2,{tag}-E2,2019-07,5000.00",
                                *([line.format(tag=tag)] if line else [f"{tag}-W3,{tag}-E1,2020-06,6000.00"])]).encode()
                     + b"\n", tuple(HEADER.split(",")), (), 2)
    seen: list = []
    with monkeypatch.context() as m:
        m.setattr(levy_imports, "_all_good", lambda rows, employers, found, *rest: seen.append(
            (found.in_order, all_good(rows, employers, found, *rest))) or seen[-1][1])
        fast, slow = both_ways(runtime, rows, monkeypatch)
    assert seen[0][0] is ("W9" not in (line or ""))  # an unknown worker is not found in order
    assert (seen[0][1] is None) is (line is not None)
    assert {n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in fast.items()} == {
        n: (o.field, o.message) if isinstance(o, RowRejected) else o for n, o in slow.items()}
    assert [n for n, o in fast.items() if isinstance(o, RowRejected)] == ([3] if line else [])


def test_workers_found_in_the_order_asked_a_row_per_employment(api, runtime, book) -> None:  # noqa: ANN001
    """The worker keys joined to their refs and employments in one statement: each row names its
    key by its place among the keys asked, in their order; a key not found has no row, a worker
    employed twice two."""
    tag, ctx = book, runtime.services["levy"].ctx
    keys = [f"{tag}-W3", f"{tag}-W1", f"{tag}-W9", f"{tag}-W2"]
    with ctx.session_factory() as session:
        found = levy_imports._refs_with_employments(session.connection(), keys)
    assert [at for at, *_rest in found] == [0, 1, 1, 3]
    assert sorted((at, str(hired), str(separated)) for at, _worker, _ref, _employer, hired, separated in found) == [
        (0, "2018-01-15", "2020-06-30"), (1, "2016-02-01", "2018-12-31"), (1, "2020-01-01", "None"),
        (3, "2019-07-01", "None")]
    assert found[1][1] == found[2][1] != found[0][1]  # W1's two employments are one worker's
