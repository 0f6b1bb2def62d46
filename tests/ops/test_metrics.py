"""`GET /metrics`: Prometheus text that parses, request latency by route *template*, no personal
data anywhere in it, and gauges read from the databases and the log that match their rows — on
the embedded runtime and on every process of the distributed one."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from libs.events.tables import dead_letters, events
from tests.trust.test_personal_data import enroll

from .support import databases, is_distributed, samples, scrape

pytestmark = pytest.mark.both_runtimes

LATENCY = "injuryledger_http_request_duration_seconds_count"
EMPLOYEE = "/v1/employers/{employer_id}/employees/{employee_id}"


def counted(text: str) -> dict[tuple[str, str, str], float]:
    return {(labels["route"], labels["method"], labels["status"]): value
            for name, labels, value in samples(text) if name == LATENCY}


def test_request_latency_is_labelled_by_route_template_and_carries_no_personal_data(api) -> None:  # noqa: ANN001
    employer_id, people = enroll(api)
    (employee_id, id_number, account_no), (other_employee, other_id, other_account) = people
    assert api.get(f"/v1/employers/{employer_id}/employees/{employee_id}").status_code == 200
    assert api.get(f"/v1/employers/{employer_id}/employees/{account_no}").status_code == 404
    assert api.get(f"/v1/claims/{id_number}").status_code == 404
    assert api.get(f"/v1/employers/{id_number}").status_code == 404
    assert api.get("/v1/claims", params={"employee_id": other_id}).status_code == 200
    assert api.get(f"/v1/no-such-route/{id_number}").status_code == 404

    texts = scrape(api)
    whole = "\n".join(texts.values())
    for secret in (id_number, other_id, account_no, other_account, "工人0", "工人1", "深圳隐私测试有限公司",
                   employee_id, other_employee, employer_id):
        assert secret not in whole, f"{secret[:6]}… appears in /metrics"

    enrollment = counted(texts["enrollment" if is_distributed(api) else "embedded"])
    claims = counted(texts["claims" if is_distributed(api) else "embedded"])
    assert enrollment[(EMPLOYEE, "GET", "200")] >= 1
    assert enrollment[(EMPLOYEE, "GET", "404")] >= 1
    assert enrollment[("/v1/employers/{employer_id}", "GET", "404")] >= 1
    assert claims[("/v1/claims/{claim_id}", "GET", "404")] >= 1
    front = counted(texts["gateway" if is_distributed(api) else "embedded"])  # where a client's request lands
    assert front[("unmatched", "GET", "404")] >= 1
    if is_distributed(api):  # the gateway counts its own requests, by the route it forwarded them on
        gateway = counted(texts["gateway"])
        assert gateway[("/v1/claims*", "GET", "404")] >= 1
        assert gateway[("/v1/employers*", "GET", "200")] >= 1


def test_outbox_lag_and_dead_letter_gauges_match_the_databases(api, request) -> None:  # noqa: ANN001
    enroll(api)
    api.settle()
    texts = scrape(api)
    for service, engine in databases(api, request).items():
        text = texts[service] if is_distributed(api) else texts["embedded"]
        found = samples(text)
        with engine.connect() as conn:
            unsent = conn.execute(select(func.count()).select_from(events).where(events.c.sent_at.is_(None))).scalar_one()
            dead = dict(conn.execute(select(dead_letters.c.consumer, func.count())
                                     .where(dead_letters.c.redriven_at.is_(None))
                                     .group_by(dead_letters.c.consumer)).all())
        assert [v for n, labels, v in found if n == "injuryledger_outbox_backlog" and labels["service"] == service] \
            == [unsent]
        groups = {labels["group"]: v for n, labels, v in found if n == "injuryledger_dead_letters"
                  and f".{service}." in labels["group"]}
        assert groups, f"no dead-letter gauge for the groups of {service}"
        assert groups == {g: dead.get(g, 0) for g in groups} and set(dead) <= set(groups)
        lags = [v for n, labels, v in found if n == "injuryledger_consumer_lag" and f".{service}." in labels["group"]]
        assert lags and all(v == 0 for v in lags)  # settled: every group has read its topics to the end
