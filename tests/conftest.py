"""Shared fixtures. `api` runs a test on the embedded runtime and, where marked, on the
distributed one (real PostgreSQL, real Kafka, services as their own processes)."""
from __future__ import annotations

import itertools
import os
import random
import shutil
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from libs.runtime.embedded import EmbeddedRuntime
from libs.settings import Settings

AGENCY_TOKEN = "test-agency-token"


def embedded_settings(data_dir: Path) -> Settings:
    os.environ["INJURYLEDGER_AGENCY_TOKEN"] = AGENCY_TOKEN
    return Settings(data_dir=data_dir, agency_token=AGENCY_TOKEN, log_json=False)


@pytest.fixture(scope="session")
def migrated_data_dir(tmp_path_factory) -> Path:  # noqa: ANN001
    """Every service's SQLite database and the log, migrated once for the whole session by a
    runtime that then closed: each test's runtime starts on a copy (`fresh_data_dir`) instead of
    running every Alembic migration of four services again (≈ 1 s of CPU and many fsyncs a test).
    The runtime still runs `migrate` and its services' start-up on the copy, as on a restart."""
    template = tmp_path_factory.mktemp("migrated") / "data"
    EmbeddedRuntime(embedded_settings(template)).close()
    return template


def fresh_data_dir(template: Path, data_dir: Path) -> Path:
    """`data_dir` as a copy of the migrated `template` (the same files a fresh runtime's
    migrations would leave), for one test's runtime alone."""
    shutil.copytree(template, data_dir)
    return data_dir


@pytest.fixture
def runtime(tmp_path: Path, migrated_data_dir: Path) -> Iterator[EmbeddedRuntime]:
    rt = EmbeddedRuntime(embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path / "data")))
    yield rt
    rt.close()


class Api(TestClient):
    """A client of the whole system with the agency token by default; `settle()` waits until
    every event written so far has been projected everywhere (a no-op when embedded)."""

    def settle(self) -> None:
        pass

    def as_token(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture
def api(request, runtime_kind: str):  # noqa: ANN001, ANN201
    """A client of the whole system with the agency token (see `both_runtimes` below)."""
    if runtime_kind == "distributed":
        from tests.harness.cluster import DistributedApi

        with DistributedApi(request.getfixturevalue("cluster"), AGENCY_TOKEN) as client:
            yield client
        return
    runtime = request.getfixturevalue("runtime")
    with Api(runtime.app(), headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}) as client:
        yield client


# ---- identifiers of a test's own ------------------------------------------------------------
# The distributed runtime is one system for the whole session, so a test that runs on both must
# not depend on an empty system: it takes its region, employers and workers from `unique`.

_UNIQUE_COUNTER = itertools.count(random.randrange(1_000, 5_000))


class Unique:
    """A region of this test alone (`44nnnn`) and identifiers within it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.region = f"44{n % 10_000:04d}"
        self._serial = itertools.count(1)

    def uscc(self) -> str:
        from libs.identifiers import make_uscc

        return make_uscc(f"91{self.region}{next(self._serial):08d}")

    def id_number(self, born: date, seq: int | None = None) -> str:
        """A resident ID number registered in this test's region (seq: 1-999, odd = male)."""
        from libs.identifiers import make_id_number

        return make_id_number(self.region, born, next(self._serial) % 1_000 if seq is None else seq)


def new_unique() -> Unique:
    """The next region of this process's tests: one counter for every test's region, so two tests
    never share one (a random code did: two in a run of a session's cluster could draw the same,
    and one test's policy then priced the other's claims)."""
    return Unique(next(_UNIQUE_COUNTER))


@pytest.fixture
def unique() -> Unique:
    return new_unique()


# ---- real servers (PostgreSQL, Kafka), started by deploy/test.sh or on demand -------------

def _harness():  # noqa: ANN202
    from tests.harness import servers

    return servers


@pytest.fixture(scope="session")
def postgres():  # noqa: ANN201
    servers = _harness()
    try:
        server = servers.PostgresServer()
        server.start()
    except Exception as exc:  # noqa: BLE001
        servers.required_or_skip(f"PostgreSQL is not available here: {exc}")
    return server


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = _harness()
    try:
        return servers.ensure_kafka()
    except servers.ServerUnavailable as exc:
        servers.kafka_required_or_skip(str(exc))
        raise


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:  # noqa: ANN001
    """The same test on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres")
    return server.fresh_database(f"il_test_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}")


# ---- the `api` fixture on both runtimes --------------------------------------------------
# A test marked `@pytest.mark.both_runtimes` (or a module with `pytestmark = ...`) runs with
# `api` on the embedded runtime and again through the gateway of the distributed runtime.

def pytest_configure(config) -> None:  # noqa: ANN001
    config.addinivalue_line("markers", "both_runtimes: run the `api` tests on embedded and distributed runtimes")


def pytest_generate_tests(metafunc) -> None:  # noqa: ANN001
    # A test that also reaches into the embedded runtime's internals (`runtime`) runs embedded only.
    if ("api" in metafunc.fixturenames and "runtime" not in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("both_runtimes")):
        metafunc.parametrize("runtime_kind", ["embedded", "distributed"], indirect=True)


@pytest.fixture
def runtime_kind(request) -> str:  # noqa: ANN001
    return getattr(request, "param", "embedded")


@pytest.fixture(scope="session")
def cluster(postgres, kafka_bootstrap, tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.harness.cluster import TestCluster

    c = TestCluster(postgres, kafka_bootstrap, tmp_path_factory.mktemp("cluster-logs"), AGENCY_TOKEN)
    c.start()
    yield c
    c.stop()


# ---- figures of the fault tests, printed in the summary ------------------------------------

_FAULT_FIGURES: list[str] = []


@pytest.fixture
def fault_figures(request):  # noqa: ANN001, ANN201
    # Kept on the test's report, which a pytest-xdist worker sends to the process that prints
    # the summary (a worker's own list would never be printed).
    def record(scenario: str, **figures: int) -> None:
        line = f"{scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items())
        request.node.user_properties.append(("fault_figures", line))

    return record


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001
    if report.when == "call":
        _FAULT_FIGURES.extend(line for key, line in report.user_properties if key == "fault_figures")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if _FAULT_FIGURES:
        terminalreporter.section("fault figures (events in = events projected; twice must be 0)")
        for line in _FAULT_FIGURES:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session) -> None:  # noqa: ANN001
    # The fresh PostgreSQL databases this run made are dropped when it ends (clusters and
    # rigs have stopped by now); a test that needs one again makes it afresh.
    import sys

    servers = sys.modules.get("tests.harness.servers")
    if servers is None or not servers._created_databases:
        return
    try:
        servers.PostgresServer().drop_created()
    except Exception as exc:  # noqa: BLE001 — leftovers cost disk, never a test's verdict
        print(f"\n!!! could not drop this run's test databases: {exc}", file=sys.stderr)
