"""Pooling moves up (RULES.md "Prevention and pooling", issue 15): three county pools A, B, C are
consolidated into the test's region P from 1 January 2026. Figures worked by hand in the comments;
the books are balanced at every day looked at, in every region, before and after."""
from __future__ import annotations

from decimal import Decimal

import pytest

from libs.policy import load_national_default

from .support import enroll_employer, hire

pytestmark = pytest.mark.both_runtimes

FUND = {"name": "Test work-injury fund", "bank_code": "102584000002", "account_no": "40000234092001",
        "bic": "ICBKCNBJSZN"}
DAYS = ("2025-11-30", "2025-12-31", "2026-01-01", "2026-01-09", "2026-01-10", "2026-01-31", "2026-03-31")


def ok(response, status: int = 201) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def refused(response, field: str) -> None:  # noqa: ANN001
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text


def statement(api, region: str, start: str, end: str) -> dict:  # noqa: ANN001
    st = ok(api.get(f"/v1/funds/{region}/statement", params={"from": start, "to": end}), 200)
    assert st["books_balanced"] is True, st
    return st


def test_three_pools_consolidated_with_arrears_and_a_claim(api, unique) -> None:  # noqa: ANN001
    into = unique.region
    pools = [f"{p}{unique.region[2:]}" for p in ("52", "53", "54")]  # Guizhou, Yunnan, Tibet: this test's alone
    national = load_national_default().model_dump(mode="json")  # class 4 (C3311): 0.9%; due the 15th; 0.05%/day
    for region, class_4 in zip(pools, ("0.0090", "0.0090", "0.0150")):  # C's own policy: class 4 at 1.5%
        ok(api.put(f"/v1/policies/{region}/2024-01-01", json=national | {"base_rates": national["base_rates"] | {
            "4": class_4}}))
    # the new region's policy: class 4 at 1.2%
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=national | {"base_rates": national["base_rates"] | {"4": "0.0120"},
                                                                   "fund_account": FUND}))

    employers, workers = [], []
    for region in pools:
        employer = enroll_employer(api, unique, region=region, enrolled_on="2025-07-01")
        id_number, employee_id = hire(api, unique, employer, "2025-07-01")
        employers.append(employer)
        workers.append((id_number, employee_id))
    a, b, c = employers

    # November 2025, reported on 20 November, due 15 December:
    #   A 10,000.00 × 0.009 = 90.00, paid in full on 10 December;
    #   B 20,000.00 × 0.009 = 180.00, 100.00 paid on 10 December: 80.00 open;
    #   C 30,000.00 × 0.015 = 450.00, nothing paid: 450.00 open.
    for employer, (id_number, _e), wage, paid in ((a, workers[0], "10000.00", "90.00"),
                                                 (b, workers[1], "20000.00", "100.00"),
                                                 (c, workers[2], "30000.00", None)):
        ok(api.post("/v1/wage-reports", json={"employer_id": employer, "period": "2025-11", "reported_on": "2025-11-20",
                                              "lines": [{"id_number": id_number, "wage": wage}]}))
        if paid:
            ok(api.post("/v1/contribution-payments", json={"employer_id": employer, "amount": paid,
                                                           "paid_on": "2025-12-10"}))
    # a claim of C's worker, occurred in December
    claim = ok(api.post("/v1/claims", json={
        "employer_id": c, "employee_id": workers[2][1], "kind": "accident", "occurred_on": "2025-12-05",
        "applied_on": "2025-12-10", "applicant": "employer", "description": "hand caught in a press"}))["claim_id"]
    api.settle()

    before = [statement(api, r, "2025-11-01", "2025-12-31") for r in pools]
    assert [s["balance"] for s in before] == ["90.00", "100.00", "0.00"]
    assert [s["income"]["contributions_assessed"] for s in before] == ["90.00", "180.00", "450.00"]

    # January 2026, reported on 5 January before the consolidation is known, at the old pools' rates:
    #   B 20,000.00 × 0.009 = 180.00; C 30,000.00 × 0.015 = 450.00
    for employer, (id_number, _e), wage, due in ((b, workers[1], "20000.00", "180.00"),
                                                (c, workers[2], "30000.00", "450.00")):
        assert ok(api.post("/v1/wage-reports", json={
            "employer_id": employer, "period": "2026-01", "reported_on": "2026-01-05",
            "lines": [{"id_number": id_number, "wage": wage}]}))["contribution_due"] == due

    # ---- refusals change nothing
    url = "/v1/pooling/consolidations"
    refused(api.post(url, json={"into_region": into, "from_regions": pools, "effective_from": "2026-01-02"}),
            "effective_from")
    refused(api.post(url, json={"into_region": into, "from_regions": [pools[0], into], "effective_from": "2026-01-01"}),
            "from_regions")
    refused(api.post(url, json={"into_region": into, "from_regions": [pools[0], "99x"], "effective_from": "2026-01-01"}),
            "from_regions.1")
    refused(api.post(url, json={"into_region": into, "from_regions": [pools[0], pools[0]],
                                "effective_from": "2026-01-01"}), "from_regions")
    refused(api.post(url, json={"into_region": "000000", "from_regions": pools, "effective_from": "2026-01-01"}),
            "into_region")

    # ---- the consolidation, once
    body = {"into_region": into, "from_regions": pools, "effective_from": "2026-01-01"}
    made = ok(api.post(url, json=body))
    again = ok(api.post(url, json=body), 200)  # the same consolidation is one: the same answer, nothing recorded
    assert again == made and made["consolidation_id"].startswith("pc_")
    assert api.post(url, json={"into_region": into, "from_regions": [pools[0]],
                               "effective_from": "2026-02-01"}).status_code == 409  # A is gone already
    trail = ok(api.get("/v1/events", params={"aggregate_id": "pooling"}), 200)["items"]
    assert [e["type"] for e in trail if e["payload"]["consolidation_id"] == made["consolidation_id"]] \
        == ["PoolsConsolidated"]

    # a pool gone takes no employer from the date
    r = api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "迟到的公司", "industry_code": "C3311",
                                        "region": pools[0], "enrolled_on": "2026-02-01"})
    refused(r, "region")

    # ---- what moved (as the books stood on 31 December 2025)
    moved = ok(api.get(f"{url}/{made['consolidation_id']}"), 200)
    assert moved["moved"] == {"employers": 3, "workers": 3, "claims": 1, "open_periods": 2}
    by_pool = {p["region"]: p for p in moved["pools"]}
    assert [by_pool[r]["balances_carried"] for r in pools] == [
        {"cash": "90.00"},
        {"cash": "100.00", "contributions_receivable": "80.00"},
        {"contributions_receivable": "450.00"}]
    assert [by_pool[r]["net_assets_carried"] for r in pools] == ["90.00", "180.00", "450.00"]
    # late fees from 16 December: B 80.00 × 0.0005 × 16 days = 0.64, C 450.00 × 0.0005 × 16 = 3.60
    assert [(by_pool[r]["arrears"], by_pool[r]["late_fees_outstanding"]) for r in pools] == [
        ("0.00", "0.00"), ("80.00", "0.64"), ("450.00", "3.60")]
    assert by_pool[pools[2]]["open_period_list"] == [
        {"employer_id": c, "period": "2025-11", "outstanding": "450.00", "late_fee_outstanding": "3.60"}]

    # From the date P's policy applies: the Januaries reported under the old rates are assessed
    # again at P's 1.2% — B 20,000.00 × 0.012 = 240.00 (arrears of 60.00), C 30,000.00 × 0.012 =
    # 360.00 (a recovery of 90.00) — once, on the day the consolidation was recorded.
    api.settle()
    for employer, delta, due in ((b, "60.00", "240.00"), (c, "-90.00", "360.00")):
        [again_] = [e["payload"] for e in ok(api.get("/v1/events", params={
            "aggregate_id": f"wages-{employer}-2026-01"}), 200)["items"] if e["type"] == "ContributionReassessed"]
        assert (again_["reason"], again_["delta_due"], again_["contribution_due"], again_["policy_ref"]["region"],
                again_["region"], again_["rate"]) == ("pool_consolidated", delta, due, into, into, "0.012000")
        later = ok(api.get(f"/v1/employers/{employer}/account", params={"on": again_["reported_on"]}), 200)
        assert [p["contribution"] for p in later["periods"] if p["period"] == "2026-01"] == [due]
    assert api.get(f"{url}/pc_nope").status_code == 404

    # ---- after: the new region's policy and books
    # A's January: 10,000.00 × 0.012 (P's class 4) = 120.00, under P's policy
    jan = ok(api.post("/v1/wage-reports", json={"employer_id": a, "period": "2026-01", "reported_on": "2026-01-05",
                                                "lines": [{"id_number": workers[0][0], "wage": "10000.00"}]}))
    assert (jan["rate"], jan["contribution_due"], jan["policy_ref"]["region"]) == ("0.012000", "120.00", into)
    # C settles November on 10 January: 450.00 and 26 days of fees (16 December – 10 January):
    # 450.00 × 0.0005 × 26 = 5.85
    paid = ok(api.post("/v1/contribution-payments", json={"employer_id": c, "amount": "455.85",
                                                          "paid_on": "2026-01-10"}))
    assert paid["allocations"] == [{"period": "2025-11", "late_fee": "5.85", "contribution": "450.00"}]
    account = ok(api.get(f"/v1/employers/{c}/account", params={"on": "2026-01-31"}), 200)
    assert (account["region"], account["enrolled_region"]) == (into, pools[2])
    assert [p["outstanding"] for p in account["periods"]] == ["0.00", "450.00"]  # January: not yet reassessed on 31 Jan
    api.settle()

    # The old pools' statements end at the date: nothing after it, and every balance handed over.
    for region, carried_cash in zip(pools, ("90.00", "100.00", None)):
        st = statement(api, region, "2025-11-01", "2026-03-31")
        assert st["balance"] == "0.00"
        [out] = st["carried_over"]
        assert (out["direction"], out["into_region"], out["effective_from"]) == ("out", into, "2026-01-01")
        assert out["balances"].get("cash") == carried_cash
        assert statement(api, region, "2026-01-01", "2026-03-31")["income"]["contributions_assessed"] == "0.00"

    # The new region's begins with them: 90.00 + 100.00 carried in, 455.85 received on 10 January;
    # assessed in January: A 120.00 + B 180.00 + C 450.00 = 750.00 (the reassessments are dated later)
    p_jan = statement(api, into, "2026-01-01", "2026-01-31")
    assert sorted((x["from_region"], x["direction"]) for x in p_jan["carried_over"]) == [(r, "in") for r in pools]
    assert p_jan["balance"] == "645.85"
    assert (p_jan["income"]["contributions_assessed"], p_jan["income"]["contributions_collected"],
            p_jan["income"]["late_fees"], p_jan["income"]["cash_received"]) == ("750.00", "450.00", "5.85", "455.85")
    # January's payroll is P's: 10,000.00 + 20,000.00 + 30,000.00
    assert p_jan["average_rate"]["payroll"] == "60000.00"
    assert p_jan["coverage"] == {"insured_workers": 3, "employers": 3}
    # B still owes November's 80.00 and January's 180.00 (as assessed by 31 January)
    assert ok(api.get(f"/v1/employers/{b}/account", params={"on": "2026-01-31"}), 200)["arrears"] == "260.00"
    assert statement(api, into, "2025-11-01", "2025-12-31")["balance"] == "0.00"  # nothing of P's before the date

    # Claims move with their pools: the device confirmed for C's worker in February is paid by P's run.
    ok(api.post(f"/v1/claims/{claim}/recognition", json={"decision": "recognized", "decided_on": "2025-12-20",
                                                         "basis": "R.14(1)"}), 200)
    supplier = f"FZ-{into}-1"
    ok(api.put(f"/v1/hospitals/{supplier}", json={
        "name": "Orthopaedic workshop", "region": into, "kind": "supplier",
        "bank_account": {"bank_code": "103584000004", "account_no": f"4100{into}0001", "holder": "假肢厂"}}))
    price = national["device_catalog"]["FZ-CRUTCH"]["standard_price"]
    ok(api.post(f"/v1/claims/{claim}/assistive-devices", json={
        "device_code": "FZ-CRUTCH", "confirmed_on": "2026-02-10", "supplier_id": supplier}))
    api.settle()
    run = ok(api.post("/v1/payment-runs", json={"region": into, "period": "2026-02"}))
    assert (run["count"], run["total"]) == (1, price)

    # The books balance at every day looked at, in every region; and the cash of the four adds up
    # to what was received: 90.00 + 100.00 + 455.85 = 645.85 from 10 January, 190.00 before it.
    for day in DAYS:
        cash = [statement(api, r, "2025-07-01", day)["balance"] for r in (*pools, into)]
        expected = {"2025-11-30": "0.00", "2025-12-31": "190.00", "2026-01-01": "190.00",
                    "2026-01-09": "190.00"}.get(day, "645.85")
        assert sum(map(Decimal, cash)) == Decimal(expected), (day, cash)


def test_the_rate_review_of_a_year_takes_the_employers_of_the_pools_consolidated_into_it(api, unique) -> None:  # noqa: ANN001
    into, pool = unique.region, "62" + unique.region[2:]  # Gansu: this test's alone
    national = load_national_default().model_dump(mode="json")  # class 4 (C3311): 0.9% (the pool's)
    rates = national["base_rates"] | {"4": "0.0120"}  # P: class 4 at 1.2%
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=national | {"base_rates": rates, "fund_account": FUND}))
    moved = enroll_employer(api, unique, region=pool, enrolled_on="2025-07-01")
    home = enroll_employer(api, unique, region=into, enrolled_on="2025-07-01")
    people = {}
    for employer, wage in ((moved, "10000.00"), (home, "20000.00")):
        id_number, _e = hire(api, unique, employer, "2025-07-01")
        people[employer] = id_number
        ok(api.post("/v1/wage-reports", json={"employer_id": employer, "period": "2025-07", "reported_on": "2025-08-05",
                                              "lines": [{"id_number": id_number, "wage": wage}]}))
    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-01-01"}))
    api.settle()

    # 2025 is still the pool's year: its employer is the pool's to review (nothing to rate on in
    # the look-back 2022–2024: skipped), and not P's
    before = ok(api.post("/v1/rate-reviews", json={"region": pool, "year": 2025}), 200)
    assert [x["employer_id"] for x in before["skipped"]] == [moved] and before["decisions"] == []
    assert [x["employer_id"] for x in ok(api.post("/v1/rate-reviews", json={"region": into, "year": 2025}),
                                         200)["skipped"]] == [home]
    # From 2026 the pool is gone: its review is refused naming `region`, and P's takes its employer
    # with its look-back 2023–2025 in the pool (July 2025: 10,000.00 × 0.009 = 90.00, no claim: loss
    # ratio 0, the 0.50 step) at P's policy: 0.012 × 0.50 = 0.006
    refused(api.post("/v1/rate-reviews", json={"region": pool, "year": 2026}), "region")
    review = ok(api.post("/v1/rate-reviews", json={"region": into, "year": 2026}), 200)
    assert review["policy_ref"]["region"] == into
    decided = {d["employer_id"]: (d["figures"]["contributions"], d["figures"]["workers"], d["rate"])
               for d in review["decisions"]}
    # P's own: July 2025 at P's 1.2%: 20,000.00 × 0.012 = 240.00, the same step
    assert decided == {moved: ("90.00", 1, "0.006000"), home: ("240.00", 1, "0.006000")}
    # January 2026 of the moved employer: 10,000.00 × 0.006 = 60.00
    jan = ok(api.post("/v1/wage-reports", json={"employer_id": moved, "period": "2026-01", "reported_on": "2026-02-05",
                                                "lines": [{"id_number": people[moved], "wage": "10000.00"}]}))
    assert (jan["rate"], jan["contribution_due"]) == ("0.006000", "60.00")


def test_prevention_of_a_consolidated_region_counts_its_pools_income_and_a_pool_gone_has_none(api, unique) -> None:  # noqa: ANN001
    into, pool = unique.region, "64" + unique.region[2:]  # Ningxia: this test's alone
    national = load_national_default().model_dump(mode="json")  # class 4 (C3311): 0.9%
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=national | {"prevention_share": "0.02", "fund_account": FUND}))
    # 2025, June, paid on 10 July: the pool's employer 1,000,000.00 × 0.009 = 9000.00; P's own
    # 500,000.00 × 0.009 = 4500.00
    for region, wage, amount in ((pool, "1000000.00", "9000.00"), (into, "500000.00", "4500.00")):
        employer = enroll_employer(api, unique, region=region, enrolled_on="2025-01-01")
        id_number, _e = hire(api, unique, employer, "2025-01-01")
        ok(api.post("/v1/wage-reports", json={"employer_id": employer, "period": "2025-06", "reported_on": "2025-07-05",
                                              "lines": [{"id_number": id_number, "wage": wage}]}))
        ok(api.post("/v1/contribution-payments", json={"employer_id": employer, "amount": amount,
                                                       "paid_on": "2025-07-10"}))
    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-01-01"}))
    api.settle()

    # The pool is gone from 1 January 2026: no project of its for 2026 (nor a year's view), and
    # nothing is recorded.
    refused(api.post(f"/v1/funds/{pool}/prevention-projects", json={"year": 2026, "name": "Posters",
                                                                    "budget": "10.00"}), "region")
    refused(api.get(f"/v1/funds/{pool}/prevention-projects", params={"year": 2026}), "region")
    # P's 2026 cap counts the income of the pool that belongs to it: 0.02 × (9000.00 + 4500.00)
    # = 0.02 × 13500.00 = 270.00 — though P's own 2025 statement collected 4500.00 only.
    url = f"/v1/funds/{into}/prevention-projects"
    refused(api.post(url, json={"year": 2026, "name": "Too much", "budget": "270.01"}), "budget")
    made = ok(api.post(url, json={"year": 2026, "name": "Press safety training", "budget": "270.00"}))
    assert (made["cap"], made["income"], made["room"]) == ("270.00", "13500.00", "0.00")
    assert statement(api, into, "2025-01-01", "2025-12-31")["income"]["contributions_collected"] == "4500.00"
    st = statement(api, into, "2026-01-01", "2026-12-31")
    assert st["prevention"]["years"] == [{"year": 2026, "share": "0.02", "income": "13500.00", "cap": "270.00",
                                          "budgets": "270.00", "spent": "0.00"}]


def test_a_region_lists_the_claims_of_the_pools_that_belong_to_it_on_the_day(api, unique) -> None:  # noqa: ANN001
    into, pool = unique.region, f"52{unique.region[2:]}"
    national = load_national_default().model_dump(mode="json")
    ok(api.put(f"/v1/policies/{pool}/2024-01-01", json=national))
    ok(api.put(f"/v1/policies/{into}/2024-01-01", json=national | {"fund_account": FUND}))
    employer = enroll_employer(api, unique, region=pool, enrolled_on="2025-07-01")
    _id_number, employee_id = hire(api, unique, employer, "2025-07-01")
    claim = ok(api.post("/v1/claims", json={
        "employer_id": employer, "employee_id": employee_id, "kind": "accident", "occurred_on": "2025-12-05",
        "applied_on": "2025-12-10", "applicant": "employer", "description": "hand caught in a press"}))["claim_id"]
    api.settle()

    def listed(region: str, on: str) -> list[str]:
        return [c["claim_id"] for c in ok(api.get("/v1/claims", params={"region": region, "on": on}), 200)["items"]]

    assert (listed(pool, "2026-02-01"), listed(into, "2026-02-01")) == ([claim], [])
    ok(api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                    "effective_from": "2026-01-01"}))
    api.settle()
    # from 1 January the pool's claims are the new region's; before it, still the pool's
    assert (listed(pool, "2026-02-01"), listed(into, "2026-02-01")) == ([], [claim])
    assert (listed(pool, "2025-12-31"), listed(into, "2025-12-31")) == ([claim], [])
