"""Stop signals on the distributed runtime, real PostgreSQL and Kafka: SIGTERM to
`make run-distributed`'s script (passed on to the launcher), SIGINT to the launcher, a SIGKILLed
launcher, SIGTERM to one service, each while writes are going on.

After each: no process of the layout left, every write answered 201 in the log exactly once,
every outbox sent, every consumer group's committed offsets equal to what it applied. Each test
starts on what the one before left (one deployment for the module), and first checks that it
resumes to the end of the log with nothing projected twice."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from libs.runtime.layout import database_name, databases
from libs.settings import SERVICE_NAMES
from tests.conftest import AGENCY_TOKEN
from tests.harness.servers import kafka_accepts_produce

from .support import (
    STOP_LIMIT_S, InFlight, Writers, alive, assert_nothing_lost_nothing_twice, assert_projected_once,
    children_of, start_launcher, wait_gone,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
LAYOUT_SIZE = len(SERVICE_NAMES) + 1  # and the gateway


@pytest.fixture(scope="module")
def deployment(postgres, kafka_bootstrap, tmp_path_factory):  # noqa: ANN001, ANN201
    """Fresh databases and topics, the layout's ports at this run's offset; not started."""
    from tests.harness.cluster import PORT_OFFSET, TestCluster

    # Ports of its own: the session's `cluster` (at PORT_OFFSET) may be running beside it.
    cluster = TestCluster(postgres, kafka_bootstrap, tmp_path_factory.mktemp("lifecycle-logs"), AGENCY_TOKEN,
                          port_offset=PORT_OFFSET + 20)
    yield cluster
    cluster.stop()
    for s in databases():
        postgres.drop_database(database_name(s, cluster.suffix))


@contextlib.contextmanager
def launched(deployment, data_dir: Path,  # noqa: ANN001
             via_script: bool = False) -> Iterator[tuple[subprocess.Popen, int]]:
    """The launcher (or run-distributed.sh around it) on the deployment, settled; the process
    started and the launcher's pid. Killed, with what it started, if the test fails."""
    proc, launcher = start_launcher(deployment, data_dir, via_script)
    try:
        deployment.settle()
        assert_projected_once(deployment)  # what the last stop left: resumed to the end, nothing twice
        yield proc, launcher
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if alive(launcher):  # the script was killed: the launcher stops its processes
            os.kill(launcher, signal.SIGTERM)
            wait_gone([launcher])


@pytest.mark.parametrize("sig, via_script", [(signal.SIGTERM, True), (signal.SIGINT, False)],
                         ids=["SIGTERM to run-distributed.sh", "SIGINT to the launcher"])
def test_a_stop_signal_to_the_launcher_answers_the_requests_in_flight_and_stops_everything(
        deployment, kafka_bootstrap, tmp_path, sig, via_script, fault_figures) -> None:  # noqa: ANN001
    with launched(deployment, tmp_path, via_script) as (proc, launcher):
        layout = children_of(launcher)
        assert len(layout) == LAYOUT_SIZE
        with Writers(deployment.gateway) as writers:
            writers.wait_for_created(5)
            with InFlight(deployment.gateway) as in_flight:
                proc.send_signal(sig)  # the script passes a SIGTERM on to the launcher
            code = proc.wait(timeout=STOP_LIMIT_S)
    assert code == 0
    assert wait_gone([launcher, *layout], 0) == []  # stopped and reaped before the launcher exited
    created = writers.created + [in_flight.created()]
    figures = assert_nothing_lost_nothing_twice(deployment, created)
    if via_script:  # it found the broker running: it leaves it running
        assert kafka_accepts_produce(kafka_bootstrap), "run-distributed.sh stopped a broker it had not started"
    who = "run-distributed.sh" if via_script else "launcher"
    fault_figures(f"{who} {sig.name} under writes", **figures, **writers.statuses_by_name())


def test_a_sigkilled_launcher_takes_its_processes_with_it(deployment, tmp_path, fault_figures) -> None:  # noqa: ANN001
    with launched(deployment, tmp_path) as (launcher, _pid):
        layout = children_of(launcher.pid)
        assert len(layout) == LAYOUT_SIZE
        with Writers(deployment.gateway) as writers:
            writers.wait_for_created(5)
            launcher.kill()
            launcher.wait()
            left = wait_gone(layout)
    assert left == [], "processes outlived their SIGKILLed launcher"
    figures = assert_nothing_lost_nothing_twice(deployment, writers.created)
    fault_figures("launcher SIGKILL under writes", **figures, **writers.statuses_by_name())


def test_sigterm_to_one_service_answers_its_requests_in_flight_and_publishes_them(
        deployment, fault_figures) -> None:  # noqa: ANN001
    cluster = deployment.cluster  # the harness's launcher, in this process
    deployment.start()
    try:
        deployment.settle()
        assert_projected_once(deployment)
        enrollment = cluster.procs["enrollment"]
        with Writers(deployment.gateway) as writers:
            writers.wait_for_created(5)
            with InFlight(cluster.url("enrollment")) as in_flight:
                enrollment.send_signal(signal.SIGTERM)
            code = enrollment.wait(timeout=STOP_LIMIT_S)
        assert code == 0
        created = writers.created + [in_flight.created()]
        # The stopped service has published all it committed, its consumers committed what they
        # applied; the others are still running.
        assert_nothing_lost_nothing_twice(deployment, created, stopped=("enrollment",))
        cluster.restart("enrollment")
        deployment.settle()
        assert_projected_once(deployment)
        pids = [p.pid for p in cluster.procs.values()]
    finally:
        cluster.stop()
    assert wait_gone(pids, 0) == []
    figures = assert_nothing_lost_nothing_twice(deployment, created)
    fault_figures("one service SIGTERM under writes", **figures, **writers.statuses_by_name())
