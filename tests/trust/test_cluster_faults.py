"""Faults on the distributed runtime itself: the services as processes over real PostgreSQL
and Kafka, the gateway in front — what an agency system would see."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import text

from libs.identifiers import make_uscc
from tests.conftest import AGENCY_TOKEN
from tests.four_eyes import approve, checker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
HEADERS = {"Authorization": f"Bearer {AGENCY_TOKEN}"}


def employer_body() -> dict:
    return {"uscc": make_uscc(f"91440300{uuid.uuid4().int % 10**8:08d}"), "name": "Fault Tolerant Ltd",
            "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-01-01"}


RETRY_BUDGET_S = 60


def honouring_retry_after(send: Callable[[], httpx.Response]) -> httpx.Response:
    """What an API client does with a 503 that says when to come back (API.md, Conventions):
    waits that long and sends again, for at most RETRY_BUDGET_S."""
    deadline = time.monotonic() + RETRY_BUDGET_S
    while True:
        response = send()
        if response.status_code != 503 or "Retry-After" not in response.headers or time.monotonic() > deadline:
            return response
        time.sleep(int(response.headers["Retry-After"]))


def count(cluster, service: str, sql: str) -> int:  # noqa: ANN001
    with cluster.engines[service].connect() as conn:
        return conn.execute(text(sql)).scalar_one()


@pytest.mark.restarts_shared_server
def test_postgres_restarted_while_commands_are_in_flight(cluster, postgres, fault_figures) -> None:  # noqa: ANN001
    statuses: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=cluster.gateway, headers=HEADERS, timeout=30) as http:
            while not stop.is_set() and len(statuses) < 400:
                statuses.append(http.post("/v1/employers", json=employer_body()).status_code)

    before = count(cluster, "enrollment", "select count(*) from events where type = 'EmployerEnrolled'")
    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    postgres.restart()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    # It resumes by itself: the next command succeeds without anyone restarting a service.
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=cluster.gateway, headers=HEADERS, timeout=30) as http:
        while (answer := http.post("/v1/employers", json=employer_body())).status_code != 201:
            assert time.monotonic() < deadline, f"no recovery: {answer.status_code} {answer.text[:500]}"
            time.sleep(0.5)
    statuses.append(answer.status_code)
    assert set(statuses) <= {201, 503}, sorted(set(statuses))  # an outage is a 503 problem, never a 500
    created = statuses.count(201)
    enrolled = count(cluster, "enrollment", "select count(*) from events where type = 'EmployerEnrolled'") - before
    rows = count(cluster, "enrollment", "select count(*) from employers")
    events_total = count(cluster, "enrollment", "select count(*) from events where type = 'EmployerEnrolled'")
    # Nothing half-written: each employer row has its event (a commit whose answer was lost to
    # the outage may exist without a 201, never the other way round).
    assert created <= enrolled <= created + statuses.count(503)
    assert rows == events_total
    cluster.settle()
    projected = count(cluster, "levy", "select count(*) from levy_employers")
    fault_figures("postgres restarted under load", requests=len(statuses), created=created,
                  unavailable=statuses.count(503), events=events_total, projected_in_levy=projected,
                  imbalance=events_total - projected)
    assert projected == events_total  # events in = events projected


def test_payments_killed_during_a_payment_run_pays_nothing_twice_and_loses_nothing(cluster, fault_figures) -> None:  # noqa: ANN001
    from sqlalchemy import inspect

    from tests.payments.payouts.support import _lines_ddl

    engine = cluster.engines["payments"]
    if not inspect(engine).has_table("entitlement_lines"):  # until the entitlements migration creates it
        _lines_ddl.create(engine)
    region, n_lines = f"45{uuid.uuid4().int % 10**4:04d}", 60_000  # big enough that the kill lands mid-run
    rows = [{"line_id": f"fault-{region}-{i}", "claim_id": f"c-{i}", "employer_id": "e-1", "region": region,
             "kind": "disability_allowance", "family": "long_term", "period": "2026-05", "period_start": None,
             "period_end": None, "amount_fen": 100_00 + i, "payer": "fund", "payee": f"employee:fault-{region}-{i}",
             "bank_code": "102584000001", "account_no": f"6222{i:012d}", "holder": "张三", "adjusts": None,
             "reason": None, "known_at": datetime.now(timezone.utc), "explain_json": "{}", "policy_ref_json": "{}",
             "source_event_ids_json": "[]"} for i in range(n_lines)]
    with engine.begin() as conn:
        conn.execute(_lines_ddl.insert(), rows)
    expected_fen = sum(r["amount_fen"] for r in rows)

    outcome: dict = {}

    def run() -> None:
        try:
            with httpx.Client(base_url=cluster.gateway, headers=HEADERS, timeout=120) as http:
                outcome["first"] = http.post("/v1/payment-runs", json={"region": region, "period": "2026-06"}).status_code
        except httpx.HTTPError as exc:
            outcome["first"] = repr(exc)

    with httpx.Client(base_url=cluster.gateway, headers=HEADERS, timeout=120) as http:
        checker(http)  # the second person's client exists before the fault, known to every service
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        cluster.cluster.kill("payments")  # SIGKILL in the middle of the run
        thread.join()
        cluster.cluster.restart("payments")
        # Until the killed process's consumers leave their groups (the broker's session timeout),
        # a read that must include this client's writes is a 503 with Retry-After; a client retries.
        second = honouring_retry_after(lambda: http.post("/v1/payment-runs", json={"region": region, "period": "2026-06"}))
        assert second.status_code == 201, second.text
        listed = honouring_retry_after(lambda: http.get("/v1/payment-runs", params={"region": region, "status": "proposed"}))
        assert listed.status_code == 200, listed.text
        for run_ in listed.json()["items"]:  # four eyes: released by a second person (the first run, if it committed)
            approve(http, run_["run_id"])
    with engine.connect() as conn:
        paid = conn.execute(text(
            "select count(*), count(distinct pl.line_id), coalesce(sum(l.amount_fen), 0) from payout_lines pl "
            "join entitlement_lines l on l.line_id = pl.line_id where l.region = :r"), {"r": region}).one()
        payouts = conn.execute(text(
            "select count(*), coalesce(sum(p.amount_fen), 0) from payouts p join payment_runs r on r.run_id = p.run_id "
            "where r.region = :r"), {"r": region}).one()
        approved = conn.execute(text(
            "select count(*) from payouts p join payment_runs r on r.run_id = p.run_id "
            "where r.region = :r and r.status = 'approved' and p.status = 'open'"), {"r": region}).scalar_one()
    fault_figures("payments killed during a payment run", lines=n_lines, first_run=str(outcome.get("first")),
                  lines_paid=paid[0], paid_twice=paid[0] - paid[1], payouts=payouts[0],
                  imbalance_fen=expected_fen - payouts[1])
    assert paid[0] == paid[1] == n_lines  # every line in exactly one payout
    assert payouts[1] == paid[2] == expected_fen  # the run totals balance with the lines
    assert payouts[0] == n_lines  # one payout per payee and account
    assert approved == n_lines  # the approved run holds them all: the killed run left nothing behind
