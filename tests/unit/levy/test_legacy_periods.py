"""A period migrated from the old system (MIGRATION.md "accounts"): assessed as it was there, what
it was paid there settled on its own contribution, the late fee on the rest from its due date."""
from __future__ import annotations

from datetime import date

from services.levy.domain.account import Assessment, Payment, fold
from services.levy.domain.ledger import entries_for_movements, trial_balance
from tests.unit.levy.test_levy_account import DAILY, report


def legacy(period: str, contribution_fen: int, paid_fen: int, paid_on: date | None, due: date) -> Assessment:
    return Assessment(on=due, order=f"{due}|lg-{period}", report_id=f"lg-{period}", period=period,
                      delta_fen=contribution_fen, due_date=due, late_fee_daily=DAILY, settled_fen=paid_fen,
                      settled_on=paid_on)


def test_the_fee_runs_on_what_is_outstanding_from_the_periods_own_due_date() -> None:
    # 1080.00 assessed, 400.00 paid before the due date: 680.00 outstanding from 15 Oct.
    october = legacy("2026-09", 108_000, 40_000, date(2026, 9, 28), date(2026, 10, 15))
    account = fold([october], [], on=date(2026, 10, 25))
    assert (account.assessed_fen, account.received_fen, account.arrears_fen) == (108_000, 40_000, 68_000)
    assert account.late_fees_fen == 340  # 680.00 × 0.0005 × 10 days = 3.40, not on the 400.00 paid
    assert fold([october], [], on=date(2026, 10, 15)).late_fees_fen == 0


def test_a_payment_made_there_is_never_allocated_to_another_period() -> None:
    # the old system's payment belongs to its period, even when an older one is still open
    older = legacy("2026-07", 100_000, 0, None, date(2026, 8, 15))
    newer = legacy("2026-08", 100_000, 100_000, date(2026, 9, 1), date(2026, 9, 15))
    account = fold([older, newer], [], on=date(2026, 9, 15))
    assert account.periods["2026-07"].contribution_owed_fen == 100_000
    assert account.periods["2026-08"].contribution_owed_fen == 0


def test_a_payment_here_settles_the_migrated_debt_oldest_first_and_the_books_balance() -> None:
    september = legacy("2026-09", 108_000, 40_000, date(2026, 9, 28), date(2026, 10, 15))
    november = report(date(2026, 12, 1), "2026-11", 50_000, date(2026, 12, 15))
    account = fold([september, november], [Payment(on=date(2026, 10, 25), order="x", payment_id="p1",
                                                   amount_fen=68_340)])
    assert account.periods["2026-09"].contribution_owed_fen == 0 and account.periods["2026-09"].fee_owed_fen == 0
    assert account.balance_fen == 50_000
    balances = trial_balance((ln.account, ln.debit_fen, ln.credit_fen)
                             for e in entries_for_movements(account.movements) for ln in e.lines)
    assert sum(balances.values()) == 0
    assert balances["cash"] == 40_000 + 68_340  # the old system's payment, then this one
