"""levy_impwage15_0001 and claims_impwage15_0001 (then claims_wages20_0001): the wage history
imported before them is keyed month first after them — the wages kind's keys in import_rows, the
claims service's `claims_legacy_wages` (then month and worker) — and read as before: a row
imported before is found by its key (a file posted again skips it), and a worker's imported wages
are in force as before (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import inspect, select, text

from libs.db import make_engine, migrate, session_factory
from libs.imports.runner import imported_rows
from libs.imports.tables import TABLES
from services.claims.handlers import worker_wages
from services.levy.imports import _wage_rows_kept, month_first
from services.levy.tables import imported_wage_rows
from tests.migrations import upgrade_to_before


def _import_row(kind: str, legacy_id: str, row: int) -> dict:
    return dict(kind=kind, legacy_id=legacy_id, digest="d" * 64, import_id="imp_wages_1", row=row, ref_id="ee_1",
                totals_json='{"wage_lines": 1, "wages": "6000.00"}')


def test_wage_keys_imported_before_are_found_by_their_key(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        upgrade_to_before(conn, "levy", "levy_impwage15_0001")
        names = list(_import_row("wages", "x", 0))
        for values in (_import_row("wages", "W1/E1/2025-12", 2), _import_row("wages", "W/1/E/1/2026-01", 3),
                       _import_row("accounts", "A1", 4)):
            conn.execute(text(f"INSERT INTO import_rows ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) "
                              f"VALUES ({', '.join(':' + n for n in names)})"), values)
    migrate(engine, "levy")  # then (levy_wagelevy21_0001) the wage rows kept apart, keyed as they were
    with session_factory(engine)() as s:
        assert sorted(s.execute(select(TABLES.import_rows.c.kind, TABLES.import_rows.c.legacy_id))) == [
            ("accounts", "A1")]
        assert sorted(s.execute(select(imported_wage_rows.c.legacy_id))) == [("2025-12/W1/E1",), ("2026-01/W/1/E/1",)]
        keys = ["W1/E1/2025-12", "W/1/E/1/2026-01", "W2/E1/2025-12"]
        found = _wage_rows_kept(s, month_first(keys))
        assert {k: (import_id, row) for k, (import_id, row, *_content) in found.items()} == {
            "2025-12/W1/E1": ("imp_wages_1", 2), "2026-01/W/1/E/1": ("imp_wages_1", 3)}
        assert list(imported_rows(s, "accounts", ["A1"])) == ["A1"]
    engine.dispose()


def test_legacy_wages_imported_before_are_in_force_as_before(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        upgrade_to_before(conn, "claims", "claims_impwage15_0001")
        for employee_id, period, employer_id, fen in (("ee_1", "2025-11", "er_1", 600_000),
                                                      ("ee_1", "2025-12", "er_1", 612_345),
                                                      ("ee_1", "2025-12", "er_2", 100_000),
                                                      ("ee_2", "2025-12", "er_1", 700_000)):
            conn.execute(text("INSERT INTO claims_legacy_wages (employee_id, period, employer_id, wage_fen) "
                              "VALUES (:e, :p, :r, :f)"), {"e": employee_id, "p": period, "r": employer_id, "f": fen})
    migrate(engine, "claims")
    assert inspect(engine).get_pk_constraint("claims_legacy_wages")["constrained_columns"] == [
        "period", "employee_id", "employer_id"]  # month first, then (claims_wages20_0001) the worker
    with session_factory(engine)() as s:
        found = worker_wages(s, "ee_1", "er_1", ["2025-10", "2025-11", "2025-12"])
    engine.dispose()
    assert {p: str(w) for p, w in found.items()} == {"2025-11": "6000.00", "2025-12": "6123.45"}


def test_legacy_wages_keyed_month_then_employer_are_in_force_as_before_once_keyed_by_worker(db_url: str) -> None:
    """claims_wages20_0001: the history keyed (period, employer_id, employee_id) is keyed (period,
    employee_id, employer_id) after it, every row kept, each read as before: a worker's wage at
    each of two employers in the same month, and at neither in a month not imported."""
    engine = make_engine(db_url)
    rows = [("2025-11", "er_1", "ee_1", 600_000), ("2025-12", "er_1", "ee_1", 612_345),
            ("2025-12", "er_2", "ee_1", 100_000), ("2025-12", "er_1", "ee_2", 700_000),
            ("2025-12", "er_0", "ee_3", 800_000)]
    with engine.begin() as conn:
        upgrade_to_before(conn, "claims", "claims_wages20_0001")
        assert inspect(conn).get_pk_constraint("claims_legacy_wages")["constrained_columns"] == [
            "period", "employer_id", "employee_id"]
        for period, employer_id, employee_id, fen in rows:
            conn.execute(text("INSERT INTO claims_legacy_wages (period, employer_id, employee_id, wage_fen) "
                              "VALUES (:p, :r, :e, :f)"), {"p": period, "r": employer_id, "e": employee_id, "f": fen})
    migrate(engine, "claims")
    assert inspect(engine).get_pk_constraint("claims_legacy_wages")["constrained_columns"] == [
        "period", "employee_id", "employer_id"]
    with session_factory(engine)() as s:
        kept = sorted(s.execute(text("SELECT period, employer_id, employee_id, wage_fen FROM claims_legacy_wages")))
        at_first = worker_wages(s, "ee_1", "er_1", ["2025-10", "2025-11", "2025-12"])
        at_second = worker_wages(s, "ee_1", "er_2", ["2025-11", "2025-12"])
        elsewhere = worker_wages(s, "ee_3", "er_1", ["2025-12"])
    engine.dispose()
    assert [tuple(r) for r in kept] == sorted(rows)
    assert {p: str(w) for p, w in at_first.items()} == {"2025-11": "6000.00", "2025-12": "6123.45"}
    assert {p: str(w) for p, w in at_second.items()} == {"2025-12": "1000.00"}
    assert elsewhere == {}
