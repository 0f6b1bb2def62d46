"""`GET /v1/funds/{region}/statement?by=month` (services/levy/statement_months.py): the whole
range's statement, exactly as without `by`, and `months`, each exactly the statement of that
month's own range, on varied books — three pools consolidated into a region mid-way with arrears,
payments, late fees and a benefit paid through a payment run (the pooling test's), a paid claim
whose recognition was revoked and its overpayment written off (the recovery test's), and late fees
accrued unpaid and stopped by a downward correction (the late-fee test's) — for ranges that start
and end mid-month, across the consolidation and a year's end; and `by` checked. Through the public
API on both runtimes."""
from __future__ import annotations

import pytest

import tests.levy.test_levy_statement_late_fees as late_fees_test
import tests.payments.payouts.test_recovery as recovery_test
from tests.claims.support import ok
from tests.levy.test_pooling import test_three_pools_consolidated_with_arrears_and_a_claim as pooled_book

pytestmark = pytest.mark.both_runtimes

RANGES = [("2025-06-10", "2026-12-31"), ("2025-07-01", "2026-06-30"), ("2025-12-15", "2026-02-03"),
          ("2026-01-01", "2026-01-31"), ("2026-03-31", "2026-04-01")]


def statement(api, region: str, start: str, end: str, **more: str) -> dict:  # noqa: ANN001
    return ok(api.get(f"/v1/funds/{region}/statement", params={"from": start, "to": end, **more}))


def test_each_month_equals_its_own_statement(api, unique, monkeypatch) -> None:  # noqa: ANN001
    made: list[str] = []

    def recorded(new_region):  # noqa: ANN001, ANN202 - the books' regions, as the tests make them
        def new(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            made.append(new_region(*args, **kwargs))
            return made[-1]
        return new

    monkeypatch.setattr(recovery_test, "new_region", recorded(recovery_test.new_region))
    monkeypatch.setattr(late_fees_test, "new_region", recorded(late_fees_test.new_region))
    pooled_book(api, unique)
    recovery_test.test_a_write_off_ends_the_receivable_and_shows_in_the_statement(api)
    late_fees_test.test_late_fees_accrue_in_the_statement_before_they_are_paid(api)
    api.settle()
    regions = [unique.region, *(f"{p}{unique.region[2:]}" for p in ("52", "53", "54")), *made]
    assert len(regions) == 6, regions

    # Nothing is written from here on, so a month's own statement is asked once however many
    # ranges hold that month (the whole months of the other ranges are months of the first):
    # every range's `months` is still compared, month by month, with the server's answer.
    own: dict[tuple[str, str, str], dict] = {}

    def own_statement(region: str, start: str, end: str) -> dict:
        if (region, start, end) not in own:
            own[region, start, end] = statement(api, region, start, end)
        return own[region, start, end]

    seen = []
    for region in regions:
        for start, end in RANGES:
            by_month = statement(api, region, start, end, by="month")
            months = by_month.pop("months")
            assert by_month == own_statement(region, start, end)
            assert months[0]["from"] == start and months[-1]["to"] == end
            assert all(a["to"] < b["from"] and b["from"].endswith("-01") for a, b in zip(months, months[1:]))
            for month in months:
                assert month == own_statement(region, month["from"], month["to"]), (region, month["from"])
            seen += months
    # the books were varied where it counts: every kind of figure moved in some month
    assert any(m["expenditure"]["total"] != "0.00" for m in seen)
    assert any(m["overpayments"]["written_off"] != "0.00" for m in seen)
    assert any(m["carried_over"] for m in seen)
    assert any(m["income"]["late_fees_accrued"] != "0.00" for m in seen)
    assert any(m["income"]["late_fees_outstanding"] != "0.00" for m in seen)
    assert any(m["income"]["contributions_collected"] != "0.00" for m in seen)
    assert len({m["coverage"]["insured_workers"] for m in seen}) > 2
    assert len({m["balance"] for m in seen}) > 2


def test_by_is_checked(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    for params, field in (({"by": "week"}, "by"), ({"by": ""}, "by"),
                          ({"from": "2016-01-01", "to": "2026-01-01", "by": "month"}, "to"),  # 121 months
                          ({"from": "2026-02-01", "to": "2026-01-31", "by": "month"}, "to")):
        answer = api.get(f"/v1/funds/{region}/statement", params={"from": "2026-01-01", "to": "2026-03-31", **params})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == [field], answer.json()
    ten_years = statement(api, region, "2016-01-01", "2025-12-31", by="month")["months"]  # 120: the most
    assert len(ten_years) == 120 and ten_years[0]["from"] == "2016-01-01" and ten_years[-1]["to"] == "2025-12-31"
