"""`GET /v1/ops/status` (agency only): per service, its log position, each projection's lag
(by partition) and dead letters, the outbox backlog — the same shape on both runtimes (the
gateway asks every service and concatenates), and figures that match the databases."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from libs.events.tables import dead_letters, events
from libs.settings import SERVICE_NAMES
from tests.trust.test_personal_data import enroll

from .support import databases, is_distributed

pytestmark = pytest.mark.both_runtimes

SERVICE_KEYS = {"service", "log_position", "outbox_backlog", "projections", "dead_letters"}
PROJECTION_KEYS = {"group", "lag", "lag_by_partition", "dead_letters"}


def test_status_names_every_service_with_figures_from_its_database(api, request) -> None:  # noqa: ANN001
    enroll(api)
    api.settle()
    r = api.get("/v1/ops/status")
    assert r.status_code == 200, r.text
    services = r.json()["services"]
    assert [s["service"] for s in services] == list(SERVICE_NAMES)
    prefix = api.cluster.prefix if is_distributed(api) else "injuryledger."
    dbs = databases(api, request)
    for s in services:
        assert set(s) == SERVICE_KEYS
        name = s["service"]
        with dbs[name].connect() as conn:
            unsent = conn.execute(select(func.count()).select_from(events).where(events.c.sent_at.is_(None))).scalar_one()
            # the letters still waiting: one redriven by an earlier test on the same cluster is done
            dead = conn.execute(select(func.count()).select_from(dead_letters)
                                .where(dead_letters.c.redriven_at.is_(None))).scalar_one()
            written = conn.execute(select(func.count()).select_from(events)).scalar_one()
        assert list(s["log_position"]) == [prefix + name]
        published = sum(s["log_position"][prefix + name].values())
        # Every event a service wrote is in its topic (at least once: a relay may resend after a crash).
        assert published == written if not is_distributed(api) else published >= written
        assert s["outbox_backlog"] == unsent == 0
        assert s["dead_letters"] == dead == sum(p["dead_letters"] for p in s["projections"])
        assert s["projections"], name
        for p in s["projections"]:
            assert set(p) == PROJECTION_KEYS and p["group"].startswith(f"{prefix}{name}.")
            assert p["lag"] == sum(p["lag_by_partition"].values()) == 0
            assert all(k.startswith(prefix) and k.rsplit("/", 1)[1].isdigit() for k in p["lag_by_partition"])


def test_status_is_for_the_agency_only(api) -> None:  # noqa: ANN001
    r = api.post("/v1/clients", json={"name": "H", "role": "hospital", "hospital_id": "H-ops"})
    assert r.status_code == 201, r.text
    assert api.get("/v1/ops/status", headers={"Authorization": f"Bearer {r.json()['token']}"}).status_code == 403
    assert api.get("/v1/ops/status", headers={"Authorization": ""}).status_code == 401
