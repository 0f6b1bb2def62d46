"""The distributed runtime for tests: the four services and the gateway as real processes over
real PostgreSQL databases and a real Kafka broker, with a client that waits after each write until
every event has been projected everywhere — so a test reads the same as on the embedded runtime."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, text

from libs.events.log import Topics
from libs.runtime.launcher import Cluster
from libs.runtime.service import ServiceContext
from libs.runtime.wiring import load_specs
from libs.settings import Settings
from libs.runtime.layout import GATEWAY_DATABASE, database_name, processes
from libs.settings import SERVICE_NAMES

SETTLE_TIMEOUT_S = 60
# 8100..8104 by default: out of the way of a `make run` on 8000; two runs of the suite on one
# machine (worktrees) set INJURYLEDGER_TEST_PORT_OFFSET apart. A pytest-xdist worker (gw0, gw1, …)
# has a cluster of its own and takes the ports WORKER_PORT_SPAN further per worker number: its
# cluster at +0..+4, the stop tests' deployment at +20..+24, the embedded stop test at +9.
WORKER_PORT_SPAN = 40


def worker_number() -> int:
    """This process's pytest-xdist worker number (0 without xdist)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


PORT_OFFSET = int(os.environ.get("INJURYLEDGER_TEST_PORT_OFFSET", "100")) + WORKER_PORT_SPAN * worker_number()


class TestCluster:
    def __init__(self, postgres, bootstrap: str, log_dir: Path, agency_token: str,  # noqa: ANN001
                 port_offset: int = PORT_OFFSET) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.suffix = f"_t{self.run_id}"
        self.prefix = f"t{self.run_id}."
        self.bootstrap = bootstrap
        self.db_urls = {s: postgres.fresh_database(database_name(s, self.suffix)) for s in SERVICE_NAMES}
        self.gateway_db_url = postgres.fresh_database(database_name(GATEWAY_DATABASE, self.suffix))
        layout = processes(kafka_bootstrap=bootstrap, db_suffix=self.suffix, topic_prefix=self.prefix,
                           port_offset=port_offset)
        self.port_offset = port_offset
        self.cluster = Cluster(layout, log_dir, extra_env={
            "INJURYLEDGER_AGENCY_TOKEN": agency_token, "INJURYLEDGER_LOG_LEVEL": "WARNING"})
        self.engines = {s: create_engine(u, pool_size=1, pool_pre_ping=True) for s, u in self.db_urls.items()}

    @property
    def gateway(self) -> str:
        return self.cluster.url("gateway")

    def start(self) -> None:
        self.cluster.start()

    def stop(self) -> None:
        self.cluster.stop()
        for e in self.engines.values():
            e.dispose()

    def settle(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Wait until every outbox is empty and every consumer group of this cluster has read
        to the end of its topics (twice in a row, so nothing was in flight between checks)."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while time.monotonic() < deadline:
            if self._outboxes_empty() and self._groups_caught_up():
                quiet += 1
                if quiet >= 2:
                    return
            else:
                quiet = 0
            time.sleep(0.05)
        raise TimeoutError("the distributed runtime did not settle; see the service logs")

    def _outboxes_empty(self) -> bool:
        for engine in self.engines.values():
            with engine.connect() as conn:
                if conn.execute(text("select count(*) from events where sent_at is null")).scalar_one():
                    return False
        return True

    def _groups_caught_up(self) -> bool:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            for group, topics in self.groups.items():
                partitions = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
                ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end > 0}
                if not ends:
                    continue
                committed = admin.list_group_offsets(group)
                committed = committed.get(group, committed)  # kafka-python 3 answers {group: {tp: offset}}
                for tp, end in ends.items():
                    done = committed.get(tp)
                    if done is None or done.offset < end:
                        return False
            return True
        finally:
            consumer.close()
            admin.close()

    @property
    def groups(self) -> dict[str, list[str]]:
        """Every consumer group of this cluster and the topics it reads, from the services' specs."""
        if not hasattr(self, "_groups"):
            topics = Topics(self.prefix)
            self._groups, self._handled_types = {}, {}
            for spec in load_specs():
                ctx = ServiceContext(spec.name, Settings(), engine=None, session_factory=None, topics=topics)  # type: ignore[arg-type]
                for projector in spec.build_projectors(ctx):
                    group = f"{self.prefix}{spec.name}.{projector.name}"
                    self._groups[group] = [topics.of(s) for s in projector.sources]
                    self._handled_types[group] = getattr(projector, "handled_types", lambda: None)()
        return self._groups

    @property
    def handled_types(self) -> dict[str, frozenset[str] | None]:
        """Each group's event types its projection has a handler for (None: every type); its
        runner passes the records of any other type by, unapplied (`Projection.handled_types`)."""
        self.groups  # noqa: B018 - builds both
        return self._handled_types


class DistributedApi(httpx.Client):
    """The same surface as the embedded TestClient: a plain HTTP client of the gateway. Reads see
    the client's own writes through the gateway's session consistency (API.md, Conventions), so a
    test needs no sleep, poll or retry. `settle()` is for fault tests that check the whole system
    after the fact, never for ordinary reads."""

    def __init__(self, cluster: TestCluster, token: str) -> None:
        super().__init__(base_url=cluster.gateway, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        self.cluster = cluster

    def settle(self) -> None:
        self.cluster.settle()
