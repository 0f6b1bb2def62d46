"""The wage rows an import accepted are kept apart from import_rows (`imported_wage_rows`,
levy_wagelevy21_0001: the key, the import and row that brought it, the worker key's length and the
wage as given) and the contract is the one import_rows kept: a file posted twice records nothing
twice, a corrected file applies only the corrected rows (a row with other content under a key
imported is refused naming where it came from), a dry run records nothing; the rows imported
before the table came (moved with their digest) are compared as before (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from libs.db import make_engine, migrate, session_factory
from libs.imports.rows import Row
from libs.imports.runner import AcceptedRows
from libs.imports.tables import TABLES
from services.levy.imports import WageRowsKept, month_first
from services.levy.tables import imported_wage_rows
from tests.migrations import upgrade_to_before

CSV = {"Content-Type": "text/csv"}
WAGES = "employee_legacy_id,employer_legacy_id,period,wage"


def post(api, kind: str, body: str, **params) -> dict:  # noqa: ANN001, ANN003
    r = api.post(f"/v1/imports/{kind}", content=(body + "\n").encode(), headers=CSV, params=params)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.both_runtimes
def test_a_corrected_wage_file_applies_only_its_corrected_rows(api, unique) -> None:  # noqa: ANN001
    tag = f"V{unique.n}"
    assert post(api, "employers", "\n".join([
        "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step",
        f"{tag}-E1,{unique.uscc()},Kept Apart Works,C3311,{unique.region},2016-01-01,"]))["accepted"] == 1
    assert post(api, "employees", "\n".join([
        "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder",
        f"{tag}-W1,{tag}-E1,{unique.id_number(date(1980, 1, 2), 21)},A,2016-02-01,,,,",
        f"{tag}-W2,{tag}-E1,{unique.id_number(date(1981, 1, 2), 22)},B,2016-02-01,,,,"]))["accepted"] == 2
    first_file = "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2024-01,6000.00", f"{tag}-W2,{tag}-E1,2024-01,abc"])

    dry = post(api, "wages", first_file, dry_run="true")
    assert (dry["accepted"], dry["skipped"], dry["rejected"]) == (1, 0, 1)
    first = post(api, "wages", first_file)  # the dry run recorded nothing
    assert (first["accepted"], first["skipped"], first["rejected"]) == (1, 0, 1), first["errors"]
    assert [(e["row"], e["field"]) for e in first["errors"]] == [(3, "wage")]

    corrected = post(api, "wages", "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2024-01,6000.00",
                                              f"{tag}-W2,{tag}-E1,2024-01,7000.00"]))
    assert (corrected["accepted"], corrected["skipped"], corrected["rejected"]) == (1, 1, 0), corrected["errors"]
    assert corrected["totals"] == {"wage_lines": 2, "wages": "13000.00"}  # the row skipped counted as before

    other = post(api, "wages", "\n".join([WAGES, f"{tag}-W2,{tag}-E1,2024-01,7000.0",
                                          f"{tag}-W1,{tag}-E1,2024-01,6000.00"]))
    assert (other["accepted"], other["skipped"], other["rejected"]) == (0, 1, 1)
    assert other["errors"] == [{"row": 2, "field": "legacy_id", "message": (
        f"{tag}-W2/{tag}-E1/2024-01 was imported with other content (import {corrected['import_id']}, row 3)")}]


def wage_row(number: int, worker: str, employer: str, period: str, wage: str) -> Row:
    row = Row(number, {"employee_legacy_id": worker, "employer_legacy_id": employer, "period": period, "wage": wage})
    row.legacy_id = f"{worker}/{employer}/{period}"
    return row


def found(kept: WageRowsKept, ctx, rows: list[Row]) -> dict:  # noqa: ANN001
    return {key: (e.import_id, e.row, e.same, e.totals)
            for key, e in kept.find(ctx, rows, month_first([r.legacy_id for r in rows])).items()}


def test_wage_rows_imported_before_are_moved_and_compared_as_before(db_url: str) -> None:
    engine = make_engine(db_url)
    before = [wage_row(2, "W1", "E1", "2025-12", "6000.00"), wage_row(3, "W/1", "E1", "2025-12", "6100")]
    with engine.begin() as conn:
        upgrade_to_before(conn, "levy", "levy_wagelevy21_0001")
        for kind, key, digest, number in [*(("wages", month_first([r.legacy_id])[0], r.digest(), r.number)
                                            for r in before), ("accounts", "A1", "a" * 64, 4)]:
            conn.execute(text('INSERT INTO import_rows (kind, legacy_id, digest, import_id, "row", ref_id, totals_json) '
                              "VALUES (:kind, :key, :digest, 'imp_old', :number, 'ee_1', '{}')"),
                         {"kind": kind, "key": key, "digest": digest, "number": number})
    migrate(engine, "levy")
    sessions = session_factory(engine)
    ctx = SimpleNamespace(session_factory=sessions)
    kept = WageRowsKept("wages", None)  # type: ignore[arg-type]
    with sessions() as s:
        assert [tuple(r) for r in s.execute(select(TABLES.import_rows.c.kind, TABLES.import_rows.c.legacy_id))] == [
            ("accounts", "A1")]
        assert sorted(tuple(r) for r in s.execute(select(imported_wage_rows))) == [
            ("2025-12/W/1/E1", "imp_old", 3, None, None, before[1].digest()),
            ("2025-12/W1/E1", "imp_old", 2, None, None, before[0].digest())]
    again = [wage_row(7, "W1", "E1", "2025-12", "6000.00"), wage_row(8, "W/1", "E1", "2025-12", "6100.00"),
             wage_row(9, "W2", "E1", "2025-12", "6000.00")]
    assert found(kept, ctx, again) == {"W1/E1/2025-12": ("imp_old", 2, True, {"wage_lines": 1, "wages": "6000.00"}),
                                       "W/1/E1/2025-12": ("imp_old", 3, False, None)}  # "6100" then

    # rows kept since: their content is the worker key's length and the wage as given
    new = [wage_row(5, "W3", "E/1", "2026-01", "5000.00"), wage_row(6, "W4", "E1", "2026-01", "5000.5")]
    with sessions.begin() as s:
        kept.keep(s, "imp_new", [], AcceptedRows([5, 6], ["ee_3", "ee_4"], {}), {r.number: r for r in new},
                  dict(zip([5, 6], month_first([r.legacy_id for r in new]))))
    posted = [wage_row(10, "W3", "E/1", "2026-01", "5000.00"), wage_row(11, "W4", "E1", "2026-01", "5000.50")]
    assert found(kept, ctx, posted) == {"W3/E/1/2026-01": ("imp_new", 5, True, {"wage_lines": 1, "wages": "5000.00"}),
                                        "W4/E1/2026-01": ("imp_new", 6, False, None)}
    split_otherwise = [wage_row(12, "W3/E", "1", "2026-01", "5000.00")]  # the same key, other columns
    assert found(kept, ctx, split_otherwise) == {"W3/E/1/2026-01": ("imp_new", 5, False, None)}
    engine.dispose()
