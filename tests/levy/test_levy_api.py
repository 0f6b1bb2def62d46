"""The levy through the API on both runtimes: employers and workers enrolled through the
enrollment API, reports and corrections, payments, the account as of dates, the fund statement,
rate reviews, and every bad input refused with the field named and nothing recorded. Each test's
employers are in a region of its own (`unique`): the distributed runtime is one system for the
whole session, and statements and rate reviews are of a whole region.

Worked example (employer of class 4, base rate 0.0090, enrolled 2025-07-01):
- July, reported 5 Aug: A 8123.45 + B 6000.00 = 14123.45 × 0.0090 = 127.11105 → 127.11, due 15 Aug.
- July corrected 10 Aug: + D 3000.00 = 17123.45 → 154.11105 → 154.11; delta 27.00.
- 200.00 paid 20 Aug: 5 days late on 154.11 → 0.385275 → fee 0.39; contribution 154.11; credit 45.50.
- August reported 5 Sep: A, B, C 5000.00 = 19123.45 → 172.11, due 15 Sep; the credit 45.50 pays
  part of it: 126.61 outstanding. On 25 Sep: 10 days × 126.61 × 0.0005 = 0.63305 → 0.63.
"""
from __future__ import annotations

from datetime import date

import pytest

from tests.levy.support import enroll_employer, hire, other_region, separate

pytestmark = pytest.mark.both_runtimes


@pytest.fixture
def shop(api, unique):  # noqa: ANN001, ANN201
    employer_id = enroll_employer(api, unique)
    a, _ = hire(api, unique, employer_id, "2025-07-01")
    b, _ = hire(api, unique, employer_id, "2025-07-01")
    c, _ = hire(api, unique, employer_id, "2025-08-10")
    d, d_employee = hire(api, unique, employer_id, "2025-07-01")
    separate(api, employer_id, d_employee, "2025-07-20")
    return {"employer_id": employer_id, "A": a, "B": b, "C": c, "D": d}


def report(api, shop, period: str, reported_on: str, **wages: str):  # noqa: ANN001, ANN201, ANN003
    return api.post("/v1/wage-reports", json={
        "employer_id": shop["employer_id"], "period": period, "reported_on": reported_on,
        "lines": [{"id_number": shop[k], "wage": v} for k, v in wages.items()]})


def account(api, shop, on: str) -> dict:  # noqa: ANN001
    r = api.get(f"/v1/employers/{shop['employer_id']}/account", params={"on": on})
    assert r.status_code == 200, r.text
    return r.json()


def events_of(api, aggregate_id: str) -> list[dict]:  # noqa: ANN001
    r = api.get("/v1/events", params={"aggregate_id": aggregate_id})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["items"] if isinstance(body, dict) else body


def test_report_correct_pay_and_the_account_as_of_dates(api, shop, unique) -> None:  # noqa: ANN001
    eid = shop["employer_id"]
    r = report(api, shop, "2025-07", "2025-08-05", A="8123.45", B="6000.00")
    assert r.status_code == 201, r.text
    first = r.json()
    assert {k: first[k] for k in ("payroll", "rate", "contribution_due", "due_date", "delta_due", "correction_of")} \
        == {"payroll": "14123.45", "rate": "0.009000", "contribution_due": "127.11", "due_date": "2025-08-15",
            "delta_due": "127.11", "correction_of": None}

    r = report(api, shop, "2025-07", "2025-08-10", A="8123.45", B="6000.00", D="3000.00")
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["payroll"], second["contribution_due"], second["delta_due"], second["correction_of"]) == \
        ("17123.45", "154.11", "27.00", first["report_id"])
    [e1, e2] = [e for e in events_of(api, f"wages-{eid}-2025-07") if e["type"] == "WageReported"]
    assert e2["payload"]["correction_of"] == first["report_id"] and e2["payload"]["delta_due"] == "27.00"
    assert len(e2["payload"]["lines"]) == 3 and {"employee_id", "wage"} <= set(e2["payload"]["lines"][0])

    assert account(api, shop, "2025-08-07")["assessed"] == "127.11"  # before the correction
    on_12 = account(api, shop, "2025-08-12")
    assert (on_12["assessed"], on_12["arrears"], on_12["late_fees"], on_12["balance"]) == \
        ("154.11", "154.11", "0.00", "154.11")
    on_due = account(api, shop, "2025-08-15")
    assert on_due["late_fees"] == "0.00"
    assert account(api, shop, "2025-08-16")["late_fees"] == "0.08"  # 154.11 × 0.0005 = 0.077055

    r = api.post("/v1/contribution-payments", json={"employer_id": eid, "amount": "200.00", "paid_on": "2025-08-20"})
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["allocations"] == [{"period": "2025-07", "late_fee": "0.39", "contribution": "154.11"}]
    assert paid["credit"] == "45.50"
    [event] = [e for e in events_of(api, f"account-{eid}") if e["type"] == "ContributionPaid"]
    assert event["payload"]["allocations"] == paid["allocations"] and event["payload"]["credit"] == "45.50"

    on_31 = account(api, shop, "2025-08-31")
    assert (on_31["paid"], on_31["arrears"], on_31["credit"], on_31["balance"]) == \
        ("200.00", "0.00", "45.50", "-45.50")

    r = report(api, shop, "2025-08", "2025-09-05", A="8123.45", B="6000.00", C="5000.00")
    assert r.status_code == 201, r.text
    assert (r.json()["contribution_due"], r.json()["due_date"]) == ("172.11", "2025-09-15")
    on_due = account(api, shop, "2025-09-15")
    assert (on_due["assessed"], on_due["arrears"], on_due["credit"], on_due["late_fees"], on_due["balance"]) == \
        ("326.22", "126.61", "0.00", "0.39", "126.61")
    later = account(api, shop, "2025-09-25")
    assert (later["late_fees"], later["late_fees_outstanding"], later["balance"]) == ("1.02", "0.63", "127.24")
    august = next(p for p in later["periods"] if p["period"] == "2025-08")
    assert (august["contribution"], august["paid"], august["outstanding"], august["days_overdue"]) == \
        ("172.11", "45.50", "126.61", 10)
    assert later["rate"] == "0.009000" and later["rate_history"] == []

    st = api.get(f"/v1/funds/{unique.region}/statement", params={"from": "2025-08-01", "to": "2025-09-30"})
    assert st.status_code == 200, st.text
    s = st.json()
    assert s["books_balanced"] is True
    # Late fees booked: July's 0.39, paid on 20 August. Accrued as well: August's 126.61 overdue
    # from 16 to 30 September, 15 days × 126.61 × 0.0005 = 0.949575 → 0.95, owed at the end.
    assert s["income"] == {"contributions_assessed": "326.22", "contributions_collected": "199.61",
                           "late_fees": "0.39", "late_fees_collected": "0.39", "cash_received": "200.00",
                           "late_fees_accrued": "1.34", "late_fees_outstanding": "0.95"}
    assert s["collection_rate"] == "0.6119"
    assert s["balance"] == "200.00" and s["expenditure"]["total"] == "0.00"
    assert s["prevention_share"] == {"share": "0.03", "amount": "9.79"}
    assert s["coverage"]["insured_workers"] == 3  # A, B, C; D left on 20 July
    # the average rate is of the months in the range (August): 172.11 / 19123.45
    assert (s["average_rate"]["payroll"], s["average_rate"]["contributions"]) == ("19123.45", "172.11")
    assert s["average_rate"]["effective"] == "0.009000" and s["average_rate"]["exceeds_control"] is False
    # another region's statement is empty and balanced
    other = api.get(f"/v1/funds/{other_region(unique)}/statement",
                    params={"from": "2025-08-01", "to": "2025-09-30"}).json()
    assert other["income"]["contributions_assessed"] == "0.00" and other["books_balanced"] is True


def test_payments_refused_before_anything_is_recorded(api, shop) -> None:  # noqa: ANN001
    eid = shop["employer_id"]
    assert report(api, shop, "2025-07", "2025-08-05", A="1000.00").status_code == 201
    for body, field in (({"amount": "0.00"}, "amount"), ({"amount": "-5.00"}, "amount"),
                        ({"amount": "1.234"}, "amount"), ({"amount": 12.5}, "amount"),
                        ({"paid_on": "2999-01-01"}, "paid_on"), ({"employer_id": "er_nobody"}, "employer_id")):
        r = api.post("/v1/contribution-payments",
                     json={"employer_id": eid, "amount": "10.00", "paid_on": "2025-08-20", **body})
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    assert [e for e in events_of(api, f"account-{eid}") if e["type"] == "ContributionPaid"] == []
    assert account(api, shop, "2025-08-31")["paid"] == "0.00"
    # payments are recorded in date order
    assert api.post("/v1/contribution-payments",
                    json={"employer_id": eid, "amount": "5.00", "paid_on": "2025-08-20"}).status_code == 201
    r = api.post("/v1/contribution-payments", json={"employer_id": eid, "amount": "5.00", "paid_on": "2025-08-19"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "paid_on"


@pytest.mark.parametrize("change, field", [
    ({"period": "2025-13"}, "period"),
    ({"period": "2025-06"}, "period"),  # before the enrollment month
    ({"period": "2999-01"}, "period"),  # after the current month
    ({"lines": [{"id_number": "A", "wage": "-1.00"}]}, "lines.0.wage"),
    ({"lines": [{"id_number": "A", "wage": "100.001"}]}, "lines.0.wage"),
    ({"lines": [{"id_number": "A", "wage": "abc"}]}, "lines.0.wage"),
    ({"lines": [{"id_number": "A", "wage": 100}]}, "lines.0.wage"),
    ({"lines": [{"id_number": "A", "wage": "1.00"}, {"id_number": "A", "wage": "2.00"}]}, "lines.1.id_number"),
    ({"lines": [{"id_number": "A", "wage": "1.00"}, {"id_number": "C", "wage": "2.00"}]}, "lines.1.id_number"),
    ({"lines": [{"id_number": "440304199003070018", "wage": "1.00"}]}, "lines.0.id_number"),
    ({"lines": []}, "lines"),
    ({"employer_id": "er_nobody"}, "employer_id"),
    ({"reported_on": "2025-06-30"}, "reported_on"),
])
def test_bad_reports_name_the_field_and_record_nothing(api, shop, change, field) -> None:  # noqa: ANN001
    body = {"employer_id": shop["employer_id"], "period": "2025-07", "reported_on": "2025-08-05",
            "lines": [{"id_number": "A", "wage": "1000.00"}], **change}
    body["lines"] = [{**ln, "id_number": shop.get(ln["id_number"], ln["id_number"])} for ln in body["lines"]]
    r = api.post("/v1/wage-reports", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert events_of(api, f"wages-{shop['employer_id']}-2025-07") == []
    assert account(api, shop, "2030-01-01")["assessed"] == "0.00"


def test_a_worker_separated_before_the_month_cannot_be_reported(api, shop) -> None:  # noqa: ANN001
    r = report(api, shop, "2025-08", "2025-09-05", A="1000.00", D="1000.00")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "lines.1.id_number",
                                   "message": f"this worker is not employed by {shop['employer_id']} in 2025-08"}]


def test_csv_upload(api, unique) -> None:  # noqa: ANN001
    employer_id = enroll_employer(api, unique, industry_code="I6510")  # class 1, 0.0020
    ids: list[str] = []
    body = "id_number,wage\n"
    for n in range(3):
        ids.append(hire(api, unique, employer_id, "2025-07-01", birth=date(1985, 5, 1 + n))[0])
    body += "".join(f"{i},{1000 + n}.50\n" for n, i in enumerate(ids))
    r = api.post("/v1/wage-reports", content=body.encode(), headers={"Content-Type": "text/csv"},
                 params={"employer_id": employer_id, "period": "2025-07", "reported_on": "2025-08-01"})
    assert r.status_code == 201, r.text
    # 1000.50 + 1001.50 + 1002.50 = 3004.50 × 0.0020 = 6.009 → 6.01
    assert (r.json()["payroll"], r.json()["rate"], r.json()["contribution_due"]) == ("3004.50", "0.002000", "6.01")
    bad = "id_number,wage\n" + f"{ids[0]},12.345\n"
    r = api.post("/v1/wage-reports", content=bad.encode(), headers={"Content-Type": "text/csv"},
                 params={"employer_id": employer_id, "period": "2025-08"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines.0.wage"
    r = api.post("/v1/wage-reports", content=b"wage,id_number\n", headers={"Content-Type": "text/csv"},
                 params={"employer_id": employer_id, "period": "2025-08"})
    assert r.status_code == 422
    r = api.post("/v1/wage-reports", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"query.employer_id", "query.period"}


def test_too_many_lines_is_refused_naming_the_limit(api, shop) -> None:  # noqa: ANN001
    body = "id_number,wage\n" + "".join(f"X{n:017d},1.00\n" for n in range(50_001))
    r = api.post("/v1/wage-reports", content=body.encode(), headers={"Content-Type": "text/csv"},
                 params={"employer_id": shop["employer_id"], "period": "2025-07"})
    assert r.status_code in (413, 422)
    assert "50000" in r.text
    assert events_of(api, f"wages-{shop['employer_id']}-2025-07") == []


def test_rate_review_steps_down_a_clean_employer_idempotently_and_clamps_class_1(api, shop, unique) -> None:  # noqa: ANN001
    eid = shop["employer_id"]
    assert report(api, shop, "2025-07", "2025-08-05", A="8123.45", B="6000.00").status_code == 201
    soft = enroll_employer(api, unique, industry_code="I6510")
    soft_id, _ = hire(api, unique, soft, "2025-07-01", birth=date(1992, 2, 2))
    r = api.post("/v1/wage-reports", json={"employer_id": soft, "period": "2025-07", "reported_on": "2025-08-05",
                                           "lines": [{"id_number": soft_id, "wage": "20000.00"}]})
    assert r.status_code == 201, r.text

    r = api.post("/v1/rate-reviews", json={"region": unique.region, "year": 2026})
    assert r.status_code == 200, r.text
    decisions = {d["employer_id"]: d for d in r.json()["decisions"]}
    assert r.json()["lookback"] == {"from": 2023, "to": 2025}
    mine = decisions[eid]
    assert (mine["wanted_multiplier"], mine["multiplier"], mine["rate"], mine["recorded"]) == \
        ("0.50", "0.50", "0.004500", True)
    assert mine["figures"] == {"contributions": "127.11", "claims_cost": "0.00", "loss_ratio": "0.0000",
                               "injuries": 0, "workers": 2, "frequency_per_mille": "0.0000"}
    assert (decisions[soft]["wanted_multiplier"], decisions[soft]["multiplier"]) == ("0.50", "1.00")

    again = api.post("/v1/rate-reviews", json={"region": unique.region, "year": 2026})
    assert [d["recorded"] for d in again.json()["decisions"]] == [False, False]
    assert len([e for e in events_of(api, f"account-{eid}") if e["type"] == "RateAdjusted"]) == 1

    # January 2026 is charged at the new rate: 8000.00 × 0.0045 = 36.00
    r = report(api, shop, "2026-01", "2026-02-01", A="8000.00")
    assert r.status_code == 201, r.text
    assert (r.json()["rate"], r.json()["contribution_due"]) == ("0.004500", "36.00")
    # the review was recorded today: an account as of a later day shows it in the rate history
    view = account(api, shop, "2030-01-01")
    assert [(h["year"], h["multiplier"], h["rate"]) for h in view["rate_history"]] == [(2026, "0.50", "0.004500")]
    assert view["rate"] == "0.009000"  # no review for 2030: the base rate

    bad = api.post("/v1/rate-reviews", json={"region": "44030", "year": 2026})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "region"


def test_statement_needs_dates_in_order(api) -> None:  # noqa: ANN001
    r = api.get("/v1/funds/440300/statement", params={"from": "2025-09-30", "to": "2025-08-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
    r = api.get("/v1/funds/440300/statement", params={"from": "2025-08-01"})
    assert r.status_code == 422


def test_csv_upload_of_thousands_of_lines(api, runtime, unique) -> None:  # noqa: ANN001
    """5,000 workers: hired through the levy's own enrollment projection (the API would take
    minutes to enrol them one by one), reported in one CSV upload."""
    from datetime import datetime, timezone
    from uuid import uuid4

    from libs.events.envelope import Envelope
    from services.levy.projections import LevyEnrollmentProjection

    employer_id = enroll_employer(api, unique)
    ids = [f"4403041990{n:08d}" for n in range(5_000)]
    levy = runtime.services["levy"].ctx
    projection = LevyEnrollmentProjection()
    with levy.session_factory() as session, session.begin():
        for n, id_number in enumerate(ids):
            projection.handle(session, Envelope(
                event_id=uuid4(), type="EmployeeEnrolled", schema_version=1, aggregate_type="worker",
                aggregate_id=f"ee_bulk{n:08d}", sequence=1, occurred_on=date(2025, 7, 1),
                recorded_at=datetime.now(timezone.utc), actor="test", payload={
                    "employee_id": f"ee_bulk{n:08d}", "employer_id": employer_id, "id_number": id_number,
                    "name": "工人", "birth_date": "1990-01-01", "sex": "male", "hired_on": "2025-07-01",
                    "bank_account": None}))
    body = "id_number,wage\n" + "".join(f"{i},{5000 + n % 100}.25\n" for n, i in enumerate(ids))
    r = api.post("/v1/wage-reports", content=body.encode(), headers={"Content-Type": "text/csv"},
                 params={"employer_id": employer_id, "period": "2025-07", "reported_on": "2025-08-01"})
    assert r.status_code == 201, r.text
    # 50 × (5000.25 + … + 5099.25) = 50 × 504975.00 = 25248750.00 × 0.0090 = 227238.75
    assert (r.json()["payroll"], r.json()["contribution_due"], r.json()["lines"]) == \
        ("25248750.00", "227238.75", 5_000)


def test_benefits_paid_raise_the_floating_rate_and_show_in_the_statement(api, runtime, shop, unique) -> None:  # noqa: ANN001
    """A settled payout of the payments service (projected as the log would deliver it) is the
    fund's expense and the employer's claims cost: 150.00 against 127.11 of contributions is a
    loss ratio of 1.1801, the 1.20 step: 0.0090 × 1.20 = 0.010800."""
    from datetime import datetime, timezone
    from uuid import uuid4

    from libs.events.envelope import Envelope
    from services.levy.projections import LevyBenefitsProjection

    eid = shop["employer_id"]
    assert report(api, shop, "2025-07", "2025-08-05", A="8123.45", B="6000.00").status_code == 201
    payload = {"payout_id": "po_1", "run_id": "run_x", "settled_on": "2025-10-10", "amount": "150.00",
               "lines": [{"line_id": "l1", "claim_id": "c1", "employer_id": eid, "kind": "medical",
                          "family": "medical", "amount": "150.00"}]}
    with runtime.services["levy"].ctx.session_factory() as session, session.begin():
        LevyBenefitsProjection().handle(session, Envelope(
            event_id=uuid4(), type="PayoutSettled", schema_version=1, aggregate_type="payout", aggregate_id="po_1",
            sequence=1, occurred_on=date(2025, 10, 10), recorded_at=datetime.now(timezone.utc), actor="test",
            payload=payload))
    s = api.get(f"/v1/funds/{unique.region}/statement", params={"from": "2025-10-01", "to": "2025-10-31"}).json()
    assert s["expenditure"]["by_family"]["medical"] == "150.00" and s["expenditure"]["total"] == "150.00"
    assert s["balance"] == "-150.00" and s["books_balanced"] is True

    r = api.post("/v1/rate-reviews", json={"region": unique.region, "year": 2026})
    [decision] = r.json()["decisions"]
    assert decision["figures"]["claims_cost"] == "150.00" and decision["figures"]["loss_ratio"] == "1.1801"
    assert (decision["multiplier"], decision["rate"]) == ("1.20", "0.010800")


def test_openapi_describes_the_levy_routes_and_an_idempotent_payment(api, shop) -> None:  # noqa: ANN001
    doc = api.get("/openapi.json").json()
    body = doc["paths"]["/v1/wage-reports"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv"} <= set(body)
    for path in ("/v1/contribution-payments", "/v1/rate-reviews", "/v1/employers/{employer_id}/account",
                 "/v1/funds/{region}/statement"):
        assert path in doc["paths"]
    assert report(api, shop, "2025-07", "2025-08-05", A="1000.00").status_code == 201
    pay = {"employer_id": shop["employer_id"], "amount": "10.00", "paid_on": "2025-08-20"}
    key = {"Idempotency-Key": f"pay-{shop['employer_id']}"}  # a key of its own: the system outlives the test
    first = api.post("/v1/contribution-payments", json=pay, headers=key)
    again = api.post("/v1/contribution-payments", json=pay, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert account(api, shop, "2025-08-31")["paid"] == "10.00"


def test_levy_projections_replay_to_the_same_state(api, runtime, shop) -> None:  # noqa: ANN001
    assert report(api, shop, "2025-07", "2025-08-05", A="1000.00", B="2000.00").status_code == 201
    wired = runtime.services["levy"]
    for runner in wired.runners:
        with wired.ctx.session_factory() as s:
            before = runner.projector.state_hash(s)
        runner.replay()
        runner.run_until_idle()
        with wired.ctx.session_factory() as s:
            assert runner.projector.state_hash(s) == before, runner.projector.name
    assert account(api, shop, "2025-08-31")["assessed"] == "27.00"  # 3000.00 × 0.0090
