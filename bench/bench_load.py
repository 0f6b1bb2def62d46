"""Load: the contract's main reads and writes at a fixed rate from this (second) process over
loopback, for a bounded time, against the embedded runtime (`python -m injuryledger run` as a
subprocess) and, when INJURYLEDGER_TEST_KAFKA is set, the distributed one (the test harness's
cluster over PostgreSQL and Kafka, through its gateway).

Per route: throughput, p50/p99 latency and errors (any answer but the route's success status;
must be 0). The peer, measured in the same run at the same rate: `GET /healthz`, the floor of the
HTTP stack (no token, no database) — each route's p50 is also given as a multiple of it.

Settings: BENCH_LOAD_SECONDS (default 60) and BENCH_LOAD_RATES, e.g.
"policy_get=20,employer_post=5" (requests per second of a route; the defaults are below).
Everything is bounded: the duration, the threads per route, the request timeout.
"""
from __future__ import annotations

import itertools
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from libs.identifiers import make_id_number, make_uscc  # noqa: E402
from libs.policy import load_national_default  # noqa: E402

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
DEFAULT_RATES = {"healthz": 20, "policy_get": 20, "employer_get": 20, "employer_post": 4, "employee_post": 8,
                 "wage_report_post": 4, "claim_post": 4, "claim_get": 10, "entitlements_get": 10}
THREADS_PER_ROUTE = 4
TIMEOUT_S = 30.0
START_TIMEOUT_S = 60.0
REGION = "440300"
SEED_EMPLOYERS = 8
SEED_WORKERS = 5
SEED_CLAIMS = 20
SUCCESS = {"employer_post": 201, "employee_post": 201, "wage_report_post": 201, "claim_post": 201}


def rates() -> dict[str, int]:
    out = dict(DEFAULT_RATES)
    for part in filter(None, os.environ.get("BENCH_LOAD_RATES", "").split(",")):
        name, _, value = part.partition("=")
        assert name.strip() in out, f"unknown route {name!r}; routes: {', '.join(out)}"
        out[name.strip()] = int(value)
    return out


# ---- the system under load --------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Embedded:
    """`python -m injuryledger run --no-demo` on a free port, data in a temporary folder."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-load-")
        self.token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(self.tmp.name) / "server.log", "wb")  # noqa: SIM115
        env = {**os.environ, "INJURYLEDGER_DATA_DIR": str(Path(self.tmp.name) / "data"),
               "INJURYLEDGER_PORT": str(self.port), "INJURYLEDGER_HOST": "127.0.0.1",
               "INJURYLEDGER_AGENCY_TOKEN": self.token, "INJURYLEDGER_MODE": "embedded"}
        self.proc = subprocess.Popen([sys.executable, "-m", "injuryledger", "run", "--no-demo"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_healthy(self.url, self.proc)

    def settle(self) -> None:
        pass

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()
        self.tmp.cleanup()


class Distributed:
    """The test harness's cluster: four services and the gateway over PostgreSQL and Kafka."""

    def __init__(self, bootstrap: str) -> None:
        from tests.harness.cluster import TestCluster
        from tests.harness.servers import PostgresServer

        postgres = PostgresServer()
        postgres.start()
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-load-cluster-")
        self.token = secrets.token_urlsafe(24)
        self.cluster = TestCluster(postgres, bootstrap, Path(self.tmp.name), self.token)
        self.cluster.start()
        self.url = self.cluster.gateway
        wait_healthy(self.url, None)

    def settle(self) -> None:
        self.cluster.settle()

    def close(self) -> None:
        self.cluster.stop()
        self.tmp.cleanup()


def wait_healthy(url: str, proc: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up in {START_TIMEOUT_S} s")


# ---- the data the load works on -------------------------------------------------------------

@dataclass
class World:
    employers: list[str] = field(default_factory=list)
    workers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # employer → [(employee_id, id_number)]
    claims: list[str] = field(default_factory=list)
    serial: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> int:
        with self.lock:
            return self.serial()


def uscc(n: int) -> str:
    return make_uscc(f"91{REGION}{(n * 7919 + secrets.randbelow(10**6)) % 10**8:08d}")


def id_number(n: int) -> str:
    born = date(1960, 1, 1) + timedelta(days=n % 15000)
    return make_id_number("440304", born, (n // 15000) % 1000)


def seed(system, client: httpx.Client) -> World:  # noqa: ANN001
    world = World()
    policy = load_national_default().model_dump(mode="json")
    policy.update(average_monthly_wage="13730.00", minimum_monthly_wage="2520.00")
    assert client.put(f"/v1/policies/{REGION}/2024-01-01", json=policy).status_code in (200, 201)
    base = 1_000_000
    for e in range(SEED_EMPLOYERS):
        r = client.post("/v1/employers", json={"uscc": uscc(base + e), "name": f"负载测试{e}", "industry_code": "C3311",
                                               "region": REGION, "enrolled_on": "2024-01-01"})
        assert r.status_code == 201, r.text
        employer_id = r.json()["employer_id"]
        world.employers.append(employer_id)
        world.workers[employer_id] = []
        for w in range(SEED_WORKERS):
            number = id_number(base + e * 100 + w)
            r = client.post(f"/v1/employers/{employer_id}/employees",
                            json={"id_number": number, "name": f"工人{w}", "hired_on": "2024-01-01",
                                  "bank_account": {"bank_code": "102584000011", "account_no": f"62220240{e:03d}{w:08d}",
                                                   "holder": f"工人{w}"}})
            assert r.status_code == 201, r.text
            world.workers[employer_id].append((r.json()["employee_id"], number))
    system.settle()
    for c in range(SEED_CLAIMS):
        world.claims.append(post_claim(client, world, c).json()["claim_id"])
    system.settle()
    return world


def post_claim(client: httpx.Client, world: World, n: int) -> httpx.Response:
    employer_id = world.employers[n % len(world.employers)]
    employee_id = world.workers[employer_id][n % SEED_WORKERS][0]
    occurred = date(2025, 1, 1) + timedelta(days=n % 300)
    r = client.post("/v1/claims", json={"employer_id": employer_id, "employee_id": employee_id, "kind": "accident",
                                        "occurred_on": occurred.isoformat(),
                                        "applied_on": (occurred + timedelta(days=5)).isoformat(),
                                        "applicant": "employer", "description": "load"})
    assert r.status_code == 201 or n >= SEED_CLAIMS, r.text
    return r


def requests_of(world: World) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    def pick(seq: list, n: int):  # noqa: ANN202
        return seq[n % len(seq)]

    def employer_post(c: httpx.Client) -> httpx.Response:
        return c.post("/v1/employers", json={"uscc": uscc(world.next()), "name": "负载新企业", "industry_code": "I6510",
                                             "region": REGION, "enrolled_on": "2025-01-01"})

    def employee_post(c: httpx.Client) -> httpx.Response:
        n = world.next()
        return c.post(f"/v1/employers/{pick(world.employers, n)}/employees",
                      json={"id_number": id_number(2_000_000 + n), "name": "新工人", "hired_on": "2025-01-01"})

    def wage_report_post(c: httpx.Client) -> httpx.Response:
        n = world.next()
        employer_id = pick(world.employers, n)
        period = f"{2024 + (n // 12) % 2}-{n % 12 + 1:02d}"
        lines = [{"id_number": number, "wage": f"{8000 + n % 1000}.50"} for _, number in world.workers[employer_id]]
        return c.post("/v1/wage-reports", json={"employer_id": employer_id, "period": period, "lines": lines})

    return {
        "healthz": lambda c: c.get("/healthz"),
        "policy_get": lambda c: c.get(f"/v1/policies/{REGION}", params={"on": "2025-06-01"}),
        "employer_get": lambda c: c.get(f"/v1/employers/{pick(world.employers, world.next())}"),
        "employer_post": employer_post,
        "employee_post": employee_post,
        "wage_report_post": wage_report_post,
        "claim_post": lambda c: post_claim(c, world, world.next()),
        "claim_get": lambda c: c.get(f"/v1/claims/{pick(world.claims, world.next())}"),
        "entitlements_get": lambda c: c.get(f"/v1/claims/{pick(world.claims, world.next())}/entitlements"),
    }


# ---- the load ---------------------------------------------------------------------------------

@dataclass
class Route:
    name: str
    rate: int
    send: Callable[[httpx.Client], httpx.Response]
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    behind_schedule: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def drive(route: Route, url: str, token: str, seconds: float) -> list[threading.Thread]:
    """THREADS_PER_ROUTE threads share one schedule: request i is due at start + i / rate."""
    slots = itertools.count()
    slot_lock = threading.Lock()
    start = time.perf_counter() + 0.2
    expected = SUCCESS.get(route.name, 200)

    def worker() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S) as c:
            while True:
                with slot_lock:
                    i = next(slots)
                due = start + i / route.rate
                if due - start >= seconds:
                    return
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                sent = time.perf_counter()
                try:
                    status = route.send(c).status_code
                    error = None if status == expected else str(status)
                except (httpx.HTTPError, AssertionError) as exc:
                    error = type(exc).__name__
                took_ms = (time.perf_counter() - sent) * 1000
                with route.lock:
                    route.latencies_ms.append(took_ms)
                    route.behind_schedule += wait < -0.05
                    if error:
                        route.errors[error] = route.errors.get(error, 0) + 1

    threads = [threading.Thread(target=worker, name=f"load-{route.name}-{n}", daemon=True)
               for n in range(THREADS_PER_ROUTE)]
    for t in threads:
        t.start()
    return threads


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def run_load(system, label: str) -> dict:  # noqa: ANN001
    with httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {system.token}"},
                      timeout=TIMEOUT_S) as client:
        world = seed(system, client)
        served = {path for path in client.get("/openapi.json").json()["paths"]}
    wanted = rates()
    senders = requests_of(world)
    routes, missing = [], []
    for name, rate in wanted.items():
        if name == "entitlements_get" and "/v1/claims/{claim_id}/entitlements" not in served:
            missing.append(name)  # not in this build's OpenAPI yet
            continue
        if rate > 0:
            routes.append(Route(name, rate, senders[name]))
    print(f"[{label}] {SECONDS:.0f} s at {', '.join(f'{r.name}={r.rate}/s' for r in routes)}", file=sys.stderr)
    started = time.perf_counter()
    threads = [t for r in routes for t in drive(r, system.url, system.token, SECONDS)]
    for t in threads:
        t.join(timeout=SECONDS + 2 * TIMEOUT_S + 5)
    elapsed = time.perf_counter() - started
    floor = next((r for r in routes if r.name == "healthz"), None)
    floor_p50 = percentile(floor.latencies_ms, 50) if floor else 0.0
    out: dict = {"seconds": round(elapsed, 1), "routes": {}}
    for r in routes:
        p50 = percentile(r.latencies_ms, 50)
        out["routes"][r.name] = {
            "rate_per_s": r.rate, "requests": len(r.latencies_ms),
            "throughput_per_s": round(len(r.latencies_ms) / elapsed, 1), "p50_ms": p50,
            "p99_ms": percentile(r.latencies_ms, 99), "errors": sum(r.errors.values()),
            **({"error_kinds": r.errors} if r.errors else {}), "behind_schedule": r.behind_schedule,
            **({"p50_vs_healthz": round(p50 / floor_p50, 1)} if floor_p50 and r.name != "healthz" else {})}
    out["errors"] = sum(v["errors"] for v in out["routes"].values())
    if missing:
        out["not_served"] = missing
    return out


def main() -> int:
    results: dict = {"peer": "GET /healthz (no token, no database): the floor of the HTTP stack, same rate, same run",
                     "seconds_per_runtime": SECONDS, "threads_per_route": THREADS_PER_ROUTE}
    system = Embedded()
    try:
        results["embedded"] = run_load(system, "embedded")
    finally:
        system.close()
    bootstrap = os.environ.get("INJURYLEDGER_TEST_KAFKA")
    if bootstrap:
        cluster = Distributed(bootstrap)
        try:
            results["distributed"] = run_load(cluster, "distributed")
        finally:
            cluster.close()
    else:
        results["distributed"] = "skipped: INJURYLEDGER_TEST_KAFKA is not set"
    write_results("load", results)
    errors = sum(r["errors"] for r in (results["embedded"], results["distributed"]) if isinstance(r, dict))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
