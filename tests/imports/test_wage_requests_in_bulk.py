"""The wages' and the employees' larger requests and the claims side's writing of wages in the key's order.

- A wage file's request takes up to WagesKind.max_rows rows (fewer commits for the province's
  twelve million), past which it is refused whole (413), as any other kind's past 10,000 is; an
  employees file's up to EmployeesKind.max_rows, and the command line posts that many.
- A batch of imported wage history large enough to be sorted into claims_legacy_wages' key order
  keeps what the file's order keeps: the first wage of a worker, employer and month, on SQLite
  and on PostgreSQL, in one batch, one by one or split anywhere; a batch rolled back leaves
  nothing for the next (SQLite stages a batch in a table of the connection). A month already in
  the key's order (SQLite writes it straight in) keeps what is stored and each of its lines."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import services.levy.domain.events  # noqa: F401 - registers WageHistoryImported, as the levy service does
from libs.db import make_engine, migrate, session_factory
from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from services.claims.projections import LEGACY_CACHE_LINES, ClaimsWagesProjection, _one_a_key_in_key_order
from services.claims.tables import claims_legacy_wages
from injuryledger.imports_cli import CHUNK_ROWS_OF
from services.enrollment.imports import EmployeesKind
from services.levy.imports import WagesKind

CSV = {"Content-Type": "text/csv"}
WAGES = "employee_legacy_id,employer_legacy_id,period,wage"
EMPLOYERS = "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step"


def wage_rows(n: int, employer: str) -> str:
    return "\n".join([WAGES, *(f"W{i},{employer},2021-01,5000.00" for i in range(n))]) + "\n"


@pytest.mark.both_runtimes
def test_a_wage_request_takes_more_rows_than_another_kinds(api, unique) -> None:  # noqa: ANN001
    employers = "\n".join([EMPLOYERS, *(f"R{unique.n}-{i},x,Firm,C3311,{unique.region},2016-01-01,"
                                        for i in range(10_001))]) + "\n"
    r = api.post("/v1/imports/employers", content=employers.encode(), headers=CSV)
    assert r.status_code == 413 and "at most 10000 rows" in r.json()["detail"], r.text
    # 12,000 wage rows are one request: each checked (no such employer) and named by its row
    r = api.post("/v1/imports/wages", content=wage_rows(12_000, f"R{unique.n}-none").encode(), headers=CSV)
    assert r.status_code == 201, r.text
    summary = r.json()
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (12_000, 0, 12_000)
    assert summary["errors"][0]["row"] == 2 and summary["errors"][0]["field"] == "employer_legacy_id"
    r = api.post("/v1/imports/wages", content=wage_rows(WagesKind.max_rows + 1, "E").encode(), headers=CSV)
    assert r.status_code == 413 and f"at most {WagesKind.max_rows} rows" in r.json()["detail"], r.text


@pytest.mark.both_runtimes
def test_an_employees_request_takes_more_rows_than_another_kinds(api, unique) -> None:  # noqa: ANN001
    assert CHUNK_ROWS_OF["employees"] == EmployeesKind.max_rows > 10_000
    header = "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"

    def rows(n: int) -> bytes:
        return "\n".join([header, *(f"R{unique.n}-W{i},R{unique.n}-none,110101198001010011,Worker,2016-02-01,,,,"
                                    for i in range(n))]).encode() + b"\n"

    # 10,001 rows are one request: each checked (no such employer) and named by its row
    r = api.post("/v1/imports/employees", content=rows(10_001), headers=CSV)
    assert r.status_code == 201, r.text
    summary = r.json()
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (10_001, 0, 10_001)
    assert summary["errors"][0]["row"] == 2 and summary["errors"][0]["field"] == "employer_legacy_id"
    r = api.post("/v1/imports/employees", content=rows(EmployeesKind.max_rows + 1), headers=CSV)
    assert r.status_code == 413 and f"at most {EmployeesKind.max_rows} rows" in r.json()["detail"], r.text


def history(n: int, lines: list[tuple[str, str, str, int]]) -> Envelope:
    """A v2 WageHistoryImported of (employee_id, period, employer_id, wage_fen) lines."""
    employee_ids, periods, employer_ids, wages_fen = (list(c) for c in zip(*lines))
    return Envelope(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"history/{n}"), type="WageHistoryImported",
        schema_version=REGISTRY.latest_version("WageHistoryImported"), aggregate_type="WageHistory",
        aggregate_id=f"wh_{n}", sequence=1, occurred_on=date(2026, 1, 1),
        recorded_at=datetime(2026, 1, 1, tzinfo=timezone.utc), actor="t",
        payload={"import_id": "imp_wages_a", "employee_ids": employee_ids, "employer_ids": employer_ids,
                 "periods": periods, "wages_fen": wages_fen, "rows": list(range(len(lines))),
                 "legacy_ids": [f"{e}/{r}/{p}" for e, p, r, _w in lines]})


def file_lines() -> list[tuple[str, str, str, int]]:
    """Two months of 40 workers at 7 employers in the file's order (the employers cycling, not
    sorted), then the same keys again with other wages in reverse order: the first stay."""
    first = [(f"ee_{(37 * w) % 40:02d}", period, f"er_{w % 7}", 500_000 + w)
             for period in ("2025-12", "2025-11") for w in range(40)]
    again = [(e, p, r, 1) for e, p, r, _w in reversed(first)]
    return [*first, *again] * (LEGACY_CACHE_LINES // 160 + 1)  # a batch the bulk path sorts


def stored(factory) -> dict:  # noqa: ANN001
    with factory() as s:
        return {(r.period, r.employer_id, r.employee_id): r.wage_fen for r in s.execute(select(claims_legacy_wages))}


def test_imported_wages_sorted_into_the_keys_order_keep_the_first_of_each_key(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, "claims")
    factory = session_factory(engine)
    lines = file_lines()
    assert len(lines) >= LEGACY_CACHE_LINES
    expected: dict = {}
    for employee_id, period, employer_id, fen in lines:
        expected.setdefault((period, employer_id, employee_id), fen)
    projection = ClaimsWagesProjection(SimpleNamespace())
    try:
        for batches in ([[history(0, lines)]],  # one event, in one batch
                        [[history(0, lines[:1_000]), history(1, lines[1_000:])]],  # two events, one batch
                        [[history(0, lines[:500])], [history(1, lines[500:])]]):  # two batches, one unsorted
            with factory() as s, s.begin():
                projection.reset(s)
            for batch in batches:
                with factory() as s, s.begin():
                    projection.handle_batch(s, batch)
            assert stored(factory) == expected
        with factory() as s, s.begin():
            projection.reset(s)
            projection.handle(s, history(0, lines))  # one by one
        assert stored(factory) == expected
    finally:
        engine.dispose()


def test_a_month_in_the_keys_order_keeps_what_is_stored_and_each_line(db_url: str) -> None:
    """A batch of one month, one line a worker, the workers' ids rising (a month's file sorted by
    worker): on SQLite it goes straight into the table, not through the staging table's merge, and
    keeps the same wages: a key already stored keeps its wage, every other line is kept."""
    engine = make_engine(db_url)
    migrate(engine, "claims")
    factory = session_factory(engine)
    month = [(f"ee_{w:05d}", "2025-12", f"er_{w % 7}", 600_000 + w) for w in range(LEGACY_CACHE_LINES + 120)]
    # stored first, merged: 40 of the month's workers (two months, unsorted, each key twice)
    before = [(f"ee_{int(e[3:]):05d}", p, f"er_{int(e[3:]) % 7}", fen) for e, p, _r, fen in file_lines()]
    assert _one_a_key_in_key_order(_columns(month)) and not _one_a_key_in_key_order(_columns(before))
    projection = ClaimsWagesProjection(SimpleNamespace())
    try:
        with factory() as s, s.begin():
            projection.handle_batch(s, [history(0, before)])
        expected = stored(factory)
        assert ("2025-12", "er_3", "ee_00003") in expected  # stored keys the month's lines meet
        for employee_id, period, employer_id, fen in month:
            expected.setdefault((period, employer_id, employee_id), fen)
        with factory() as s, s.begin():
            projection.handle_batch(s, [history(1, month[:1_000]), history(2, month[1_000:])])
        assert stored(factory) == expected
        with factory() as s, s.begin():
            projection.handle_batch(s, [history(3, month)])  # again: nothing changes
        assert stored(factory) == expected
    finally:
        engine.dispose()


def _columns(lines: list[tuple]) -> tuple[list, ...]:
    return tuple(list(c) for c in zip(*lines))


class _Undone(Exception):
    pass


def test_a_batch_rolled_back_leaves_none_of_its_wages_for_the_next(db_url: str) -> None:
    """On SQLite a large batch goes through a staging table of the connection: a batch whose
    transaction is rolled back (the consumer retries it) leaves nothing there that a later
    batch on the same connection would write as its own."""
    engine = make_engine(db_url)
    migrate(engine, "claims")
    factory = session_factory(engine)
    lines = file_lines()
    undone = [(e, "2025-10", r, w) for e, _p, r, w in lines]  # another month: none of it may stay
    projection = ClaimsWagesProjection(SimpleNamespace())
    try:
        with pytest.raises(_Undone), factory() as s, s.begin():
            projection.handle_batch(s, [history(0, undone)])
            raise _Undone
        for batch in ([history(1, lines[:1_000])], [history(2, lines[1_000:])]):
            with factory() as s, s.begin():
                projection.handle_batch(s, batch)
        expected: dict = {}
        for employee_id, period, employer_id, fen in lines:
            expected.setdefault((period, employer_id, employee_id), fen)
        assert stored(factory) == expected
    finally:
        engine.dispose()
