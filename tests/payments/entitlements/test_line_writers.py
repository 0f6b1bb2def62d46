"""The two ways a ledger's lines are written store the same rows: `_insert_derived` (the lines
themselves, each shared explanation, reference and date encoded once) and `_insert_lines` of each
line's `_row` (every value encoded a line at a time)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from libs.db import make_engine, migrate, session_factory
from services.payments.entitlements import engine, projection
from services.payments.entitlements.tables import entitlement_lines, explained_lines, line_texts
from tests.payments.entitlements.test_entitlements_fast_path import LATE_POLICY, POLICIES, population
from tests.unit.payments.facts import at


def _stored(url: str, lines: list[engine.Line], derived: bool) -> list[list]:
    db = make_engine(url)
    migrate(db, "payments")
    accounts = {ln.payee: (None, None, None) for ln in lines}
    accounts["employee:ee-g1-full"] = ("102584000001", "6222020200000000001", "x")
    with session_factory(db)() as s, s.begin():
        if derived:
            projection._insert_derived(s, lines, accounts)
        else:
            projection._insert_lines(s, [projection._row(ln, accounts[ln.payee]) for ln in lines])
    with session_factory(db)() as s:
        stored = [s.execute(select(entitlement_lines).order_by(entitlement_lines.c.line_id)).all(),
                  s.execute(explained_lines().order_by(entitlement_lines.c.line_id)).all(),
                  s.execute(select(line_texts).order_by(line_texts.c.texts_id)).all()]
    db.dispose()
    return stored


def test_derived_lines_are_stored_as_their_rows(tmp_path: Path) -> None:
    pols = [*POLICIES, LATE_POLICY]
    lines = [ln for c in population() for ln in engine.ledger(c.facts, pols, at("2027-03-03"))]
    assert len({id(ln.explain) for ln in lines}) < len(lines)  # months of one calculation share one
    assert any(ln.adjusts for ln in lines)  # adjustments too
    one = _stored(f"sqlite:///{tmp_path / 'derived.db'}", lines, True)
    other = _stored(f"sqlite:///{tmp_path / 'rows.db'}", lines, False)
    assert one[0] and one == other


def test_a_row_missing_a_text_keeps_its_texts_and_the_others_point_at_theirs(tmp_path: Path) -> None:
    lines = [ln for c in population() for ln in engine.ledger(c.facts, POLICIES, at("2027-03-03"))][:3]
    rows = [projection._row(ln, (None, None, None)) for ln in lines]
    rows[1]["source_event_ids_json"] = None  # not a line's own texts: stored as it is, pointing at none
    db = make_engine(f"sqlite:///{tmp_path / 'mixed.db'}")
    migrate(db, "payments")
    with session_factory(db)() as s, s.begin():
        projection._insert_lines(s, rows)
    with session_factory(db)() as s:
        stored = {r.line_id: r for r in s.execute(select(entitlement_lines))}
        explained = {r.line_id: r for r in s.execute(explained_lines())}
    db.dispose()
    assert len(stored) == 3
    kept = stored[lines[1].line_id]
    assert kept.texts_id is None and kept.source_event_ids_json is None
    assert kept.explain_json == rows[1]["explain_json"] and kept.policy_ref_json == rows[1]["policy_ref_json"]
    for i in (0, 2):
        row = stored[lines[i].line_id]
        assert row.texts_id and (row.explain_json, row.policy_ref_json, row.source_event_ids_json) == (None,) * 3
        assert explained[lines[i].line_id].explain_json == rows[i]["explain_json"]
        assert explained[lines[i].line_id].source_event_ids_json == rows[i]["source_event_ids_json"]
    assert [(r.amount_fen, r.reason, r.settled_outside) for r in (stored[ln.line_id] for ln in lines)] == [
        (row["amount_fen"], row["reason"], row["settled_outside"]) for row in rows]
