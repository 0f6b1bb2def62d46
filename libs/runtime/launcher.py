"""Starts the distributed layout as child processes and stops them together.

Used by `make run-distributed` and by the test harness; the services find PostgreSQL and Kafka
already running (deploy/postgres.sh, deploy/kafka/kafka.sh).

Stopping (see lifecycle.py): SIGTERM or SIGINT to the launcher sends one SIGTERM to the gateway
(no new requests; those in flight finish), then to the services, and SIGKILLs what is left after
STOP_BUDGET_MS. Each child runs in its own session, so a Ctrl-C in the terminal reaches only the
launcher, which passes it on once; and each dies with the launcher, even a SIGKILLed one.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .layout import Process
from .lifecycle import GATEWAY_FIRST_MS, STOP_BUDGET_MS, die_with_parent

START_TIMEOUT_S = 120
REAP_AFTER_KILL_MS = 5_000  # a SIGKILLed child is gone at once; this only bounds the wait
FRONT = ("gateway",)  # stopped first: it takes the requests


class Cluster:
    def __init__(self, layout: list[Process], log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.layout, self.log_dir = layout, log_dir
        self.extra_env = extra_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def url(self, name: str) -> str:
        env = next(p.env for p in self.layout if p.name == name)
        return f"http://127.0.0.1:{env['INJURYLEDGER_PORT']}"

    def start(self, names: list[str] | None = None) -> None:
        for p in self.layout:
            if names is None or p.name in names:
                self._spawn(p)
        for p in self.layout:
            if names is None or p.name in names:
                self.wait_healthy(p.name)

    def _spawn(self, p: Process) -> None:
        env = {**os.environ, **p.env, **self.extra_env}
        with open(self.log_dir / f"{p.name}.log", "ab") as out:
            self.procs[p.name] = subprocess.Popen(
                [sys.executable, *p.argv], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent())

    def wait_healthy(self, name: str, timeout_s: int = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                if httpx.get(self.url(name) + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not become healthy in {timeout_s}s")

    def exited(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def restart(self, name: str) -> None:
        self.kill(name)
        self._spawn(next(p for p in self.layout if p.name == name))
        self.wait_healthy(name)

    def stop(self, budget_ms: int = STOP_BUDGET_MS) -> None:
        """SIGTERM the gateway, then the services; SIGKILL whatever is left after `budget_ms`."""
        deadline_ns = time.monotonic_ns() + budget_ms * 1_000_000
        front = {n: p for n, p in self.procs.items() if n in FRONT}
        back = {n: p for n, p in self.procs.items() if n not in FRONT}
        _signal(front, signal.SIGTERM)
        _wait(front, min(deadline_ns, time.monotonic_ns() + GATEWAY_FIRST_MS * 1_000_000))
        _signal(back, signal.SIGTERM)
        _wait(self.procs, deadline_ns)
        _signal(self.procs, signal.SIGKILL)  # the process group: anything a child started too
        _wait(self.procs, time.monotonic_ns() + REAP_AFTER_KILL_MS * 1_000_000)
        self.procs.clear()


def _signal(procs: dict[str, subprocess.Popen], sig: int) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:  # exited between poll and kill
                pass


def _wait(procs: dict[str, subprocess.Popen], deadline_ns: int) -> None:
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0, deadline_ns - time.monotonic_ns()) / 1_000_000_000)
        except subprocess.TimeoutExpired:
            pass


class Stopping(Exception):
    """Raised in the launcher's main thread by the first SIGTERM or SIGINT."""


class StopSignals:
    """SIGTERM and SIGINT raise `Stopping` once; after that, or once the stop has begun for
    another reason, they change nothing (a Ctrl-C and a script's forwarded TERM are one stop)."""

    def __init__(self) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            raise Stopping(signal.Signals(signum).name)


def layout_from_environment() -> list[Process]:
    """The layout with the settings of the environment: Kafka and the topic prefix as the
    services read them, plus INJURYLEDGER_PORT_OFFSET (added to every port) and
    INJURYLEDGER_DB_SUFFIX (databases `injuryledger_<service><suffix>`): a second deployment
    beside the first on one machine."""
    from libs.settings import Settings

    from .layout import processes

    settings = Settings()
    return processes(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=settings.topic_prefix,
                     port_offset=int(os.environ.get("INJURYLEDGER_PORT_OFFSET", "0")),
                     db_suffix=os.environ.get("INJURYLEDGER_DB_SUFFIX", ""))


def main() -> int:
    """`python -m libs.runtime.launcher`: the layout until SIGTERM, SIGINT (Ctrl-C) or a child's
    exit; 0 after a stop signal, 1 when a process of the layout exited on its own."""
    signals = StopSignals()  # before the first spawn: the children start with the default dispositions
    token = os.environ.setdefault("INJURYLEDGER_AGENCY_TOKEN", "change-me-" + os.urandom(8).hex())
    cluster: Cluster | None = None
    try:
        cluster = Cluster(layout_from_environment(), Path(os.environ.get("INJURYLEDGER_DATA_DIR", "data")) / "logs")
        cluster.start()
        print(f"\ninjuryledger (distributed) on {cluster.url('gateway')}\n  API docs: {cluster.url('gateway')}/docs\n"
              f"  agency token: {token}\n  logs: {cluster.log_dir}\n  stop: Ctrl-C or SIGTERM (pid {os.getpid()})\n",
              file=sys.stderr, flush=True)
        while not (gone := cluster.exited()):
            time.sleep(0.5)
        print(f"launcher: {', '.join(gone)} exited; stopping the rest", file=sys.stderr, flush=True)
        return 1
    except Stopping as why:
        print(f"launcher: {why}; stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        signals.stopping = True
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
