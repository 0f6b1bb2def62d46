"""PostgreSQL and Kafka for tests, through the same scripts `make test` and `make run-distributed`
use (deploy/postgres.sh, deploy/kafka/kafka.sh). Never a mock: these are the real servers."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
POSTGRES_SH = ROOT / "deploy" / "postgres.sh"


class ServerUnavailable(RuntimeError):
    pass


def required_or_skip(reason: str) -> None:
    """Outside CI a missing server skips with one loud line; in CI it fails."""
    line = f"!!! {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(line + " (CI=true: real servers are required)")
    pytest.skip(line)


kafka_required_or_skip = required_or_skip


def unique_topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def _run(script: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": os.environ.get("PYTHON", str(ROOT / ".venv" / "bin" / "python"))}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=timeout, env=env)


class KafkaServer:
    def __init__(self, port: int = 19092) -> None:
        self.port = port
        self.env = {"KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(port + 1)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _do(self, command: str) -> None:
        if not (shutil.which("java") and shutil.which("mvn")):
            raise ServerUnavailable("Java 17 and Maven are needed to run Apache Kafka here")
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            done = _run(KAFKA_SH, command)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if done.returncode == 3:
            raise ServerUnavailable(done.stderr.strip())
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        self._do("start")

    def stop(self) -> None:
        self._do("stop")

    def kill(self) -> None:
        self._do("kill")

    def restart(self) -> None:
        """Start again on the same data: what a broker crash and recovery looks like."""
        self._do("restart-keep-data")


def ensure_kafka() -> str:
    """The broker `make test` started (INJURYLEDGER_TEST_KAFKA), or one started now."""
    given = os.environ.get("INJURYLEDGER_TEST_KAFKA")
    server = KafkaServer(int(given.rsplit(":", 1)[1]) if given else 19092)
    server.start()  # idempotent: a running broker is only checked for a produce
    return server.bootstrap


class PostgresServer:
    user = password = "injuryledger"

    def start(self) -> None:
        if not shutil.which("pg_lsclusters"):
            raise ServerUnavailable("PostgreSQL is not installed")
        done = _run(POSTGRES_SH, "start")
        if done.returncode != 0:
            raise ServerUnavailable(f"postgres.sh start failed: {done.stderr[-1000:]}")

    def restart(self) -> None:
        done = _run(POSTGRES_SH, "restart")
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        _run(POSTGRES_SH, "stop")

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:5432/{db}"

    def fresh_database(self, name: str) -> str:
        assert name.replace("_", "").isalnum() and len(name) <= 63, name
        done = _run(POSTGRES_SH, "drop-create", name)
        assert done.returncode == 0, done.stderr
        return self.url(name)
