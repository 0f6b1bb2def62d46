"""The ordinary path plans and writes a run in batches of whole payees: whatever the batch size,
the same payouts, the same waiting payees and the same totals, and every payee's lines netted
together (the run in the database writes what it writes: test_run_in_database.py)."""
from __future__ import annotations

from collections import namedtuple
from datetime import date

import pytest
from sqlalchemy import select

from libs.web.auth import Principal
from services.payments.payouts import runs
from services.payments.payouts.runs import check_run_invariants, create_run, payee_batches
from services.payments.payouts.tables import payouts

from .support import add_line, payments

AGENCY = Principal("test-agency", "agency")
Row = namedtuple("Row", "payee line_id")


def test_batches_never_split_a_payee() -> None:
    rows = [Row(p, f"{p}-{n}") for p, k in (("a", 3), ("b", 1), ("c", 4), ("d", 1), ("e", 2)) for n in range(k)]
    for size in (1, 2, 3, 5, 100):
        batches = list(payee_batches(iter(rows), size, payee_at=0))
        flat = [(payee, [r.line_id for r in lines]) for batch in batches for payee, lines in batch]
        assert flat == [(p, [r.line_id for r in rows if r.payee == p]) for p in "abcde"]
        assert all(sum(len(lines) for _, lines in batch) >= size for batch in batches[:-1])
    assert list(payee_batches(iter([]), 10, payee_at=0)) == []


def _lines(runtime, region: str) -> None:  # noqa: ANN001
    for payee in range(12):
        for n in range(payee % 4 + 1):
            add_line(runtime, f"{region}-{payee}-{n}", 1_000 * (n + 1) + payee, payee=f"employee:{region}-{payee:02d}",
                     region=region, period="2026-01")
    add_line(runtime, f"{region}-r", -50_000, payee=f"employee:{region}-03", region=region, period="2026-01")
    add_line(runtime, f"{region}-x", 7_000, payee=f"employee:{region}-05", region=region, period="2026-01",
             bank_code=None, account_no=None)  # another line of a payee with an account: paid with it
    add_line(runtime, f"{region}-n", 9_000, payee=f"employee:{region}-99", region=region, period="2026-01",
             bank_code=None, account_no=None)  # no account at all: waits


@pytest.mark.parametrize("batch_lines", [1, 2, 7])
def test_the_batch_size_changes_nothing(pay, runtime, monkeypatch, batch_lines: int) -> None:  # noqa: ANN001
    ctx = payments(runtime)
    whole, batched = f"7{batch_lines:05d}", f"8{batch_lines:05d}"
    _lines(runtime, whole)
    _lines(runtime, batched)
    one = create_run(ctx, AGENCY, whole, "2026-03", date(2026, 4, 1), in_database=False)
    monkeypatch.setattr(runs, "RUN_BATCH_LINES", batch_lines)
    many = create_run(ctx, AGENCY, batched, "2026-03", date(2026, 4, 1), in_database=False)
    assert (many.count, many.total_fen) == (one.count, one.total_fen) == (11, one.total_fen)

    def strip(waiting: list[dict]) -> list[dict]:
        return [{**w, "payee": w["payee"].split("-", 1)[1]} for w in waiting]

    assert strip(many.waiting_for_account) == strip(one.waiting_for_account) != []
    assert strip(many.waiting_net_not_positive) == strip(one.waiting_net_not_positive) != []
    with ctx.session_factory() as s:
        for created in (one, many):
            check_run_invariants(s, created.run_id)
        amounts = [sorted((r.payee.split("-", 1)[1], r.amount_fen, r.line_count) for r in s.execute(
            select(payouts).where(payouts.c.run_id == created.run_id))) for created in (one, many)]
        ids = [r.payout_id for r in s.execute(select(payouts.c.payout_id).where(payouts.c.run_id == many.run_id))]
    assert amounts[0] == amounts[1]
    assert len(set(ids)) == len(ids) == 11 and len({i[:15] for i in ids}) == 1  # one run, ascending ids
