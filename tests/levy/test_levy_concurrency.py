"""Commands on one employer's account at the same time, on SQLite and on PostgreSQL: every
movement reaches the books (each command re-folds the account and replaces its postings)."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from .support import enroll_employer

pytestmark = pytest.mark.both_runtimes


def test_concurrent_payments_of_one_employer_all_reach_the_books(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    employer_id = enroll_employer(api, unique, enrolled_on="2025-01-01")
    amounts = [Decimal(f"{100 + i}.{i:02d}") for i in range(8)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(amounts))

    def pay(amount: Decimal) -> None:
        barrier.wait()
        statuses.append(api.post("/v1/contribution-payments", json={
            "employer_id": employer_id, "amount": str(amount), "paid_on": "2025-03-01"}).status_code)

    threads = [threading.Thread(target=pay, args=(a,)) for a in amounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * len(amounts)
    account = api.get(f"/v1/employers/{employer_id}/account", params={"on": "2025-03-31"}).json()
    assert Decimal(account["paid"]) == sum(amounts)
    statement = api.get(f"/v1/funds/{region}/statement", params={"from": "2025-01-01", "to": "2025-12-31"}).json()
    assert statement["books_balanced"] is True
    assert Decimal(statement["income"]["cash_received"]) == sum(amounts)  # every payment posted, none lost
