"""The system as an operator meets it: a real HTTP server (the embedded runtime under uvicorn on
a free port, or the distributed cluster's gateway), each service's database, and a way to break
a projection until "the fix" (a trigger that refuses its inserts, then dropped)."""
from __future__ import annotations

import socket
import threading
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest
import uvicorn
from sqlalchemy import Engine, text

from libs.identifiers import make_uscc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_url(request, runtime_kind: str) -> Iterator[str]:  # noqa: ANN001
    """The base URL an operator's command talks to, on the runtime the test runs on."""
    if runtime_kind == "distributed":
        yield request.getfixturevalue("cluster").gateway
        return
    app = request.getfixturevalue("runtime").app()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # the server's own start-up, not the system under test
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        thread.join(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def engine_of(request, runtime_kind: str):  # noqa: ANN001, ANN201
    """A service's database engine, on the runtime the test runs on."""
    if runtime_kind == "distributed":
        cluster = request.getfixturevalue("cluster")
        return lambda service: cluster.engines[service]
    runtime = request.getfixturevalue("runtime")
    return lambda service: runtime.services[service].ctx.engine


@contextmanager
def broken(engine: Engine, table: str) -> Iterator[None]:
    """Every insert into `table` fails until the block ends (the fix)."""
    name = f"ops_test_broken_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                              f"RAISE EXCEPTION 'projection broken by the test'; END $$ LANGUAGE plpgsql"))
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"))
        else:
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                              f"BEGIN SELECT RAISE(ABORT, 'projection broken by the test'); END"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER {name}" + (f" ON {table}" if conn.dialect.name == "postgresql" else "")))
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"DROP FUNCTION {name}()"))


def enroll_employer(api, name: str = "Ops Test Ltd") -> str:  # noqa: ANN001
    body = {"uscc": make_uscc(f"91440300{uuid.uuid4().int % 10**8:08d}"), "name": name,
            "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-01-01"}
    response = api.post("/v1/employers", json=body)
    assert response.status_code == 201, response.text
    return response.json()["employer_id"]


def event_id_of(api, aggregate_id: str, event_type: str) -> str:  # noqa: ANN001
    items = api.get("/v1/events", params={"aggregate_id": aggregate_id}).json()["items"]
    return next(e["event_id"] for e in items if e["type"] == event_type)


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()
