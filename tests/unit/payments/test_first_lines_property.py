"""A claim's first derivation makes its first lines in one pass (`engine._first_lines`, the bulk
of a go-live's claim): for any migrated claim (the going-live property's), at any knowledge point,
with or without lines held already, they are exactly the lines `_first_line` makes key by key."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.payments.entitlements import engine
from services.payments.entitlements.engine import ClaimView, _first_line, _first_lines, _points, _targets_of

from .test_going_live_property import NATIONAL, legacy_claims, migrated


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_claims(), st.integers(1, 4))
def test_first_lines_in_one_pass_are_those_made_key_by_key(c: dict, every: int) -> None:
    facts, run_at = migrated(c)
    fs = engine._sorted(facts)
    made = 0
    for point in _points(fs, [NATIONAL]):
        view = ClaimView.of([f for f in fs if f.key <= point.key])
        dues, _ = _targets_of(view, [NATIONAL.version], c["go_live"])
        target = {d.key: d for d in dues}
        lines = [_first_line("c1", "er-1", "440300", key, target[key], point, view, frozenset(), {})
                 for key in sorted(target)]
        lines = [ln for ln in lines if ln is not None]
        held = frozenset(ln.line_id for ln in lines[::every]) if every > 1 else frozenset()
        one_by_one = [ln for ln in (_first_line("c1", "er-1", "440300", key, target[key], point, view, held, {})
                                    for key in sorted(target)) if ln is not None]
        together = list(_first_lines("c1", "er-1", "440300", target, point, view, held, {}))
        assert [key for key, _ln in together] == [ln.key for ln in one_by_one]
        assert [ln for _key, ln in together] == one_by_one
        made += len(together)
    assert made > 0 or c["grade"] is None and not c["died_on"]
