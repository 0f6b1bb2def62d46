"""Overpayments, pure: the aggregate's life and how a payout kept back whole is shared among the
overpayments it recovers (RULES.md "Appeals, reversals and recovery"; splitting to the fen)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from services.payments.payouts.overpayments import NothingOutstanding, OverpaidLine, Overpayment, OverpaymentRecognized
from services.payments.payouts.recovery import by_family, overpayment_id_of


def recognized(amount: str = "18900.00") -> Overpayment:
    o = Overpayment("ovp_1")
    o.recognize(OverpaymentRecognized(
        overpayment_id="ovp_1", region="440300", payee="employee:e1", claim_id="c1", employer_id="emp1",
        amount=D(amount), recognized_on=date(2026, 12, 1), run_id="run_1", recovery_max_share=D("0.50"),
        policy_ref=None, lines=(OverpaidLine(line_id="l1", kind="disability_grant", family="long_term",
                                             period="2026-05", amount=-D(amount)),)))
    return o


def test_recovered_undone_and_written_off() -> None:
    o = recognized()
    o.recover("run_2", "po_1", D("9150.00"), D("18300.00"), date(2026, 12, 2))
    assert (o.outstanding, o.status) == (D("9750.00"), "outstanding")
    o.undo("run_2", "po_1", D("9150.00"), date(2026, 12, 3), "AM04")  # the bank returned the payout
    assert (o.outstanding, o.recovered) == (D("18900.00"), D("0.00"))
    o.recover("run_3", "po_2", D("18900.00"), D("40000.00"), date(2026, 12, 4))
    assert o.status == "recovered"
    with pytest.raises(NothingOutstanding):
        o.write_off("too late", date(2026, 12, 5))


def test_a_write_off_takes_what_is_outstanding_and_more_cannot_be_recovered() -> None:
    o = recognized()
    o.recover("run_2", "po_1", D("600.00"), D("9150.00"), date(2026, 12, 2))
    o.write_off("the payee emigrated", date(2026, 12, 5))
    assert [p.payload.amount for p in o.pending][-1] == D("18300.00")
    assert (o.outstanding, o.written_off, o.status) == (D("0.00"), D("18300.00"), "written_off")
    with pytest.raises(AssertionError):
        o.recover("run_3", "po_2", D("0.01"), D("100.00"), date(2026, 12, 6))


def test_recognizing_the_same_lines_is_the_same_overpayment() -> None:
    assert overpayment_id_of("employee:e1", "c1", ["b", "a"]) == overpayment_id_of("employee:e1", "c1", ["a", "b"])
    assert overpayment_id_of("employee:e1", "c1", ["a"]) != overpayment_id_of("employee:e1", "c2", ["a"])


def test_a_payout_kept_back_whole_is_shared_among_its_overpayments_to_the_fen() -> None:
    # 700.00 long-term, 300.00 survivor and −100.00 medical (netted into the largest) = 900.00,
    # kept back for two overpayments of 500.00 and 400.00, families in name order.
    parts = by_family([("long_term", 70_000), ("survivor", 30_000), ("medical", -10_000)], [50_000, 40_000])
    assert parts == [{"long_term": 50_000}, {"long_term": 10_000, "survivor": 30_000}]
    assert [sum(p.values()) for p in parts] == [50_000, 40_000]
