"""Faults on the distributed runtime itself: the services as processes over real PostgreSQL
and Kafka, the gateway in front — what an agency system would see."""
from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import text

from libs.identifiers import make_uscc
from tests.conftest import AGENCY_TOKEN

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
HEADERS = {"Authorization": f"Bearer {AGENCY_TOKEN}"}


def employer_body() -> dict:
    return {"uscc": make_uscc(f"91440300{uuid.uuid4().int % 10**8:08d}"), "name": "Fault Tolerant Ltd",
            "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-01-01"}


def count(cluster, service: str, sql: str) -> int:  # noqa: ANN001
    with cluster.engines[service].connect() as conn:
        return conn.execute(text(sql)).scalar_one()


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
        while (status := http.post("/v1/employers", json=employer_body()).status_code) != 201:
            assert time.monotonic() < deadline, f"no recovery: {status}"
            time.sleep(0.5)
    statuses.append(status)
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
