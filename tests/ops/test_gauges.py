"""The gauges /metrics reads at scrape time (outbox backlog, consumer lag, dead letters) show
what the databases and the log hold at that moment, and payment runs are counted as they are
created — on an embedded runtime the test drives by hand."""
from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from libs.events.log import Record
from libs.events.tables import dead_letters, events
from libs.runtime.embedded import EmbeddedRuntime
from tests.payments.payouts.support import add_line, publish_policy

from .support import samples


def gauges(text: str, name: str, key: str) -> dict[str, float]:
    return {labels[key]: v for n, labels, v in samples(text) if n == name}


def test_lag_dead_letters_and_backlog_are_read_when_scraped(runtime: EmbeddedRuntime) -> None:
    topic = runtime.topics.of("claims")
    readers = [r for r in runtime.runners() if topic in r.topics]
    with TestClient(runtime.app()) as client:
        runtime.log.publish([Record(topic, b"k", b"not an envelope")] * 3)
        text = client.get("/metrics").text
        lag = {(labels["group"], labels["topic"]): v for n, labels, v in samples(text) if n == "injuryledger_consumer_lag"}
        for r in readers:
            assert lag[(r.group, topic)] == 3 == runtime.log.lag(r.group, [topic])[(topic, 0)]
        assert gauges(text, "injuryledger_log_end_offset", "topic")[topic] == runtime.log.log_end([topic])[(topic, 0)]

        runtime.pump()  # each reader dead-letters the three records
        # One event of the enrollment service made unsent again: a backlog of one.
        enrollment = runtime.services["enrollment"].ctx
        with enrollment.session_factory() as s, s.begin():
            s.execute(update(events).where(events.c.position == select(func.min(events.c.position)).scalar_subquery())
                      .values(sent_at=None))
        text = client.get("/metrics").text

    dead = gauges(text, "injuryledger_dead_letters", "group")
    for r in readers:
        with runtime.services[r.group.split(".")[1]].ctx.session_factory() as s:
            rows = s.execute(select(func.count()).select_from(dead_letters).where(dead_letters.c.consumer == r.group)).scalar_one()
        assert dead[r.group] == rows == 3
    assert sum(dead.values()) == 3 * len(readers)
    backlog = gauges(text, "injuryledger_outbox_backlog", "service")
    assert backlog == {"enrollment": 1, "levy": 0, "claims": 0, "payments": 0}
    assert all(v == 0 for n, _, v in samples(text) if n == "injuryledger_consumer_lag")


def test_payment_runs_are_counted_with_their_payouts_and_amount(api, runtime: EmbeddedRuntime) -> None:  # noqa: ANN001
    publish_policy(api)
    add_line(runtime, "l1", 300_000, payee="employee:a", period="2026-03")
    add_line(runtime, "l2", 123_456, payee="employee:b", period="2026-03", account_no="6217000099999999")
    created = api.post("/v1/payment-runs", json={"region": "440300", "period": "2026-03",
                                                 "execution_date": "2026-04-01"})
    assert created.status_code == 201, created.text
    again = api.post("/v1/payment-runs", json={"region": "440300", "period": "2026-03",
                                               "execution_date": "2026-04-01"})
    assert again.status_code == 201 and again.json()["count"] == 0
    found = {n: v for n, labels, v in samples(api.get("/metrics").text) if not labels or set(labels) == {"le"}}
    assert created.json()["count"] == 2 and created.json()["total"] == "4234.56"
    assert found["injuryledger_payment_runs_total"] == 2
    assert found["injuryledger_payment_run_payouts_total"] == 2
    assert Decimal(str(found["injuryledger_payment_run_amount_yuan_total"])) == Decimal("4234.56")
    assert found["injuryledger_payment_run_duration_seconds_count"] == 2
    assert found["injuryledger_payment_run_duration_seconds_sum"] > 0
