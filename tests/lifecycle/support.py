"""What the stop tests share: processes by pid, writers that keep posting while a stop happens, a
request kept in flight across the stop, and the checks that nothing was lost or applied twice."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import text

from libs.identifiers import make_uscc
from libs.settings import SERVICE_NAMES
from tests.conftest import AGENCY_TOKEN

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": f"Bearer {AGENCY_TOKEN}"}
STOP_LIMIT_S = 10  # the contract: a stop signal ends everything within 10 s
START_LIMIT_S = 180
MAX_WRITES = 300  # per writer


# ---- processes ---------------------------------------------------------------------------

def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = raw[raw.rindex(")") + 2:].split()[:2]
    return state, int(ppid)


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has stopped, only not reaped


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pid:
            out.append(int(entry.name))
    return out


def wait_gone(pids: list[int], limit_s: float = STOP_LIMIT_S) -> list[int]:
    """Wait at most `limit_s` for the processes to end; those still alive then."""
    deadline = time.monotonic() + limit_s
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def python_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "INJURYLEDGER_AGENCY_TOKEN": AGENCY_TOKEN,
            "INJURYLEDGER_LOG_LEVEL": "WARNING", **extra}


def start_and_wait_for(argv: list[str], env: dict[str, str], log: Path, ready: str) -> subprocess.Popen:
    """Start a command whose stderr prints `ready` once it serves (the launcher's and `run`'s
    banners)."""
    out = open(log, "ab")
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    out.close()
    deadline = time.monotonic() + START_LIMIT_S
    while ready not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{argv} did not start (exit {proc.poll()}); see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc


def launcher_env(cluster, data_dir: Path) -> dict[str, str]:  # noqa: ANN001 - a TestCluster
    """`python -m libs.runtime.launcher` on the TestCluster's databases, topics and ports."""
    return python_env(INJURYLEDGER_PORT_OFFSET=str(cluster.port_offset), INJURYLEDGER_DB_SUFFIX=cluster.suffix,
                      INJURYLEDGER_TOPIC_PREFIX=cluster.prefix, INJURYLEDGER_KAFKA_BOOTSTRAP=cluster.bootstrap,
                      INJURYLEDGER_DATA_DIR=str(data_dir))


def start_launcher(cluster, data_dir: Path, via_script: bool = False) -> tuple[subprocess.Popen, int]:  # noqa: ANN001
    """The launcher on the cluster's databases and topics, or `make run-distributed`'s script
    around it (on the running broker); the process started and the launcher's pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = launcher_env(cluster, data_dir)
    if via_script:
        env |= {"PYTHON": sys.executable, "KAFKA_PORT": cluster.bootstrap.rsplit(":", 1)[1]}
        env.pop("INJURYLEDGER_KAFKA_BOOTSTRAP")  # the script's, from KAFKA_PORT
    argv = ["bash", "deploy/run-distributed.sh"] if via_script else [sys.executable, "-m", "libs.runtime.launcher"]
    proc = start_and_wait_for(argv, env, data_dir / "launcher.out", "injuryledger (distributed) on")
    if not via_script:
        return proc, proc.pid
    (launcher,) = [p for p in children_of(proc.pid)
                   if b"libs.runtime.launcher" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return proc, launcher


# ---- requests ----------------------------------------------------------------------------

def employer_body() -> dict:
    return {"uscc": make_uscc(f"91440300{uuid.uuid4().int % 10**8:08d}"), "name": "Stops Gracefully Ltd",
            "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-01-01"}


class Writers:
    """Threads posting employers until told to stop or the server is gone; what was answered."""

    def __init__(self, base_url: str, n: int = 3) -> None:
        self.base_url = base_url
        self.created: list[str] = []  # employer ids answered 201
        self.statuses: Counter = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, daemon=True) for _ in range(n)]

    def __enter__(self) -> "Writers":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def wait_for_created(self, n: int, limit_s: float = 60) -> None:
        deadline = time.monotonic() + limit_s
        while len(self.created) < n:
            assert time.monotonic() < deadline, f"only {len(self.created)} writes answered: {self.statuses}"
            time.sleep(0.05)

    def statuses_by_name(self) -> dict[str, int]:
        """The answers counted, as figures: http_201=…, ConnectError=…"""
        return {(f"http_{k}" if isinstance(k, int) else k): v for k, v in sorted(self.statuses.items(), key=str)}

    def _write(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=HEADERS, timeout=30) as http:
            for _ in range(MAX_WRITES):
                if self._stop.is_set():
                    return
                try:
                    answer = http.post("/v1/employers", json=employer_body())
                except httpx.TransportError as exc:
                    self.statuses[type(exc).__name__] += 1
                    return  # the server is going or gone
                self.statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    self.created.append(answer.json()["employer_id"])


READ_GRACE_S = 0.5


class InFlight:
    """A POST whose body arrives in two parts: the request is in flight from the first part on,
    across the stop signal sent then, and the server must still answer it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1])
        self.sent_first = threading.Event()
        self.answer: httpx.Response | Exception | None = None
        self._thread = threading.Thread(target=self._post, daemon=True)

    def __enter__(self) -> "InFlight":
        self._thread.start()
        assert self.sent_first.wait(30), "the first part of the body was never sent"
        # Written is not yet read: a server stopping closes a connection whose request it has not
        # parsed (uvicorn keeps only those it has begun), so give its loop time to take the headers.
        time.sleep(READ_GRACE_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=60)

    def _body(self):  # noqa: ANN202
        raw = httpx.Request("POST", "/", json=employer_body()).content
        yield raw[:10]
        self.sent_first.set()  # resumed only once the first part has been written
        # Send the rest once the server has stopped accepting (the stop has begun), at most 2 s.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and _accepts(self.port):
            time.sleep(0.05)
        yield raw[10:]

    def _post(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, headers=HEADERS, timeout=30) as http:
                self.answer = http.post("/v1/employers", content=self._body(),
                                        headers={"Content-Type": "application/json"})
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
            self.answer = exc

    def created(self) -> str:
        assert isinstance(self.answer, httpx.Response), f"the request in flight got no answer: {self.answer!r}"
        assert self.answer.status_code == 201, self.answer.text
        return self.answer.json()["employer_id"]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---- what must hold after a stop ----------------------------------------------------------

def scalar(cluster, service: str, sql: str, **params: object):  # noqa: ANN001, ANN201
    with cluster.engines[service].connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


class TopicRecord(NamedTuple):
    partition: int
    offset: int
    type: str | None  # the relay's type header
    event_id: str


def topic_records(bootstrap: str, topic: str) -> list[TopicRecord]:
    """Every record on the topic, read from the start to the end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[TopicRecord] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for messages in consumer.poll(timeout_ms=500).values():
                for m in messages:
                    if m.offset < ends[TopicPartition(m.topic, m.partition)]:
                        kind = dict(m.headers or ()).get("type")
                        records.append(TopicRecord(m.partition, m.offset, kind and kind.decode(),
                                                   json.loads(m.value)["event_id"]))
        return records
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """A group's committed offset of each (topic, partition): how many records it has acknowledged."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group)
        committed = committed.get(group, committed)  # kafka-python 3 answers {group: {tp: offset}}
        return {(tp.topic, tp.partition): o.offset for tp, o in committed.items() if o.offset > 0}
    finally:
        admin.close()


def assert_committed_is_applied(cluster, group: str, records: dict[str, list[TopicRecord]]) -> None:  # noqa: ANN001
    """The group's committed offsets cover exactly the events it applied and the records its
    runner passes by (of a type its projection has no handler for, told by the topic itself): a
    restart redelivers nothing, and nothing it should have applied was acknowledged unapplied."""
    service = group[len(cluster.prefix):].split(".")[0]
    wanted = cluster.handled_types[group]
    committed = committed_offsets(cluster.bootstrap, group)
    acknowledged = [r for topic in cluster.groups[group] for r in records[topic]
                    if r.offset < committed.get((topic, r.partition), 0)]
    passed_by = [r for r in acknowledged if wanted is not None and r.type is not None and r.type not in wanted]
    to_apply = {r.event_id for r in acknowledged} - {r.event_id for r in passed_by}
    with cluster.engines[service].connect() as conn:
        applied = set(conn.execute(text("select event_id from processed_events where consumer = :g"),
                                   {"g": group}).scalars())
    assert sum(committed.values()) == len(applied) + len(passed_by), \
        f"{group}: offsets committed differ from events applied ({len(applied)}) and passed by " \
        f"({len(passed_by)}): a restart would redeliver"
    assert applied == to_apply, f"{group}: acknowledged but not applied: {to_apply - applied}; " \
                                f"applied beyond its offsets: {applied - to_apply}"


def assert_nothing_lost_nothing_twice(cluster, created: list[str],  # noqa: ANN001
                                      stopped: tuple[str, ...] = SERVICE_NAMES) -> dict[str, int]:
    """After the `stopped` services stopped: their outboxes all sent, their events on their topics
    exactly once, every write answered 201 among them, each of their consumer groups committed
    exactly what it applied and passed by (so a restart redelivers nothing). Returns figures for
    the report."""
    figures: dict[str, int] = {}
    records = {f"{cluster.prefix}{s}": topic_records(cluster.bootstrap, f"{cluster.prefix}{s}") for s in SERVICE_NAMES}
    for service in stopped:
        unsent = scalar(cluster, service, "select count(*) from events where sent_at is null")
        assert unsent == 0, f"{service}: {unsent} events committed but never published"
        with cluster.engines[service].connect() as conn:
            stored = set(conn.execute(text("select event_id from events")).scalars())
        on_topic = Counter(r.event_id for r in records[f"{cluster.prefix}{service}"])
        twice = {e: n for e, n in on_topic.items() if n > 1}
        assert not twice, f"{service}: events published more than once: {twice}"
        assert set(on_topic) == stored, f"{service}: stored but not on the topic: {stored - set(on_topic)}"
        figures[f"{service}_events"] = len(stored)
    with cluster.engines["enrollment"].connect() as conn:
        enrolled = set(conn.execute(text("select aggregate_id from events where type = 'EmployerEnrolled'")).scalars())
    assert set(created) <= enrolled, f"answered 201 but no event: {set(created) - enrolled}"
    for group in cluster.groups:
        if group[len(cluster.prefix):].split(".")[0] in stopped:
            assert_committed_is_applied(cluster, group, records)
    figures["created"] = len(created)
    return figures


def assert_projected_once(cluster) -> None:  # noqa: ANN001
    """After a restart and settling: the levy's projection of employers holds each employer once."""
    events = scalar(cluster, "enrollment", "select count(*) from events where type = 'EmployerEnrolled'")
    assert scalar(cluster, "levy", "select count(*) from levy_employers") == events
    by_type = {}  # each service's events counted by type
    for s in SERVICE_NAMES:
        with cluster.engines[s].connect() as conn:
            by_type[s] = dict(conn.execute(text("select type, count(*) from events group by type")).all())
    for group in cluster.groups:
        service = group[len(cluster.prefix):].split(".")[0]
        wanted = cluster.handled_types[group]  # the types its projection handles (None: all)
        applied = scalar(cluster, service, "select count(*) from processed_events where consumer = :g", g=group)
        on_topics = sum(n for s in SERVICE_NAMES if f"{cluster.prefix}{s}" in cluster.groups[group]
                        for kind, n in by_type[s].items() if wanted is None or kind in wanted)
        assert applied == on_topics, f"{group}: applied {applied} of the {on_topics} events it handles"
