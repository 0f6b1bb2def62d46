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
