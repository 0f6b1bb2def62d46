"""The employer's account fold with worked figures: late fees, allocation, credit, corrections."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.levy.domain.account import CONTRIBUTION_FIRST, Assessment, Payment, fold
from services.levy.domain.ledger import entries_for_movements, trial_balance

DAILY = D("0.0005")


def report(on: date, period: str, delta_fen: int, due: date, ref: str = "") -> Assessment:
    return Assessment(on=on, order=f"{on}|{ref or period}", report_id=ref or f"r-{period}", period=period,
                      delta_fen=delta_fen, due_date=due, late_fee_daily=DAILY)


def pay(on: date, amount_fen: int, ref: str, allocation: str = "oldest_first_fees_then_contribution") -> Payment:
    return Payment(on=on, order=f"{on}|{ref}", payment_id=ref, amount_fen=amount_fen, allocation=allocation)


JULY = report(date(2025, 8, 1), "2025-07", 100_000, date(2025, 8, 15))  # 1000.00 due 15 Aug
AUGUST = report(date(2025, 9, 1), "2025-08", 200_000, date(2025, 9, 15))  # 2000.00 due 15 Sep


def test_no_fee_on_the_due_date_one_day_after() -> None:
    assert fold([JULY], [], on=date(2025, 8, 15)).late_fees_fen == 0
    one_day = fold([JULY], [], on=date(2025, 8, 16))
    assert one_day.late_fees_fen == 50  # 1000.00 × 0.0005 = 0.50
    ten_days = fold([JULY], [], on=date(2025, 8, 25))
    assert ten_days.late_fees_fen == 500
    assert ten_days.balance_fen == 100_000 + 500
    assert ten_days.periods["2025-07"].fee_owed_fen == 500


def test_fee_is_rounded_half_up_where_assessed_not_per_day() -> None:
    a = report(date(2025, 8, 1), "2025-07", 33_333, date(2025, 8, 15))  # 333.33
    # 333.33 × 0.0005 = 0.166665 a day: 1 day → 0.17, 3 days → 0.499995 → 0.50 (not 3 × 0.17)
    assert fold([a], [], on=date(2025, 8, 16)).late_fees_fen == 17
    assert fold([a], [], on=date(2025, 8, 18)).late_fees_fen == 50


def test_payment_settles_oldest_first_fees_then_contribution() -> None:
    # 20 Sep: July 1000.00 overdue 36 days → 18.00; August 2000.00 overdue 5 days → 5.00
    account = fold([JULY, AUGUST], [pay(date(2025, 9, 20), 150_000, "p1")], on=date(2025, 9, 20))
    taken, credit = account.allocations["p1"]
    assert [(t.period, t.late_fee_fen, t.contribution_fen) for t in taken] == [
        ("2025-07", 1_800, 100_000), ("2025-08", 500, 47_700)]
    assert credit == 0
    assert account.arrears_fen == 152_300
    # ten more days on the 1523.00 left: 7.615, and the 5.00 already assessed: 12.615 → 12.62
    later = fold([JULY, AUGUST], [pay(date(2025, 9, 20), 150_000, "p1")], on=date(2025, 9, 30))
    assert later.periods["2025-08"].fee_assessed_fen == 1_262
    assert later.late_fees_owed_fen == 762
    assert later.balance_fen == 152_300 + 762


def test_policy_may_allocate_contribution_before_fees() -> None:
    account = fold([JULY], [pay(date(2025, 8, 25), 100_000, "p1", CONTRIBUTION_FIRST)], on=date(2025, 8, 25))
    taken, _ = account.allocations["p1"]
    assert [(t.period, t.late_fee_fen, t.contribution_fen) for t in taken] == [("2025-07", 0, 100_000)]
    assert account.late_fees_owed_fen == 500  # the 5.00 of fees stays owed, no more accrues


def test_overpayment_is_credit_applied_to_the_next_assessment() -> None:
    early = pay(date(2025, 8, 10), 250_000, "p1")
    before = fold([JULY, AUGUST], [early], on=date(2025, 8, 31))
    assert before.allocations["p1"][1] == 150_000
    assert before.credit_fen == 150_000 and before.balance_fen == -150_000
    after = fold([JULY, AUGUST], [early], on=date(2025, 9, 1))
    assert after.credit_fen == 0
    assert after.periods["2025-08"].paid_fen == 150_000
    assert after.arrears_fen == 50_000 and after.balance_fen == 50_000


def test_late_report_owes_fees_from_the_due_date() -> None:
    late = report(date(2025, 9, 14), "2025-07", 100_000, date(2025, 8, 15))  # 30 days late
    assert fold([late], [], on=date(2025, 9, 14)).late_fees_fen == 1_500


def test_correction_assesses_the_difference_and_frees_overpaid_credit() -> None:
    paid = pay(date(2025, 8, 10), 100_000, "p1")
    down = report(date(2025, 8, 12), "2025-07", -10_000, date(2025, 8, 15), ref="r2")  # 1000.00 → 900.00
    account = fold([JULY, down], [paid], on=date(2025, 8, 31))
    assert account.assessed_fen == 90_000
    assert account.credit_fen == 10_000 and account.balance_fen == -10_000
    up = report(date(2025, 8, 13), "2025-07", 5_000, date(2025, 8, 15), ref="r3")  # then 950.00
    account = fold([JULY, down, up], [paid], on=date(2025, 8, 31))
    assert account.credit_fen == 5_000 and account.arrears_fen == 0


def test_movements_post_balanced_entries() -> None:
    paid = pay(date(2025, 9, 20), 400_000, "p1")
    account = fold([JULY, AUGUST], [paid])
    entries = entries_for_movements(account.movements)
    balance = trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for e in entries for ln in e.lines)
    # 3000.00 assessed, 23.00 of fees, 4000.00 received: 977.00 credit
    assert balance == {"contributions_receivable": 0, "contribution_income": -300_000, "late_fee_receivable": 0,
                       "late_fee_income": -2_300, "cash": 400_000, "employer_credit": -97_700}
    assert sum(balance.values()) == 0
