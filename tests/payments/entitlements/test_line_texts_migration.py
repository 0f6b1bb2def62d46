"""entitle12c_line_texts: the lines stored before keep their texts in their own columns, the lines
made after point at them in `entitlement_line_texts`; every reader answers the same for both
(SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

from sqlalchemy import select, text

from libs.db import make_engine, migrate, session_factory
from services.payments.entitlements import projection
from services.payments.entitlements.api import explain_view
from services.payments.entitlements.tables import entitlement_lines, explained_lines, line_texts, texts_id
from tests.migrations import upgrade_to_before

EXPLAIN = json.dumps({"article": "R.35", "formula": "insured wage × 90%", "inputs": {"insured_wage": "6000.00"},
                      "notes": ["不低于最低工资"]}, ensure_ascii=False, sort_keys=True)
POLICY_REF = json.dumps({"region": "440300", "version": 1}, sort_keys=True)
SOURCES = json.dumps(["e-app", "e-decision", "e-wage"])
KNOWN = datetime(2027, 1, 1, tzinfo=timezone.utc)


def _line(line_id: str, period: str) -> dict:
    return dict(line_id=line_id, claim_id="c1", employer_id="er1", region="440300", kind="disability_allowance",
                family="monthly", period=period, period_start=date.fromisoformat(f"{period}-01"),
                period_end=date.fromisoformat(f"{period}-28"), amount_fen=540_000, payer="fund",
                payee="employee:ee1", bank_code=None, account_no=None, holder=None, adjusts="[]",
                reason=f"due for {period}", known_at=KNOWN, explain_json=EXPLAIN, policy_ref_json=POLICY_REF,
                source_event_ids_json=SOURCES, settled_outside=None)


def test_lines_before_and_after_read_the_same(db_url: str) -> None:
    engine = make_engine(db_url)
    before = _line("el_before", "2027-01")
    with engine.begin() as conn:
        upgrade_to_before(conn, "payments", "entitle12c_line_texts")
        names = list(before)
        conn.execute(text(f"INSERT INTO entitlement_lines ({', '.join(names)}) "
                          f"VALUES ({', '.join(':' + n for n in names)})"), before)
    migrate(engine, "payments")
    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        projection._insert_lines(s, [{**_line("el_after", "2027-02"), "texts_id": None}])
    with sessions() as s:
        stored = {r.line_id: r for r in s.execute(select(entitlement_lines))}
        assert stored["el_before"].texts_id is None and stored["el_before"].explain_json == EXPLAIN
        assert stored["el_after"].texts_id == texts_id(EXPLAIN, POLICY_REF, SOURCES)
        assert (stored["el_after"].explain_json, stored["el_after"].source_event_ids_json) == (None, None)
        assert s.execute(select(line_texts)).all() == [(texts_id(EXPLAIN, POLICY_REF, SOURCES), EXPLAIN, POLICY_REF,
                                                        SOURCES)]
        views = {r.line_id: explain_view(r, "payable") for r in s.execute(explained_lines())}
    engine.dispose()
    differ = {"line_id", "period", "period_start", "period_end", "reason"}
    assert {k: v for k, v in views["el_before"].items() if k not in differ} == \
        {k: v for k, v in views["el_after"].items() if k not in differ}
    assert views["el_after"]["explain"]["notes"] == ["不低于最低工资"]
    assert views["el_after"]["source_event_ids"] == ["e-app", "e-decision", "e-wage"]
    assert views["el_after"]["policy_ref"] == {"region": "440300", "version": 1}
