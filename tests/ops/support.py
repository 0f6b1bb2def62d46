"""What the ops tests need of either runtime: every process's /metrics text, and each service's
database, so a figure the system reports can be checked against the rows it counts."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from libs.settings import SERVICE_NAMES


def is_distributed(api) -> bool:  # noqa: ANN001
    return hasattr(api, "cluster")


def scrape(api) -> dict[str, str]:  # noqa: ANN001
    """The /metrics text of every process of the system: the embedded one, or the gateway and
    each service (which the gateway does not proxy: each process exposes its own)."""
    if not is_distributed(api):
        return {"embedded": _text(api.get("/metrics"))}
    texts = {"gateway": _text(api.get("/metrics"))}
    for name in SERVICE_NAMES:
        texts[name] = _text(httpx.get(api.cluster.cluster.url(name) + "/metrics", timeout=30))
    return texts


def _text(response) -> str:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of a Prometheus text (parsing it is the test that it is well formed)."""
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def databases(api, request) -> dict[str, Engine]:  # noqa: ANN001
    if is_distributed(api):
        return dict(api.cluster.engines)
    runtime = request.getfixturevalue("runtime")
    return {name: wired.ctx.engine for name, wired in runtime.services.items()}
