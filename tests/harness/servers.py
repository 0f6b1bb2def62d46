"""PostgreSQL and Apache Kafka for tests, through the same scripts `make test` and
`make run-distributed` use (deploy/postgres.sh, deploy/kafka/kafka.sh). Never a mock: these are
the real servers. Plain functions and classes; tests/conftest.py turns them into fixtures."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
POSTGRES_SH = ROOT / "deploy" / "postgres.sh"
KAFKA_PORT = 19092
HEALTHCHECK_TOPIC = "injuryledger.healthcheck"
MISSING = 3  # the scripts' exit code when a tool or the server itself is not installed


# The databases this process made with `fresh_database` and has not dropped: the test session
# drops them at its end (tests/conftest.py), so runs do not pile up databases on a developer's
# server (thousands of them make PostgreSQL's crash-recovery start outlast pg_ctl's wait).
_created_databases: set[str] = set()


class ServerUnavailable(RuntimeError):
    """A real server cannot be had on this machine (a tool is not installed); the reason says which."""


def required_or_skip(reason: str) -> None:
    """Outside CI a missing server skips with one loud line; with CI=true it fails the test."""
    line = f"!!! REAL SERVER MISSING: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(line + " (CI=true: real servers are required)", pytrace=False)
    pytest.skip(line)


def kafka_required_or_skip(reason: str) -> None:
    required_or_skip(f"Apache Kafka cannot run here: {reason}")


def kafka_tools_missing() -> str | None:
    """Why kafka.sh cannot start a broker here (Java or Maven missing), or None."""
    java, mvn = os.environ.get("JAVA", "java"), os.environ.get("MVN", "mvn")
    if not shutil.which(java):
        return "Java 17+ is not installed (`java` not found); Apache Kafka 4 runs on it"
    if not shutil.which(mvn):
        return "Maven is not installed (`mvn` not found); it resolves Apache Kafka from Maven Central"
    return None


def unique_topic_prefix() -> str:
    """A prefix unique to this call, for topics and consumer groups on a shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."


def free_kafka_port() -> int:
    """A port whose next port is free too (a broker's controller listens on port+1): for a broker
    of one's own, next to the shared one on 19092."""
    import random
    import socket

    for _ in range(100):
        port = random.randrange(19200, 19800, 2)
        try:
            for p in (port, port + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair in 19200..19799")


def _python() -> str:
    return os.environ.get("PYTHON") or str(ROOT / ".venv" / "bin" / "python")


def _run(script: Path, *args: str, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHON": _python(), **(env or {})}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=timeout,
                           env=full_env, stdin=subprocess.DEVNULL)


def kafka_accepts_produce(bootstrap: str, timeout_s: float = 10) -> bool:
    """Does a broker at `bootstrap` acknowledge a produce with acks=all within `timeout_s`?"""
    from kafka import KafkaProducer

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            # bootstrap_timeout_ms: kafka-python 3 waits 30 s for a first broker by default.
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000,
                                     max_block_ms=5000, bootstrap_timeout_ms=int(min(max(timeout_s, 1), 5) * 1000))
            try:
                producer.send(HEALTHCHECK_TOPIC, key=b"harness", value=b"ping").get(timeout=10)
                return True
            finally:
                producer.close(timeout=5)
        except Exception:  # noqa: BLE001 - not up (yet): any failure is a no
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


class KafkaServer:
    """The broker kafka.sh runs on `port` (controller on port+1). Its data, config and logs are in
    the cache (shared with `make test` and other runs on the port) or, given `workdir`, there."""

    def __init__(self, port: int = KAFKA_PORT, workdir: Path | None = None) -> None:
        self.port = port
        self.env = {"KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(port + 1)}
        if workdir is not None:
            self.env |= {"KAFKA_DATA_DIR": str(workdir / "data"), "KAFKA_RUN_DIR": str(workdir / "run")}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _do(self, command: str) -> None:
        missing = kafka_tools_missing()
        if missing:
            raise ServerUnavailable(missing)
        done = _run(KAFKA_SH, command, env=self.env)
        if done.returncode == MISSING:
            raise ServerUnavailable(done.stderr.strip())
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed ({done.returncode}): {done.stderr[-3000:]}")

    def start(self) -> None:
        """A freshly formatted broker, or the one already running on the port."""
        self._do("start")

    def stop(self) -> None:
        self._do("stop")

    def kill(self) -> None:
        """SIGKILL: a broker crash."""
        self._do("kill")

    def restart(self) -> None:
        """Start again on the same data: what recovery after a crash looks like."""
        self._do("restart-keep-data")

    def accepts_produce(self, timeout_s: float = 10) -> bool:
        return kafka_accepts_produce(self.bootstrap, timeout_s)


def ensure_kafka() -> str:
    """The bootstrap of a working broker: the one `make test` started (INJURYLEDGER_TEST_KAFKA) or
    any already answering on the port, else one started now. ServerUnavailable if it cannot run here."""
    given = os.environ.get("INJURYLEDGER_TEST_KAFKA")
    server = KafkaServer(int(given.rsplit(":", 1)[1]) if given else KAFKA_PORT)
    if kafka_accepts_produce(server.bootstrap, timeout_s=2):
        return server.bootstrap
    server.start()
    return server.bootstrap


class PostgresServer:
    """The machine's PostgreSQL cluster on 127.0.0.1:5432, role injuryledger/injuryledger."""

    user = password = "injuryledger"
    host, port = "127.0.0.1", 5432

    def _do(self, *args: str) -> None:
        if not shutil.which("pg_lsclusters"):
            raise ServerUnavailable("PostgreSQL is not installed (no pg_lsclusters)")
        done = _run(POSTGRES_SH, *args)
        if done.returncode == MISSING:
            raise ServerUnavailable(done.stderr.strip())
        if done.returncode != 0:
            raise RuntimeError(f"postgres.sh {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}")

    def start(self, *databases: str) -> None:
        """Start it if down; the role and the databases (the services' four by default) exist after."""
        self._do("start", *databases)

    def restart(self) -> None:
        self._do("restart")

    def stop(self) -> None:
        self._do("stop")

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{db}"

    def fresh_database(self, name: str) -> str:
        """Drop `name` (closing its connections) and create it empty; its SQLAlchemy URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._do("drop-create", name)
        _created_databases.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._do("drop", name)
        _created_databases.discard(name)

    def drop_created(self) -> None:
        """Drop every database this process made and has not dropped (connections closed by force)."""
        names = sorted(_created_databases)
        if names:
            self._do("drop", *names)
            _created_databases.clear()
