"""Read your writes (API.md, Conventions), the same on both runtimes: every write answers with a
consistency token; a request carrying one is served from state that includes the write or gets a
503 with Retry-After; a token issued by POST /v1/clients works on every service at once; a fresh
deployment has the national default policy from its own start."""
from __future__ import annotations

from datetime import date

import httpx
import pytest

from libs.policy import load_national_default
from libs.runtime import consistency

pytestmark = pytest.mark.both_runtimes
HEADER = consistency.HEADER


def ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def test_a_fresh_deployment_has_the_national_default_and_a_region_starts_from_it(api, unique) -> None:  # noqa: ANN001
    national = ok(api.get("/v1/policies/000000"))
    assert national["region"] == "000000" and national["version"] == 1
    assert national["average_monthly_wage"] == load_national_default().model_dump(mode="json")["average_monthly_wage"]
    # A region's first policy: fetched from the default, one field changed, published.
    national["average_monthly_wage"] = "9100.00"
    published = ok(api.put(f"/v1/policies/{unique.region}/2025-01-01", json=national), 201)
    assert (published["region"], published["version"], published["average_monthly_wage"]) == (
        unique.region, 1, "9100.00")
    # Every service sees it at once: the employer's rate is classified by it (enrollment), and
    # the levy service's projection is asked through a command of its own.
    employer = ok(api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "Pearl River Printing",
                                                  "industry_code": "C2311", "region": unique.region,
                                                  "enrolled_on": "2025-02-01"}), 201)
    assert employer["policy_ref"] == {"region": unique.region, "effective_from": "2025-01-01", "version": 1}
    worker = unique.id_number(date(1990, 1, 1))
    ok(api.post(f"/v1/employers/{employer['employer_id']}/employees",
                json={"id_number": worker, "name": "Zhou", "hired_on": "2025-02-01"}), 201)
    report = ok(api.post("/v1/wage-reports", json={"employer_id": employer["employer_id"], "period": "2025-02",
                                                   "lines": [{"id_number": worker, "wage": "9100.00"}]}), 201)
    assert report["payroll"] == "9100.00"


def test_every_write_answers_with_the_positions_it_produced(api, unique) -> None:  # noqa: ANN001
    doc = load_national_default().model_dump(mode="json")
    first = api.put(f"/v1/policies/{unique.region}/2025-01-01", json=doc)
    assert first.status_code == 201, first.text
    written = consistency.decode(first.headers[HEADER])
    # One PolicyPublished on the enrollment topic: one position, at an offset ≥ 0.
    assert len(written) == 1
    ((topic, partition), offset), = written.items()
    assert topic.endswith("enrollment") and partition >= 0 and offset >= 0

    # A later write lands later in the log (on the same aggregate, so the same partition).
    doc["average_monthly_wage"] = "9200.00"
    second = api.put(f"/v1/policies/{unique.region}/2025-06-01", json=doc)
    assert consistency.decode(second.headers[HEADER])[(topic, partition)] > offset

    # Carried back, on any route of any service, the token is honoured.
    token = second.headers[HEADER]
    assert ok(api.get(f"/v1/policies/{unique.region}", params={"on": "2025-07-01"},
                      headers={HEADER: token}))["average_monthly_wage"] == "9200.00"
    assert api.get("/v1/claims", headers={HEADER: token}).status_code == 200
    assert api.get("/v1/clients", headers={HEADER: token}).status_code == 200


def test_a_bad_token_is_a_422_naming_the_header_and_a_future_one_a_503(api, unique) -> None:  # noqa: ANN001
    r = api.get("/v1/policies/000000", headers={HEADER: "c1.not-base64!"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == HEADER, r.text
    r = api.get("/v1/policies/000000", headers={HEADER: "x" * (consistency.MAX_TOKEN_CHARS + 1)})
    assert r.status_code == 422, r.text
    # A position the log has not reached: never a stale answer, a 503 that says to retry.
    written = api.put(f"/v1/policies/{unique.region}/2025-01-01", json=ok(api.get("/v1/policies/000000")))
    (topic, partition), = consistency.decode(written.headers[HEADER])
    future = consistency.encode({(topic, partition): 10**12})
    r = api.get("/v1/policies/000000", headers={HEADER: future})
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_token_issued_by_post_clients_works_everywhere_at_once(api, unique) -> None:  # noqa: ANN001
    issued = ok(api.post("/v1/clients", json={"name": "claims desk", "role": "agency"}), 201)
    as_new = {"Authorization": f"Bearer {issued['token']}"}
    # The very next requests, each to another service.
    assert api.get("/v1/claims", headers=as_new).status_code == 200
    assert api.get("/v1/employers", params={"region": unique.region}, headers=as_new).status_code == 200
    assert api.get(f"/v1/funds/{unique.region}/statement", params={"from": "2025-01-01", "to": "2025-01-31"},
                   headers=as_new).status_code == 200
    assert api.get("/v1/clients", headers=as_new).status_code == 200


def test_a_service_asked_directly_waits_for_the_write(api, unique, runtime_kind) -> None:  # noqa: ANN001
    """Without the gateway: the token the enrollment of an employer answered makes the levy service
    (on the distributed runtime, its own process) answer from state that includes the employer."""
    r = api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "Pearl River Bakery", "industry_code": "C1411",
                                        "region": unique.region, "enrolled_on": "2025-03-01"})
    assert r.status_code == 201, r.text
    employer_id, token = r.json()["employer_id"], r.headers[HEADER]
    base = api.cluster.cluster.url("levy") if runtime_kind == "distributed" else None
    direct = httpx.Client(base_url=base, headers={"Authorization": api.headers["Authorization"]}) if base else api
    with direct:
        account = direct.get(f"/v1/employers/{employer_id}/account", params={"on": "2025-03-31"},
                             headers={HEADER: token})
    assert account.status_code == 200, account.text
    assert account.json()["employer_id"] == employer_id


def test_a_revoked_token_is_refused_on_every_service_at_once(api, unique) -> None:  # noqa: ANN001
    issued = ok(api.post("/v1/clients", json={"name": "leaked desk", "role": "agency"}), 201)
    as_it = {"Authorization": f"Bearer {issued['token']}"}
    routes = ["/v1/claims", f"/v1/employers?region={unique.region}", "/v1/clients",
              f"/v1/funds/{unique.region}/statement?from=2025-01-01&to=2025-01-31"]
    assert [api.get(r, headers=as_it).status_code for r in routes] == [200] * len(routes)
    ok(api.post(f"/v1/clients/{issued['client_id']}/revocation", json={"reason": "the key leaked"}))
    # The very next requests, with no header of its own: refused everywhere.
    assert [api.get(r, headers=as_it).status_code for r in routes] == [401] * len(routes)
