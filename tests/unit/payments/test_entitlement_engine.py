"""The pure derivation: every benefit from hand-made facts, with worked figures, and the
retroactive cases as adjustment lines."""
from __future__ import annotations

import random
from decimal import Decimal as D

from services.payments.entitlements.engine import derive, ledger, lines_hash, notes

from .facts import ClaimFacts, at, policy

P1 = policy()


def by(lines, kind):  # noqa: ANN001, ANN201
    return [ln for ln in lines if ln.kind == kind]


def amounts(lines, kind):  # noqa: ANN001, ANN201
    return {ln.period: ln.amount for ln in by(lines, kind)}


def graded_claim(grade: int = 3, care: str = "partial", wage: str = "9000.00") -> ClaimFacts:
    c = ClaimFacts(occurred_on="2026-01-10", applied_on="2026-01-20")
    c.recognized("2026-02-01")
    c.wage(wage, "2026-02-01")
    c.grade(grade, "2026-05-04", care_level=care)
    return c


def test_grade_3_grant_allowance_and_care() -> None:
    c = graded_claim()
    lines = ledger(c.facts, [P1], now=at("2026-06-15"))
    # R.35: 23 × 9000.00 = 207000.00; allowance 0.80 × 9000.00 = 7200.00 for May and June;
    # R.34: care (partial) 0.30 × the average monthly wage 8000.00 = 2400.00.
    assert amounts(lines, "disability_grant") == {"2026-05-04": D("207000.00")}
    assert amounts(lines, "disability_allowance") == {"2026-05": D("7200.00"), "2026-06": D("7200.00")}
    assert amounts(lines, "care_allowance") == {"2026-05": D("2400.00"), "2026-06": D("2400.00")}
    assert {ln.payer for ln in lines} == {"fund"} and {ln.payee for ln in lines} == {"employee:ee-1"}
    grant = by(lines, "disability_grant")[0]
    assert grant.explain["formula"] == "insured_wage × months(grade 3) = 9000.00 × 23 = 207000.00"
    assert grant.policy_ref == {"region": "440300", "effective_from": "2020-01-01", "version": 1}
    assert {c.facts[0].event_id, c.facts[2].event_id, c.facts[3].event_id} <= set(grant.source_event_ids)
