"""Starts the distributed layout as child processes and stops them together.

Used by `make run-distributed` and by the test harness; the services find PostgreSQL and Kafka
already running (deploy/postgres.sh, deploy/kafka/kafka.sh).
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

START_TIMEOUT_S = 120


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
        out = open(self.log_dir / f"{p.name}.log", "ab")
        self.procs[p.name] = subprocess.Popen([sys.executable, *p.argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True)

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

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def restart(self, name: str) -> None:
        self.kill(name)
        self._spawn(next(p for p in self.layout if p.name == name))
        self.wait_healthy(name)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)


def main() -> int:
    """`python -m libs.runtime.launcher`: the layout on the default ports until Ctrl-C."""
    from .layout import processes

    token = os.environ.setdefault("INJURYLEDGER_AGENCY_TOKEN", "change-me-" + os.urandom(8).hex())
    cluster = Cluster(processes(), Path(os.environ.get("INJURYLEDGER_DATA_DIR", "data")) / "logs")
    cluster.start()
    print(f"\ninjuryledger (distributed) on {cluster.url('gateway')}\n  API docs: {cluster.url('gateway')}/docs\n"
          f"  agency token: {token}\n  logs: {cluster.log_dir}\n", file=sys.stderr, flush=True)
    try:
        while all(p.poll() is None for p in cluster.procs.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
