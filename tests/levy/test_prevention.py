"""Prevention (RULES.md "Prevention and pooling"): a year's project budgets stay within
`prevention_share` of the previous year's contributions collected (by payment date) — the cap's
edge to the fen — spending stays within a project's budget, and all of it is in the fund's
balanced books and its statement. Figures worked by hand in the comments."""
from __future__ import annotations

from datetime import date

import pytest

from libs.policy import load_national_default

from .support import enroll_employer

pytestmark = pytest.mark.both_runtimes


def ok(response, status: int = 201) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def refused(response, field: str) -> None:  # noqa: ANN001
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text


def test_budgets_up_to_the_cap_spending_up_to_the_budget_in_the_books(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    policy = load_national_default().model_dump(mode="json") | {"prevention_share": "0.02"}
    ok(api.put(f"/v1/policies/{region}/2024-01-01", json=policy))
    employer = enroll_employer(api, unique, enrolled_on="2025-01-01")  # C3311: class 4, 0.9%
    id_number = unique.id_number(date(1985, 4, 1))
    ok(api.post(f"/v1/employers/{employer}/employees", json={"id_number": id_number, "name": "王五",
                                                            "hired_on": "2025-01-01"}))
    # 2025: 1,000,000.00 of payroll × 0.009 = 9000.00, paid in full on 10 July 2025 (before it was due).
    # 2026: 100,000.00 × 0.009 = 900.00, paid on 10 February 2026.
    for period, wage, reported_on, paid_on, amount in (("2025-06", "1000000.00", "2025-07-05", "2025-07-10", "9000.00"),
                                                       ("2026-01", "100000.00", "2026-02-05", "2026-02-10", "900.00")):
        ok(api.post("/v1/wage-reports", json={"employer_id": employer, "period": period, "reported_on": reported_on,
                                              "lines": [{"id_number": id_number, "wage": wage}]}))
        ok(api.post("/v1/contribution-payments", json={"employer_id": employer, "amount": amount, "paid_on": paid_on}))
    st_2025 = ok(api.get(f"/v1/funds/{region}/statement", params={"from": "2025-01-01", "to": "2025-12-31"}), 200)
    assert st_2025["income"]["contributions_collected"] == "9000.00"

    # The 2026 cap: 0.02 × 9000.00 collected in 2025 = 180.00.
    url = f"/v1/funds/{region}/prevention-projects"
    first = ok(api.post(url, json={"year": 2026, "name": "Press safety training", "budget": "100.00"}))
    assert (first["cap"], first["income"], first["budgets"], first["room"]) == ("180.00", "9000.00", "100.00", "80.00")
    refused(api.post(url, json={"year": 2026, "name": "Posters", "budget": "80.01"}), "budget")  # 180.01: one fen past
    second = ok(api.post(url, json={"year": 2026, "name": "Posters", "budget": "80.00"}))     # 180.00: the cap itself
    assert (second["budgets"], second["room"]) == ("180.00", "0.00")
    refused(api.post(url, json={"year": 2026, "name": "More", "budget": "0.01"}), "budget")
    refused(api.post(url, json={"year": 2025, "name": "Nothing collected in 2024", "budget": "1.00"}), "budget")
    # 2027: 0.02 × the 900.00 collected in 2026 = 18.00.
    assert ok(api.post(url, json={"year": 2027, "name": "Inspections", "budget": "18.00"}))["cap"] == "18.00"

    spend = f"{url}/{first['project_id']}/spending"
    assert ok(api.post(spend, json={"amount": "60.00", "paid_on": "2026-03-01", "payee": "培训中心"}))["remaining"] \
        == "40.00"
    refused(api.post(spend, json={"amount": "40.01", "paid_on": "2026-04-01", "payee": "培训中心"}), "amount")
    last = ok(api.post(spend, json={"amount": "40.00", "paid_on": "2026-04-01", "payee": "培训中心"}))
    assert (last["spent"], last["remaining"]) == ("100.00", "0.00")
    refused(api.post(f"{url}/{second['project_id']}/spending",
                     json={"amount": "1.00", "paid_on": "2025-12-31", "payee": "x"}), "paid_on")
    assert api.post(f"{url}/pvp_nope/spending", json={"amount": "1.00", "paid_on": "2026-04-01",
                                                      "payee": "x"}).status_code == 404

    year = ok(api.get(url, params={"year": 2026}), 200)
    assert (year["cap"], year["budgets"], year["spent"], year["room"]) == ("180.00", "180.00", "100.00", "0.00")
    assert sorted(p["name"] for p in year["items"]) == ["Posters", "Press safety training"]
    trail = ok(api.get("/v1/events", params={"aggregate_id": first["aggregate_id"]}), 200)["items"]
    assert [e["type"] for e in trail] == ["PreventionProjectApproved"] * 2 + ["PreventionSpent"] * 2

    st = ok(api.get(f"/v1/funds/{region}/statement", params={"from": "2026-01-01", "to": "2026-12-31"}), 200)
    assert st["books_balanced"] is True
    assert (st["expenditure"]["prevention"], st["expenditure"]["total"]) == ("100.00", "100.00")
    assert st["prevention"]["years"] == [{"year": 2026, "share": "0.02", "income": "9000.00", "cap": "180.00",
                                          "budgets": "180.00", "spent": "100.00"}]
    # cash: 9000.00 + 900.00 received − 100.00 spent on prevention = 9800.00
    assert st["balance"] == "9800.00" and st["surplus"] == "800.00"  # 900.00 received in 2026 − 100.00
