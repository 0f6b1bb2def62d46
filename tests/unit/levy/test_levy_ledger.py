"""The fund's books: every entry balances (asserted where it is made), negative movements swap
sides, a returned payout is reversed."""
from __future__ import annotations

from datetime import date

import pytest

from services.levy.domain.account import Movement
from services.levy.domain.ledger import (
    Entry,
    Line,
    benefit_entries,
    entries_for_movements,
    overpayment_kept_whole_entry,
    overpayment_recognized_entry,
    overpayment_written_off_entry,
    trial_balance,
)


def test_an_unbalanced_entry_cannot_be_made() -> None:
    with pytest.raises(AssertionError, match="does not balance"):
        Entry("e1", "x", date(2025, 1, 1), (Line("cash", debit_fen=100), Line("contribution_income", credit_fen=99)))
    with pytest.raises(AssertionError):
        Entry("e2", "x", date(2025, 1, 1), (Line("cash", debit_fen=-1), Line("cash", credit_fen=-1)))


def test_a_downward_correction_reverses_income() -> None:
    [entry] = entries_for_movements([Movement("assessment", date(2025, 8, 10), "r2", "2025-07", -2_700)])
    assert entry.lines == (Line("contribution_income", debit_fen=2_700), Line("contributions_receivable", credit_fen=2_700))


def test_a_payment_splits_into_fee_contribution_and_credit() -> None:
    [entry] = entries_for_movements([Movement("payment", date(2025, 8, 20), "p1", amount_fen=20_000, fee_fen=39,
                                              contribution_fen=15_411, credit_fen=4_550)])
    assert trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for ln in entry.lines) == {
        "cash": 20_000, "late_fee_receivable": -39, "contributions_receivable": -15_411, "employer_credit": -4_550}


def test_benefits_by_family_and_the_return() -> None:
    entries = benefit_entries("po_1", date(2025, 10, 10), date(2025, 10, 20),
                              [("medical", 120_000), ("survivor", 5_000), ("medical", 1_000)])
    assert [e.kind for e in entries] == ["benefit", "benefit_reversal"]
    assert entries[0].lines == (Line("benefits_expense:medical", debit_fen=121_000),
                                Line("benefits_expense:survivor", debit_fen=5_000), Line("cash", credit_fen=126_000))
    net = trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for e in entries for ln in e.lines)
    assert set(net.values()) == {0}
    assert benefit_entries("po_2", None, date(2025, 10, 20), [("medical", 100)]) == []  # never settled: nothing


def test_prevention_budgets_stop_at_the_cap_and_spending_at_the_budget() -> None:
    from datetime import date as day
    from decimal import Decimal as D

    from services.levy.domain import ledger as books
    from services.levy.domain.events import PolicyRef
    from services.levy.domain.prevention import PreventionRefused, PreventionYear, prevention_cap

    ref = PolicyRef(region="440300", effective_from=day(2024, 1, 1), version=1)
    assert prevention_cap(D("0.03"), D("123456.78")) == D("3703.70")  # 3703.7034 rounded half-up to the fen
    year = PreventionYear("prevention-440300-2026")
    common = dict(region="440300", year=2026, income=D("123456.78"), share=D("0.03"), policy_ref=ref,
                  on=day(2026, 1, 5))
    year.approve(project_id="a", name="A", budget=D("3000.00"), **common)
    with pytest.raises(PreventionRefused) as caught:
        year.approve(project_id="b", name="B", budget=D("703.71"), **common)  # 3703.71: a fen past the cap
    assert caught.value.field == "budget"
    assert year.approve(project_id="b", name="B", budget=D("703.70"), **common).budgets == D("3703.70")
    year.spend(spending_id="s1", project_id="b", region="440300", year=2026, amount=D("703.70"),
               paid_on=day(2026, 2, 1), payee="x", on=day(2026, 2, 1))
    with pytest.raises(PreventionRefused):
        year.spend(spending_id="s2", project_id="b", region="440300", year=2026, amount=D("0.01"),
                   paid_on=day(2026, 2, 1), payee="x", on=day(2026, 2, 1))
    # the books: the earmark and its release net out; the expense is paid in cash
    entries = [books.prevention_budget_entry("b", day(2026, 1, 5), 70_370),
               books.prevention_spending_entry("s1", day(2026, 2, 1), 70_370)]
    balances = books.trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for e in entries for ln in e.lines)
    assert balances == {books.PREVENTION_APPROPRIATION: 0, books.PREVENTION_RESERVE: 0,
                        books.PREVENTION_EXPENSE: 70_370, books.CASH: -70_370}


def test_a_payout_that_kept_back_an_overpayment_credits_the_receivable_and_the_rest_to_cash() -> None:
    # 243000.00 + 8100.00 of benefits, 226200.00 kept back: 24900.00 leaves in cash.
    [settled, returned] = benefit_entries("po1", date(2026, 12, 2), date(2026, 12, 3), [
        ("long_term", 24_300_000), ("long_term", 810_000), ("recovery", -22_620_000)])
    assert trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for ln in settled.lines) == {
        "benefits_expense:long_term": 25_110_000, "overpayments_receivable": -22_620_000, "cash": -2_490_000}
    assert trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for ln in returned.lines) == {
        "benefits_expense:long_term": -25_110_000, "overpayments_receivable": 22_620_000, "cash": 2_490_000}


def test_a_family_netting_below_zero_in_a_payout_is_credited() -> None:
    # A recovery netted within a payout across families (old lines without `adjusts`): 300.00
    # of medical less 100.00 of long-term pays 200.00.
    [settled] = benefit_entries("po2", date(2026, 12, 2), None, [("medical", 30_000), ("long_term", -10_000)])
    assert trial_balance((ln.account, ln.debit_fen, ln.credit_fen) for ln in settled.lines) == {
        "benefits_expense:long_term": -10_000, "benefits_expense:medical": 30_000, "cash": -20_000}


def test_an_overpayment_is_recognized_recovered_whole_and_written_off_in_balanced_entries() -> None:
    recognized = overpayment_recognized_entry("ovp1", date(2026, 12, 1), 22_620_000)
    kept = overpayment_kept_whole_entry("ovp1:run1:kept", date(2026, 12, 1), {"long_term": 8_100_000})
    written_off = overpayment_written_off_entry("ovp1", date(2026, 12, 5), 14_520_000)
    assert trial_balance((ln.account, ln.debit_fen, ln.credit_fen)
                         for entry in (recognized, kept, written_off) for ln in entry.lines) == {
        "overpayments_receivable": 0, "overpayments_recognized": -22_620_000,
        "benefits_expense:long_term": 8_100_000, "overpayments_written_off": 14_520_000}
