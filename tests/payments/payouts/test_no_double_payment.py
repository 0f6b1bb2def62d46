"""The property: whatever sequence of lines, runs (approved, rejected or left proposed), returns,
rejections and account changes, no line is ever in two open-or-settled payouts, and settled +
open + payable = all fund lines."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from libs.events.tables import events
from libs.web.auth import Principal
from services.payments.payouts.approval import decide_run
from services.payments.payouts.runs import StatusEntry, apply_returns, check_run_invariants, create_run, position
from services.payments.payouts.tables import payment_runs, payout_lines, payout_members, payouts

from .support import add_line, bank_account_changed, ensure_lines_table, payments

AGENCY = Principal("test-agency", "agency")
CHECKER = Principal("test-checker", "agency", person="checker")  # the second pair of eyes
_regions = itertools.count(900_000)

amount = st.one_of(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(-5_000, -1))
line_op = st.tuples(st.just("line"), st.integers(0, 3), amount, st.sampled_from([True, True, True, False]))
run_op = st.tuples(st.just("run"), st.sampled_from(["approve", "approve", "approve", "reject", "leave"]))
return_op = st.tuples(st.just("return"), st.integers(0, 50), st.sampled_from(["ACSC", "ACSC", "AC04", "AM04", "ACTC"]))
account_op = st.tuples(st.just("account"), st.integers(0, 3))
ops = st.lists(st.one_of(line_op, line_op, line_op, run_op, run_op, return_op, return_op, return_op, account_op),
               min_size=6, max_size=30)


def check(runtime, region: str) -> None:  # noqa: ANN001
    with payments(runtime).session_factory() as s:
        pos = position(s, region)
        assert pos["settled"] + pos["open"] + pos["payable"] + pos["settled_outside"] == pos["total"], pos
        live = s.execute(
            select(payout_members.c.line_id, payout_members.c.payout_id)
            .select_from(payout_members.join(payouts, payouts.c.payout_id == payout_members.c.payout_id)
                         .join(payment_runs, payment_runs.c.run_id == payouts.c.run_id))
            .where(payouts.c.status.in_(("open", "settled")), payment_runs.c.region == region)).all()
        counts = Counter(line for line, _ in live)
        assert not [line for line, n in counts.items() if n > 1], "a line in two live payouts"
        locked = set(s.execute(select(payout_lines.c.line_id, payout_lines.c.payout_id)
                               .where(payout_lines.c.line_id.like(f"{region}-%"))).all())
        assert locked == set(live)
        for run_id in s.execute(select(payment_runs.c.run_id).where(payment_runs.c.region == region)).scalars():
            check_run_invariants(s, run_id)
        for p in s.execute(select(payouts).join(payment_runs, payment_runs.c.run_id == payouts.c.run_id)
                           .where(payment_runs.c.region == region)):
            members = s.execute(select(func.sum(payout_members.c.amount_fen))
                                .where(payout_members.c.payout_id == p.payout_id)).scalar_one()
            assert members == p.amount_fen > 0
        settled_ids = [r.payout_id for r in s.execute(
            select(payouts.c.payout_id).join(payment_runs, payment_runs.c.run_id == payouts.c.run_id)
            .where(payment_runs.c.region == region, payouts.c.status == "settled"))]
        paid_fen = 0
        for payload in s.execute(select(events.c.payload).where(events.c.type == "PayoutSettled",
                                                                events.c.aggregate_id.in_(settled_ids))).scalars():
            paid_fen += round(100 * __import__("decimal").Decimal(json.loads(payload)["amount"]))
        assert paid_fen == pos["settled"]


def test_no_line_is_ever_paid_twice(api, runtime) -> None:  # noqa: ANN001
    ensure_lines_table(runtime)
    ctx = payments(runtime)
    seen: Counter = Counter()

    @settings(max_examples=60, deadline=None, derandomize=True,  # the same sequences on every run
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ops)
    def scenario(sequence: list[tuple]) -> None:
        region = str(next(_regions))
        n = itertools.count()
        for op in sequence:
            if op[0] == "line":
                _, payee, amount, with_account = op
                add_line(runtime, f"{region}-{next(n)}", amount, payee=f"employee:{region}-{payee}", region=region,
                         period="2026-01", bank_code="105584000005" if with_account else None,
                         account_no="6217000012345678" if with_account else None)
            elif op[0] == "run":
                created = create_run(ctx, AGENCY, region, "2026-03", date(2026, 4, 1))
                seen.update(payouts=created.count)
                if op[1] != "leave":
                    decide_run(ctx, CHECKER, created.run_id, op[1] == "approve", "")
                    seen.update(runs_rejected=op[1] == "reject")
            elif op[0] == "return":
                _, pick, code = op
                with ctx.session_factory() as s:
                    rows = s.execute(select(payouts.c.payout_id, payouts.c.run_id)
                                     .join(payment_runs, payment_runs.c.run_id == payouts.c.run_id)
                                     .where(payment_runs.c.region == region, payment_runs.c.status == "approved")
                                     .order_by(payouts.c.payout_id)).all()
                if rows:
                    payout_id, run_id = rows[pick % len(rows)]
                    status, reason = ("ACSC", None) if code == "ACSC" else ("ACTC", None) if code == "ACTC" \
                        else ("RJCT", code)
                    out = apply_returns(ctx, AGENCY, run_id, [StatusEntry(payout_id, status, reason, "t")],
                                        date(2026, 4, 2))
                    seen.update(settled=len(out.settled), rejected=len(out.rejected))
            else:
                bank_account_changed(runtime, f"{region}-{op[1]}", "103584000001", f"62284800{op[1]:08d}")
            check(runtime, region)
        seen.update(examples=1)

    scenario()
    assert seen["examples"] >= 60 and seen["payouts"] and seen["settled"] and seen["rejected"], seen
    assert seen["runs_rejected"], seen


def test_runs_and_rejections_racing_in_threads(api, runtime) -> None:  # noqa: ANN001
    """One thread keeps creating runs while another keeps rejecting what they pay: every line is
    always in at most one live payout, and the amounts always add up."""
    import threading

    from libs.events.store import ConcurrencyConflict

    ensure_lines_table(runtime)
    ctx = payments(runtime)
    region = str(next(_regions))
    for n in range(40):
        add_line(runtime, f"{region}-{n}", 500 + n, payee=f"employee:{region}-{n % 5}", region=region, period="2026-01")
    stop = threading.Event()
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            for _ in range(15):
                decide_run(ctx, CHECKER, create_run(ctx, AGENCY, region, "2026-03", date(2026, 4, 1)).run_id,
                           True, "")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            stop.set()

    def rejecter() -> None:
        try:
            while not stop.is_set():
                with ctx.session_factory() as s:
                    open_ = s.execute(select(payouts.c.payout_id, payouts.c.run_id)
                                      .join(payment_runs, payment_runs.c.run_id == payouts.c.run_id).where(
                        payouts.c.status == "open", payouts.c.payee.like(f"employee:{region}-%"),
                        payment_runs.c.status == "approved")).all()
                for payout_id, run_id in open_[:2]:
                    try:
                        apply_returns(ctx, AGENCY, run_id, [StatusEntry(payout_id, "RJCT", "AM04", "t")],
                                      date(2026, 4, 2))
                    except ConcurrencyConflict:
                        pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=runner), threading.Thread(target=rejecter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    check(runtime, region)
