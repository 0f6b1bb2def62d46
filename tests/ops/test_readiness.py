"""`GET /readyz`: ready when every database and the log answer and every projection is within
the lag limit, with each check and each lag in the body; a 503 problem naming what is not ready
otherwise. The gateway is ready only when every service is."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from libs.events.log import Record
from libs.runtime.embedded import EmbeddedRuntime
from libs.runtime.gateway import create_gateway
from libs.settings import SERVICE_NAMES, Settings
from tests.conftest import embedded_settings, fresh_data_dir
from tests.trust.test_personal_data import enroll

from .support import is_distributed


def consumer_groups(api, request) -> set[str]:  # noqa: ANN001
    if is_distributed(api):
        return set(api.cluster.groups)
    return {r.group for r in request.getfixturevalue("runtime").runners()}


@pytest.mark.both_runtimes
def test_ready_names_each_check_and_the_lag_of_each_projection(api, request) -> None:  # noqa: ANN001
    enroll(api)
    api.settle()
    r = api.get("/readyz", headers={"Authorization": ""})  # no token needed
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["ready"] is True and body["max_lag"] == 10_000
    groups = consumer_groups(api, request)
    assert {f"database:{s}" for s in SERVICE_NAMES} | {"log"} | {f"lag:{g}" for g in groups} <= set(body["checks"])
    assert set(body["checks"].values()) == {"ok"}
    assert {p["group"] for p in body["projections"]} == groups
    assert all(p["lag"] == 0 and p["service"] in SERVICE_NAMES for p in body["projections"])


@pytest.fixture
def strict_runtime(tmp_path: Path, migrated_data_dir: Path):  # noqa: ANN201
    """An embedded runtime that is ready only with every event projected (limit 0)."""
    settings = embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path / "data")).model_copy(update={"ready_max_lag": 0})
    rt = EmbeddedRuntime(settings)
    yield rt
    rt.close()


def test_not_ready_while_a_projection_is_behind_the_limit(strict_runtime: EmbeddedRuntime) -> None:
    rt = strict_runtime
    readers = sorted(r.group for r in rt.runners() if rt.topics.of("claims") in r.topics)
    assert readers
    with TestClient(rt.app()) as client:
        assert client.get("/readyz").status_code == 200
        # Two records in the claims topic that no consumer has read yet (no pump runs here).
        rt.log.publish([Record(rt.topics.of("claims"), b"k", b"not an envelope")] * 2)
        r = client.get("/readyz")
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert (body["status"], body["title"], body["ready"], body["max_lag"]) == (503, "Not ready", False, 0)
        behind = {name.removeprefix("lag:") for name, why in body["checks"].items() if why != "ok"}
        assert behind == set(readers)
        assert all(body["checks"][f"lag:{g}"] == "2 events behind (limit 0)" for g in readers)
        assert {p["group"]: p["lag"] for p in body["projections"] if p["lag"]} == {g: 2 for g in readers}
        assert readers[0] in body["detail"]

        rt.pump()  # read (and dead-letter: they are not envelopes), so nothing is behind any more
        r = client.get("/readyz")
        assert r.status_code == 200, r.text
        assert all(p["lag"] == 0 for p in r.json()["projections"])


def test_gateway_is_not_ready_when_a_service_does_not_answer() -> None:
    nowhere = {f"{s}_url": "http://127.0.0.1:1" for s in SERVICE_NAMES}  # nothing listens on port 1
    with TestClient(create_gateway(Settings(**nowhere))) as client:
        r = client.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["ready"] is False and body["status"] == 503
    assert {name: why.startswith("unreachable") for name, why in body["checks"].items()} == \
        {f"service:{s}": True for s in SERVICE_NAMES}
