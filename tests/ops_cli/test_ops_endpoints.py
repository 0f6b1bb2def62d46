"""The operator's endpoints on both runtimes: a dead letter redriven after the fix takes effect
once; a projection replayed into fresh tables swaps in with the same state while every read
answers, complete, throughout; enrollment's read models rebuilt from its events."""
from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy.orm import Session

from services.enrollment.read_models import read_models_hash
from tests.conftest import AGENCY_TOKEN

from .conftest import broken, count, enroll_employer, event_id_of

pytestmark = pytest.mark.both_runtimes
REGION = "110105"  # a region no other test publishes policies for


def open_letter_of(api, event_id: str) -> dict:  # noqa: ANN001
    items = api.get("/v1/ops/dead-letters", params={"service": "levy", "state": "all"}).json()["items"]
    (letter,) = [i for i in items if i["event_id"] == event_id]
    return letter


def test_a_dead_letter_is_listed_shown_and_redriven_once_after_the_fix(api, engine_of) -> None:  # noqa: ANN001
    levy = engine_of("levy")
    with broken(levy, "levy_employers"):
        employer_id = enroll_employer(api, "Dead Letter Ltd")
        event_id = event_id_of(api, employer_id, "EmployerEnrolled")
        letter = open_letter_of(api, event_id)
        assert letter["projection"] == "enrollment" and letter["redriven_at"] is None
        assert "projection broken by the test" in letter["error"]

        shown = api.get(f"/v1/ops/dead-letters/levy/{letter['id']}").json()
        assert shown["event"]["type"] == "EmployerEnrolled" and shown["event_source"] == "log"
        assert shown["event"]["payload"]["employer_id"] == employer_id

        refused = api.post(f"/v1/ops/dead-letters/levy/{letter['id']}/redrive")
        assert refused.status_code == 409 and "still fails" in refused.json()["detail"]
    # the fix is in (the trigger is gone)
    assert count(levy, "select count(*) from levy_employers where employer_id = :e", e=employer_id) == 0
    first = api.post(f"/v1/ops/dead-letters/levy/{letter['id']}/redrive")
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "applied" and first.json()["redriven_at"]
    again = api.post(f"/v1/ops/dead-letters/levy/{letter['id']}/redrive")
    assert again.status_code == 200 and again.json()["outcome"] == "already redriven"

    assert count(levy, "select count(*) from levy_employers where employer_id = :e", e=employer_id) == 1
    assert count(levy, "select count(*) from processed_events where consumer = :g and event_id = :e "
                       "and outcome = 'applied'", g=letter["consumer"], e=event_id) == 1
    assert open_letter_of(api, event_id)["redriven_at"] is not None
    assert event_id not in [i["event_id"] for i in api.get("/v1/ops/dead-letters").json()["items"]]


def test_unknown_dead_letters_and_replays_are_problems(api) -> None:  # noqa: ANN001
    assert api.get("/v1/ops/dead-letters/levy/999999999").status_code == 404
    assert api.post("/v1/ops/dead-letters/claims/999999999/redrive").status_code == 404
    assert api.get("/v1/ops/dead-letters/nobody/1").status_code in (404, 422)
    assert api.get("/v1/ops/replays/levy.000000000000").status_code == 404
    unknown = api.post("/v1/ops/replays", json={"service": "claims", "projection": "nothing-of-that-name"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "projection"
    shared = api.post("/v1/ops/replays", json={"service": "payments", "projection": "entitlements"})
    assert shared.status_code == 409 and "does not declare tables" in shared.json()["detail"]
    assert api.post("/v1/ops/replays", json={"service": "nowhere", "projection": "x"}).status_code == 422


def publish(api, effective_from: str, wage: str) -> None:  # noqa: ANN001
    national = api.get("/v1/policies/000000", params={"on": "2025-01-01"}).json()
    response = api.put(f"/v1/policies/{REGION}/{effective_from}", json={**national, "average_monthly_wage": wage})
    assert response.status_code in (200, 201), response.text


def wait_for(api, replay_id: str, states: tuple[str, ...]) -> dict:  # noqa: ANN001
    """Follow the replay (asynchronous by contract: its progress is a resource) to one of `states`."""
    for _ in range(6000):
        doc = api.get(f"/v1/ops/replays/{replay_id}").json()
        if doc["state"] in states or doc["state"] == "failed":
            return doc
        threading.Event().wait(0.05)
    raise AssertionError(f"replay {replay_id} stayed {doc['state']}")


def test_a_replay_rebuilds_into_fresh_tables_while_every_read_answers(api, server_url) -> None:  # noqa: ANN001
    publish(api, "2024-01-01", "9100.00")
    publish(api, "2024-07-01", "9700.00")
    expected = {"2024-03-01": "9100.00", "2024-09-01": "9700.00"}
    reads: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=server_url, headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}, timeout=30) as c:
            while not stop.is_set():
                for on, wage in expected.items():
                    r = c.get(f"/v1/policies/{REGION}", params={"on": on})
                    reads.append((r.status_code, r.json().get("average_monthly_wage") == wage and r.json()["region"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        started = api.post("/v1/ops/replays",
                           json={"service": "enrollment", "projection": "policies", "hold": True, "batch": 1})
        assert started.status_code == 202, started.text
        replay_id = started.json()["id"]
        assert started.headers["location"] == f"/v1/ops/replays/{replay_id}"
        assert api.post("/v1/ops/replays", json={"service": "enrollment", "projection": "policies"}).status_code == 409

        ready = wait_for(api, replay_id, ("ready",))
        assert ready["state"] == "ready", ready["error"]
        assert ready["shadow_state_hash"] == ready["state_hash_before"]
        assert ready["applied"] == ready["total"] > 0
        # Rebuilt, not swapped yet: the old tables serve every read, complete.
        for on, wage in expected.items():
            r = api.get(f"/v1/policies/{REGION}", params={"on": on})
            assert r.status_code == 200 and r.json()["average_monthly_wage"] == wage
        assert api.post(f"/v1/ops/replays/{replay_id}/swap").status_code == 202
        done = wait_for(api, replay_id, ("done",))
    finally:
        stop.set()
        thread.join(30)
    assert done["state"] == "done", done["error"]
    assert done["state_hash"] == done["state_hash_before"] == done["shadow_state_hash"]
    assert reads and all(status == 200 and region == REGION for status, region in reads), \
        [r for r in reads if r != (200, REGION)][:5]
    for on, wage in expected.items():
        assert api.get(f"/v1/policies/{REGION}", params={"on": on}).json()["average_monthly_wage"] == wage
    assert replay_id in [r["id"] for r in api.get("/v1/ops/replays").json()["items"]]
    # The live group goes on after the swap: a new version is projected, once.
    publish(api, "2025-01-01", "9900.00")
    assert api.get(f"/v1/policies/{REGION}", params={"on": "2025-02-01"}).json()["average_monthly_wage"] == "9900.00"


def test_enrollment_read_models_rebuilt_from_the_events(api, engine_of) -> None:  # noqa: ANN001
    enroll_employer(api, "Rebuilt Ltd")
    with Session(bind=engine_of("enrollment")) as session:
        before = read_models_hash(session)
    response = api.post("/v1/ops/rebuild-read-models")
    assert response.status_code == 200, response.text
    assert response.json()["aggregates"] >= 1 and response.json()["state_hash"] == before
    assert api.get("/v1/employers", params={"region": "440300"}).status_code == 200
