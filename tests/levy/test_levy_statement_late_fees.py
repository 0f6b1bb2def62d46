"""Accrued late fees in the fund statement (SIL.86, RULES.md "Clarifications"): every day's fee,
booked when paid or not yet booked, and what is owed at the end of the range. Worked by hand;
through the public API on both runtimes."""
from __future__ import annotations

import pytest

from tests.claims.support import new_region, new_worker, ok

pytestmark = pytest.mark.both_runtimes


def report(api, w, period: str, wage: str, on: str) -> dict:  # noqa: ANN001
    return ok(api.post("/v1/wage-reports", json={"employer_id": w.employer_id, "period": period, "reported_on": on,
                                                 "lines": [{"id_number": w.id_number, "wage": wage}]}), 201)


def income(api, region: str, start: str, end: str) -> dict:  # noqa: ANN001
    statement = ok(api.get(f"/v1/funds/{region}/statement", params={"from": start, "to": end}))
    assert statement["books_balanced"] is True
    return {k: statement["income"][k] for k in ("late_fees", "late_fees_accrued", "late_fees_outstanding")}


def test_late_fees_accrue_in_the_statement_before_they_are_paid(api) -> None:  # noqa: ANN001
    region = new_region(api)
    unpaid, corrected = new_worker(api, region, wage=None), new_worker(api, region, wage=None)
    # Industry C33 is class 4 (0.9 %): 10000.00 × 0.009 = 90.00 for July, due 15 August; a day's
    # fee is 90.00 × 0.0005 = 0.045.
    assert report(api, unpaid, "2025-07", "10000.00", "2025-07-31")["contribution_due"] == "90.00"
    report(api, corrected, "2025-07", "10000.00", "2025-07-31")
    # The second employer corrects July to nothing on 25 August: its fee stops after 10 days,
    # 10 × 0.045 = 0.45, still owed (a correction stops the fee, it does not refund it).
    assert report(api, corrected, "2025-07", "0.00", "2025-08-25")["delta_due"] == "-90.00"

    # August: 16 days (16–31 Aug) × 0.045 = 0.72 for the first; 0.45 for the second. Nothing booked yet.
    assert income(api, region, "2025-08-01", "2025-08-31") == {
        "late_fees": "0.00", "late_fees_accrued": "1.17", "late_fees_outstanding": "1.17"}
    # September: 30 × 0.045 = 1.35 more (46 days, 2.07, owed in all); the second accrues nothing.
    assert income(api, region, "2025-09-01", "2025-09-30") == {
        "late_fees": "0.00", "late_fees_accrued": "1.35", "late_fees_outstanding": "2.52"}

    # Paid on 10 October: 56 days × 0.045 = 2.52 of fees first, then the 90.00 (RULES.md: oldest
    # debt first, fees before contribution); 7.48 remains as credit.
    paid = ok(api.post("/v1/contribution-payments", json={"employer_id": unpaid.employer_id, "amount": "100.00",
                                                          "paid_on": "2025-10-10"}), 201)
    assert paid["allocations"] == [{"period": "2025-07", "late_fee": "2.52", "contribution": "90.00"}]
    # October: the books now hold the 2.52 paid; of it, 10 days (0.45) accrued in October. Owed at
    # the end: the second employer's 0.45.
    assert income(api, region, "2025-10-01", "2025-10-31") == {
        "late_fees": "2.52", "late_fees_accrued": "0.45", "late_fees_outstanding": "0.45"}
    # The three months together: 2.52 + 0.45 accrued.
    assert income(api, region, "2025-08-01", "2025-10-31") == {
        "late_fees": "2.52", "late_fees_accrued": "2.97", "late_fees_outstanding": "0.45"}
