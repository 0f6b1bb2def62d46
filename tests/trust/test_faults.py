"""Faults survived, on real servers (Kafka broker, PostgreSQL, processes killed with SIGKILL).
Each test ends by counting: events in = events projected, none twice; the figures are reported
in the test summary (see tests/conftest.py: `fault_figures`)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from libs.db import make_engine, session_factory
from libs.events.consumer import ConsumerRunner
from libs.events.kafka_log import KafkaLog
from libs.events.log import Record, Topics
from libs.events.relay import OutboxRelay
from libs.events.store import Context
from libs.events.tables import core_metadata, events
from libs.events.uow import UnitOfWork
from tests.spine.support import Account, TallyProjection, tally, test_metadata

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class Fixture:
    def __init__(self, postgres, bootstrap: str) -> None:  # noqa: ANN001
        self.url = postgres.fresh_database(f"il_fault_{uuid.uuid4().hex[:8]}")
        self.engine = make_engine(self.url)
        core_metadata.create_all(self.engine)
        test_metadata.create_all(self.engine)
        self.sessions = session_factory(self.engine)
        self.bootstrap = bootstrap
        self.log = KafkaLog(bootstrap)
        self.topics = Topics(f"f{uuid.uuid4().hex[:8]}.")
        self.topic = self.topics.of("enrollment")
        self.log.ensure_topics([self.topic], partitions=4)

    def write(self, aggregates: int, deposits: int = 5) -> int:
        n = 0
        for _ in range(aggregates):
            a = Account(uuid.uuid4().hex)
            for d in range(deposits):
                a.deposit(Decimal(f"{d + 1}.00"))
            with UnitOfWork(self.sessions, self.topic, Context(actor="fault")) as u:
                n += len(u.save(a))
        return n

    def projected(self) -> tuple[int, int]:
        """(rows, distinct event ids) of the tally: equal means nothing was applied twice."""
        with self.sessions() as s:
            rows = s.execute(select(func.count()).select_from(tally)).scalar_one()
            distinct = s.execute(select(func.count(func.distinct(tally.c.event_id)))).scalar_one()
        return rows, distinct

    def worker(self, group: str, mode: str, seconds: int = 40, expect: int = 0) -> subprocess.CompletedProcess:
        """A consumer process; it stops when the tally holds `expect` rows (a dead member's
        partitions only move on after the group's session timeout) or after `seconds`."""
        env = {**os.environ, "WORKER_SECONDS": str(seconds), "WORKER_EXPECT": str(expect), "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "tests.trust.faults_worker", self.url, self.bootstrap, self.topic,
                               group, mode], env=env, capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT)


@pytest.fixture
def rig(postgres, kafka_bootstrap):  # noqa: ANN001, ANN201
    f = Fixture(postgres, kafka_bootstrap)
    yield f
    f.log.close()
    f.engine.dispose()


def test_consumer_killed_between_database_commit_and_offset_commit(rig: Fixture, fault_figures) -> None:  # noqa: ANN001
    sent = rig.write(20)
    OutboxRelay(rig.sessions, rig.log, "enrollment").drain()
    group = rig.topics.prefix + "tally"
    crashed = rig.worker(group, "crash")
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    applied_before_crash = rig.projected()[0]
    assert 0 < applied_before_crash < sent  # it died after committing one batch
    resumed = rig.worker(group, "run", expect=sent)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows, distinct = rig.projected()
    fault_figures("consumer killed before offset commit", sent=sent, projected=rows, twice=rows - distinct)
    assert rows == distinct == sent
    assert "skipped=" in resumed.stdout and int(resumed.stdout.split("skipped=")[1]) >= applied_before_crash


def test_duplicate_and_out_of_order_delivery_change_the_projection_once(rig: Fixture, fault_figures) -> None:  # noqa: ANN001
    sent = rig.write(6)
    OutboxRelay(rig.sessions, rig.log, "enrollment").drain()
    from libs.events.relay import envelope_json

    with rig.sessions() as s:
        rows = s.execute(select(events).order_by(events.c.position.desc())).all()
    # Every event again, newest first, on one partition: duplicated and out of order.
    rig.log.publish([Record(rig.topic, b"replayed", envelope_json(r)) for r in rows])
    group = rig.topics.prefix + "tally"
    runner = ConsumerRunner(TallyProjection(), rig.sessions, rig.log, group, [rig.topic], group + ".dlq")
    seen = 0
    for _ in range(200):
        seen += runner.run_once(timeout_ms=500)
        if seen >= 2 * sent:
            break
    runner.close()
    projected, distinct = rig.projected()
    fault_figures("duplicate + out-of-order delivery", sent=sent, delivered=seen, projected=projected,
                  twice=projected - distinct)
    assert seen == 2 * sent and projected == distinct == sent and runner.skipped == sent


def test_a_rebalance_while_processing_loses_and_duplicates_nothing(rig: Fixture, fault_figures) -> None:  # noqa: ANN001
    sent = rig.write(40)
    OutboxRelay(rig.sessions, rig.log, "enrollment").drain()
    group = rig.topics.prefix + "tally"
    results: list[subprocess.CompletedProcess] = []

    def run_worker(delay_s: float) -> None:
        time.sleep(delay_s)
        results.append(rig.worker(group, "run", seconds=40, expect=sent))

    threads = [threading.Thread(target=run_worker, args=(d,)) for d in (0.0, 1.5)]  # the second joins mid-stream
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr[-1000:] for r in results]
    rows, distinct = rig.projected()
    fault_figures("consumer group rebalance", sent=sent, projected=rows, twice=rows - distinct)
    assert rows == distinct == sent


@pytest.mark.restarts_shared_server  # kills and restarts the broker every run shares
def test_broker_killed_mid_stream_the_outbox_holds_events_until_it_is_back(rig: Fixture, fault_figures) -> None:  # noqa: ANN001
    from tests.harness.servers import KafkaServer

    broker = KafkaServer(int(rig.bootstrap.rsplit(":", 1)[1]))
    first = rig.write(5)
    OutboxRelay(rig.sessions, rig.log, "enrollment").drain()
    broker.kill()
    try:
        during = rig.write(5)  # commands keep being accepted: they only need the database
        with rig.sessions() as s:
            unsent = s.execute(select(func.count()).select_from(events).where(events.c.sent_at.is_(None))).scalar_one()
        assert unsent == during
        relay = OutboxRelay(rig.sessions, KafkaLog(rig.bootstrap), "enrollment")
        with pytest.raises(Exception):  # noqa: B017 - the broker is gone: publishing fails, nothing is marked sent
            relay.run_once()
    finally:
        broker.restart()
    OutboxRelay(rig.sessions, KafkaLog(rig.bootstrap), "enrollment").drain()
    group = rig.topics.prefix + "tally"
    done = rig.worker(group, "run", expect=first + during)
    assert done.returncode == 0, done.stderr[-2000:]
    rows, distinct = rig.projected()
    fault_figures("broker killed mid-stream", sent=first + during, projected=rows, twice=rows - distinct)
    assert rows == distinct == first + during
