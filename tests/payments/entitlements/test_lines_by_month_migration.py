"""entitle15_lines_by_month: the lines are keyed by (month, line id) and a claim's found by (month,
claim); the lines stored before are kept as they were, and a lookup by line id or by claim finds
them through the months (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from libs.db import make_engine, migrate, session_factory
from services.payments.entitlements.tables import entitlement_lines, explained_lines, in_months, line_periods
from tests.migrations import upgrade_to_before

KNOWN = datetime(2027, 1, 1, tzinfo=timezone.utc)


def _line(line_id: str, claim_id: str, period: str) -> dict:
    return dict(line_id=line_id, claim_id=claim_id, employer_id="er1", region="440300", kind="disability_allowance",
                family="monthly", period=period, period_start=date.fromisoformat(f"{period}-01"),
                period_end=date.fromisoformat(f"{period}-28"), amount_fen=540_000, payer="fund",
                payee=f"employee:{claim_id}", bank_code=None, account_no=None, holder=None, adjusts="[]",
                reason=f"due for {period}", known_at=KNOWN, explain_json='{"article": "R.35"}',
                policy_ref_json='{"version": 1}', source_event_ids_json='["e1"]', settled_outside=None)


LINES = [_line("el_b", "c2", "2027-01"), _line("el_a", "c1", "2027-02"), _line("el_c", "c1", "2027-01"),
         _line("el_d", "c2", "2026-12")]


def _stored(conn) -> list[tuple]:  # noqa: ANN001
    return sorted(tuple(r) for r in conn.execute(select(*(entitlement_lines.c[n] for n in LINES[0]))))


def test_lines_keyed_by_month_keep_every_row_and_answer_by_id_and_claim(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        upgrade_to_before(conn, "payments", "entitle15_lines_by_month")
        names = list(LINES[0])
        conn.execute(text(f"INSERT INTO entitlement_lines ({', '.join(names)}) "
                          f"VALUES ({', '.join(':' + n for n in names)})"), LINES)
        before = _stored(conn)
    migrate(engine, "payments")
    with engine.connect() as conn:
        schema = inspect(conn)
        assert schema.get_pk_constraint("entitlement_lines")["constrained_columns"] == ["period", "line_id"]
        indexes = {i["name"]: i["column_names"] for i in schema.get_indexes("entitlement_lines")}
        assert indexes["ix_entitlement_lines_month_claim"] == ["period", "claim_id"]
        assert indexes["ix_entitlement_lines_run"] == ["payer", "region", "period"]
        assert "ix_entitlement_lines_claim" not in indexes and "ix_entitlement_lines_unbanked" in indexes
        assert _stored(conn) == before
    el = entitlement_lines
    with session_factory(engine)() as s:
        assert line_periods(s) == ["2026-12", "2027-01", "2027-02"]
        assert sorted(s.execute(select(el.c.line_id).where(in_months(el, s, "claim_id", ["c1"]))).scalars()) == [
            "el_a", "el_c"]
        row = s.execute(explained_lines().where(in_months(el, s, "line_id", ["el_d"]))).one()
        assert (row.claim_id, row.period, row.explain_json) == ("c2", "2026-12", '{"article": "R.35"}')
    with pytest.raises(IntegrityError), engine.begin() as conn:  # a line id is still stored once
        conn.execute(el.insert(), [_line("el_a", "c1", "2027-02") | {"texts_id": None}])
    engine.dispose()


def test_no_lines_no_months(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, "payments")
    el = entitlement_lines
    with session_factory(engine)() as s:
        assert line_periods(s) == []
        assert s.execute(select(el.c.line_id).where(in_months(el, s, "line_id", ["el_x"]))).all() == []
    engine.dispose()
