"""Four eyes on payment runs (API.md, Payments): a new run is proposed; no file and no return
until an agency client of another person approves it; the same person gets 403; a rejected
run's lines wait for the next run; the run shows who proposed and who decided, totals by bank
and its changes against the region's previous run; every step is an event; of two decisions at
once exactly one wins, on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading
import uuid
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from libs.db import make_engine, migrate, session_factory
from libs.events.log import Topics
from libs.settings import Settings
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import Problem
from services.payments.payouts.approval import decide_run
from services.payments.payouts.runs import create_run, position
from services.payments.payouts.tables import payment_runs, payout_lines, payouts
from tests.four_eyes import approve, checker, personal_client

from .support import _lines_ddl, add_line, payments
from .test_runs import payouts_of, returns


def propose(api, headers=None, period: str = "2026-03") -> dict:  # noqa: ANN001
    r = api.post("/v1/payment-runs", json={"region": "440300", "period": period, "execution_date": "2026-04-01"},
                 headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


def decide(api, run_id: str, decision: str, headers: dict, note: str = ""):  # noqa: ANN001, ANN201
    return api.post(f"/v1/payment-runs/{run_id}/approval", json={"decision": decision, "note": note},
                    headers=headers)


def trail(api, run_id: str) -> list[str]:  # noqa: ANN001
    return [e["type"] for e in api.get("/v1/events", params={"aggregate_id": run_id}).json()["items"]]


def test_a_proposed_run_releases_nothing_until_another_person_approves(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 100_000, payee="employee:a", bank_code="105584000005")
    add_line(runtime, "l2", 23_456, payee="employee:b", bank_code="105100000017", account_no="6217000099999999")
    add_line(runtime, "l3", 77_700, payee="employee:c", bank_code="102584000123")
    maker = personal_client(pay, "wangfang")
    run = propose(pay, maker)
    run_id = run["run_id"]
    assert (run["status"], run["count"], run["total"]) == ("proposed", 3, "2011.56")
    assert run["by_bank"] == [{"bank": "102", "count": 1, "total": "777.00"},
                              {"bank": "105", "count": 2, "total": "1234.56"}]
    for fmt in ("pain.001", "csv"):
        refused = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": fmt})
        assert refused.status_code == 409 and refused.json()["run_status"] == "proposed", refused.text
    payout_id = payouts_of(pay, run_id)["employee:a"]["payout_id"]
    refused = returns(pay, run_id, f"{payout_id},ACSC,\n".encode(), "text/csv")
    assert refused.status_code == 409 and refused.json()["run_status"] == "proposed"

    view = pay.get(f"/v1/payment-runs/{run_id}").json()
    assert view["status"] == "proposed" and view["approved_by"] is None
    assert view["proposed_by"]["person"] == "wangfang"
    assert view["by_bank"] == run["by_bank"]

    same_person = personal_client(pay, "wangfang", name="Wang Fang's second desk")
    refused = decide(pay, run_id, "approved", same_person)
    assert refused.status_code == 403 and "another person" in refused.json()["detail"]
    assert decide(pay, run_id, "approved", maker).status_code == 403
    no_person = decide(pay, run_id, "approved", {})  # the bootstrap token names no person
    assert no_person.status_code == 403 and "personal token" in no_person.json()["detail"]
    admin = personal_client(pay, "root", role="admin")
    assert decide(pay, run_id, "approved", admin).status_code == 403  # an admin does nothing else
    assert pay.post("/v1/payment-runs", json={"region": "440300", "period": "2026-03"},
                    headers=admin).status_code == 403
    assert pay.get(f"/v1/payment-runs/{run_id}").json()["status"] == "proposed"

    approved = decide(pay, run_id, "approved", checker(pay), note="matches the register")
    assert approved.status_code == 200, approved.text
    view = pay.get(f"/v1/payment-runs/{run_id}").json()
    assert view["status"] == "approved"
    assert (view["approved_by"]["person"], view["approved_by"]["note"]) == ("checker", "matches the register")
    assert decide(pay, run_id, "rejected", personal_client(pay, "third")).status_code == 409  # decided once

    xml = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001", "bank": "105"})
    assert xml.status_code == 200
    assert pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "csv"}).status_code == 200
    assert returns(pay, run_id, f"{payout_id},ACSC,\n".encode(), "text/csv").json()["settled"] == [payout_id]
    events = pay.get("/v1/events", params={"aggregate_id": run_id}).json()["items"]
    assert [e["type"] for e in events] == ["PaymentRunCreated", "PaymentRunApproved",
                                           "PaymentRunFileReleased", "PaymentRunFileReleased"]
    created, decided, first_file = events[0], events[1], events[2]
    assert (created["payload"]["status"], created["payload"]["proposer"]) == ("proposed", "wangfang")
    assert decided["payload"]["decider"] == "checker" and decided["actor"] != created["actor"]
    assert (first_file["payload"]["format"], first_file["payload"]["bank"], first_file["payload"]["total"]) == \
        ("pain.001", "105", "1234.56")


def test_a_rejected_runs_lines_wait_for_the_next_run(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 100_000, payee="employee:a")
    add_line(runtime, "l2", 50_000, payee="employee:b")
    first = propose(pay)
    assert propose(pay)["count"] == 0  # a proposed run holds its lines
    rejected = decide(pay, first["run_id"], "rejected", checker(pay), note="wrong month")
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["lines_released"]) == ("rejected", 2)
    assert rejected.json()["rejected_by"]["note"] == "wrong month"
    assert {p["status"] for p in payouts_of(pay, first["run_id"]).values()} == {"cancelled"}
    assert pay.get(f"/v1/payment-runs/{first['run_id']}/file").status_code == 409
    assert decide(pay, first["run_id"], "approved", personal_client(pay, "other")).status_code == 409
    with payments(runtime).session_factory() as s:
        assert position(s, "440300") == {"settled": 0, "open": 0, "payable": 150_000, "settled_outside": 0,
                                          "total": 150_000}
    trail_ = trail(pay, first["run_id"])
    assert trail_ == ["PaymentRunCreated", "PaymentRunRejected"]
    entitlements = pay.get("/v1/payment-runs", params={"region": "440300", "status": "rejected"}).json()
    assert [r["run_id"] for r in entitlements["items"]] == [first["run_id"]]

    second = propose(pay)
    assert (second["count"], second["total"]) == (2, "1500.00")
    approve(pay, second["run_id"])
    with payments(runtime).session_factory() as s:
        assert position(s, "440300")["open"] == 150_000
    # the rejected run paid nothing: the next run is compared with the run before it (none)
    assert pay.get(f"/v1/payment-runs/{second['run_id']}").json()["changes"]["previous_run_id"] != first["run_id"]


def test_the_changes_against_the_regions_previous_run(pay, runtime) -> None:  # noqa: ANN001
    for payee, fen in (("a", 100_000), ("b", 100_000), ("c", 100_000), ("d", 100_000)):
        add_line(runtime, f"jan-{payee}", fen, payee=f"employee:{payee}", period="2026-01")
    january = propose(pay, period="2026-01")
    assert pay.get(f"/v1/payment-runs/{january['run_id']}").json()["changes"]["previous_run_id"] is None
    approve(pay, january["run_id"])
    # February: a the same, b +30% exactly (not more), c +31%, d gone, e new, f -50%? f is new too
    for payee, fen in (("a", 100_000), ("b", 130_000), ("c", 131_000), ("e", 5_000)):
        add_line(runtime, f"feb-{payee}", fen, payee=f"employee:{payee}", period="2026-02")
    add_line(runtime, "other-region", 7_000, payee="employee:z", period="2026-02", region="510100")
    february = propose(pay, period="2026-02")
    changes = pay.get(f"/v1/payment-runs/{february['run_id']}").json()["changes"]
    assert changes["previous_run_id"] == january["run_id"] and changes["moved_percent"] == 30
    assert changes["new_payees"] == {"count": 1, "items": [{"payee": "employee:e", "amount": "50.00"}]}
    assert changes["payees_gone"] == {"count": 1, "items": [{"payee": "employee:d", "amount": "1000.00"}]}
    assert changes["moved"] == {"count": 1, "items": [
        {"payee": "employee:c", "previous": "1000.00", "amount": "1310.00", "change_percent": "+31.0"}]}
    # a drop counts as well
    approve(pay, february["run_id"])
    add_line(runtime, "mar-a", 60_000, payee="employee:a", period="2026-03")
    add_line(runtime, "mar-e", 5_000, payee="employee:e", period="2026-03")
    march = pay.get(f"/v1/payment-runs/{propose(pay)['run_id']}").json()["changes"]
    assert march["moved"]["items"] == [
        {"payee": "employee:a", "previous": "1000.00", "amount": "600.00", "change_percent": "-40.0"}]
    assert march["payees_gone"]["count"] == 2  # b and c


def test_two_approvals_racing_in_threads_exactly_one_wins(pay, runtime) -> None:  # noqa: ANN001
    for n in range(20):
        add_line(runtime, f"l{n}", 1_000 + n, payee=f"employee:{n % 4}")
    run_id = propose(pay)["run_id"]
    deciders = [personal_client(pay, "li"), personal_client(pay, "zhao")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def go(headers: dict, decision: str) -> None:
        barrier.wait()
        statuses.append(decide(pay, run_id, decision, headers).status_code)

    threads = [threading.Thread(target=go, args=(deciders[0], "approved")),
               threading.Thread(target=go, args=(deciders[1], "rejected"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]
    types = trail(pay, run_id)
    assert types[0] == "PaymentRunCreated" and len(types) == 2
    with payments(runtime).session_factory() as s:
        status = s.execute(select(payment_runs.c.status).where(payment_runs.c.run_id == run_id)).scalar_one()
        states = set(s.execute(select(payouts.c.status).where(payouts.c.run_id == run_id)).scalars())
    assert (status, states) in [("approved", {"open"}), ("rejected", {"cancelled"})]
    assert types[1] == {"approved": "PaymentRunApproved", "rejected": "PaymentRunRejected"}[status]


@pytest.mark.postgres
def test_two_decisions_racing_on_postgresql_exactly_one_wins(postgres) -> None:  # noqa: ANN001
    engine = make_engine(postgres.fresh_database(f"il_4eyes_{uuid.uuid4().hex[:8]}"))
    migrate(engine, "payments")
    _lines_ddl.create(engine, checkfirst=True)
    ctx = ServiceContext(name="payments", settings=Settings(), engine=engine, session_factory=session_factory(engine),
                         topics=Topics())
    from tests.payments.payouts.support import REGION

    maker = Principal("maker", "agency", person="maker")
    try:
        for round_ in range(5):  # several rounds: the clash must be settled every time, not by luck
            with engine.begin() as conn:
                conn.execute(_lines_ddl.insert(), [
                    {"line_id": f"pg-{round_}-{n}", "claim_id": "c", "employer_id": "e", "region": REGION, "kind": "k",
                     "family": "long_term", "period": "2026-01", "amount_fen": 1_000 + n, "payer": "fund",
                     "payee": f"employee:{round_}-{n}", "bank_code": "105584000005", "account_no": "6217000012345678",
                     "holder": "张三", "known_at": datetime.now(timezone.utc), "explain_json": "{}", "policy_ref_json": "{}",
                     "source_event_ids_json": "[]"}
                    for n in range(30)])
            run_id = create_run(ctx, maker, REGION, "2026-03", date(2026, 4, 1)).run_id
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def go(who: str, approve_: bool) -> None:
                barrier.wait()
                try:
                    decide_run(ctx, Principal(who, "agency", person=who), run_id, approve_, "")
                    outcomes.append("won")
                except Problem as exc:
                    outcomes.append(str(exc.status))
                except Exception as exc:  # noqa: BLE001 - a ConcurrencyConflict is the API's 409
                    outcomes.append(type(exc).__name__)

            threads = [threading.Thread(target=go, args=("li", True)), threading.Thread(target=go, args=("zhao", False))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert outcomes.count("won") == 1 and set(outcomes) - {"won"} <= {"409", "ConcurrencyConflict"}, outcomes
            with ctx.session_factory() as s:
                status = s.execute(select(payment_runs.c.status).where(payment_runs.c.run_id == run_id)).scalar_one()
                held = s.execute(select(func.count()).select_from(payout_lines)
                                 .where(payout_lines.c.run_id == run_id)).scalar_one()
            assert (held >= 30) == (status == "approved") and (held == 0) == (status == "rejected"), (status, held)
    finally:
        engine.dispose()
