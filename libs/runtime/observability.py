"""Prometheus metrics (prometheus-client) of a process, `GET /metrics`.

- Request latency: a histogram by route *template* (`/v1/claims/{claim_id}`), method and status —
  never the concrete path, which carries ids.
- What the databases and the log say (outbox backlog, consumer lag, dead letters, log ends):
  read at scrape time by `LedgerCollector` through `ops.service_status`, so every process of a
  service, and one just restarted, tells the truth.
- Payment runs: duration and totals, recorded by the run code into its `ServiceMetrics`.

Each app has its own `CollectorRegistry` (never the global one), so several apps in one process
(the tests) don't clash. No label holds personal data: services, groups, topics, partitions,
route templates, methods and status codes only.
"""
from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from typing import Any, Awaitable, Callable, Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.responses import Response

from .ops import Observed, dead_letters_by_group, outbox_backlog, service_status

log = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ROUTE_LABEL = "injuryledger.route"  # scope key: an app's own label for a request (the gateway's)
UNMATCHED = "unmatched"
RUN_BUCKETS_MS = (500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000)
NS_PER_S, MS_PER_S = 1_000_000_000, 1_000  # Prometheus counts time in seconds


class ServiceMetrics:
    """Figures a service's code records as they happen (one per service context; every app over
    the context exposes them). Kept as plain integers so the apps can add them up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_buckets = [0] * (len(RUN_BUCKETS_MS) + 1)  # per bucket, the last one is +Inf
        self._run_ms = 0
        self._runs = 0
        self._run_payouts = 0
        self._run_total_fen = 0

    def record_payment_run(self, elapsed_ms: int, payouts: int, total_fen: int) -> None:
        with self._lock:
            self._run_buckets[bisect_left(RUN_BUCKETS_MS, elapsed_ms)] += 1
            self._run_ms += elapsed_ms
            self._runs += 1
            self._run_payouts += payouts
            self._run_total_fen += total_fen

    def payment_runs(self) -> tuple[list[int], int, int, int, int]:
        with self._lock:
            return list(self._run_buckets), self._run_ms, self._runs, self._run_payouts, self._run_total_fen


class LedgerCollector:
    """Scrape-time figures of the services of this process."""

    def __init__(self, observed: Sequence[Observed]) -> None:
        self.observed = list(observed)

    def collect(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily("injuryledger_outbox_backlog",
                                    "Events committed to the service's outbox and not yet published to the log",
                                    labels=["service"])
        lag = GaugeMetricFamily("injuryledger_consumer_lag",
                                "Records of the log a consumer group (projection) has not committed yet",
                                labels=["group", "topic", "partition"])
        dead = GaugeMetricFamily("injuryledger_dead_letters",
                                 "Events a consumer group gave up on and dead-lettered", labels=["group"])
        ends = GaugeMetricFamily("injuryledger_log_end_offset",
                                 "The next offset of each partition of the service's topic", labels=["topic", "partition"])
        for o in self.observed:
            try:
                status = service_status(o.ctx, o.log, o.runners)
            except Exception:  # the log is away: what the database knows is still worth showing
                log.warning("metrics: status of %s unavailable", o.ctx.name, exc_info=True)
                self._database_only(o, backlog, dead)
                continue
            backlog.add_metric([o.ctx.name], status["outbox_backlog"])
            for topic, partitions in status["log_position"].items():
                for partition, end in partitions.items():
                    ends.add_metric([topic, partition], end)
            for p in status["projections"]:
                dead.add_metric([p["group"]], p["dead_letters"])
                for where, n in p["lag_by_partition"].items():
                    topic, _, partition = where.rpartition("/")
                    lag.add_metric([p["group"], topic, partition], n)
        yield from (backlog, lag, dead, ends)
        yield from self._payment_runs()

    @staticmethod
    def _database_only(o: Observed, backlog: GaugeMetricFamily, dead: GaugeMetricFamily) -> None:
        try:
            with o.ctx.session_factory() as session:
                backlog.add_metric([o.ctx.name], outbox_backlog(session))
                counts = dead_letters_by_group(session)
        except Exception:
            log.warning("metrics: database of %s unavailable", o.ctx.name, exc_info=True)
            return
        for group in sorted({r.group for r in o.runners} | set(counts)):
            dead.add_metric([group], counts.get(group, 0))

    def _payment_runs(self) -> Iterator[Metric]:
        buckets = [0] * (len(RUN_BUCKETS_MS) + 1)
        run_ms = runs = payouts = total_fen = 0
        for o in self.observed:
            b, s, r, p, t = o.ctx.metrics.payment_runs()
            buckets = [x + y for x, y in zip(buckets, b)]
            run_ms, runs, payouts, total_fen = run_ms + s, runs + r, payouts + p, total_fen + t
        cumulative, running = [], 0
        for bound, count in zip((*(str(b / MS_PER_S) for b in RUN_BUCKETS_MS), "+Inf"), buckets):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily("injuryledger_payment_run_duration_seconds",
                                    "Time to create a payment run (plan, take the lines, commit)",
                                    buckets=cumulative, sum_value=run_ms / MS_PER_S)
        yield CounterMetricFamily("injuryledger_payment_runs", "Payment runs created", value=runs)
        yield CounterMetricFamily("injuryledger_payment_run_payouts", "Payouts in the payment runs created",
                                  value=payouts)
        # The exposition format has no exact decimals: exact fen stay in the ledger, this is for dashboards.
        yield CounterMetricFamily("injuryledger_payment_run_amount_yuan", "Yuan in the payment runs created",
                                  value=total_fen / 100)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram("injuryledger_http_request_duration_seconds",
                                 "Time to answer a request, by route template, method and status",
                                 ["route", "method", "status"], registry=registry)

    def observe(self, scope: Scope, status: int, elapsed_ns: int) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.latency.labels(route_label(scope), method, str(status)).observe(elapsed_ns / NS_PER_S)


def route_label(scope: Scope) -> str:
    """The route the router matched (its template), never the path the client sent."""
    given = scope.get(ROUTE_LABEL)
    if given:
        return given
    template = getattr(scope.get("route"), "path", None)
    return template or UNMATCHED


class RequestMetricsMiddleware:
    """Times each request, outermost, and records it under its route template (read from the
    scope after the router has matched)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started_ns = time.perf_counter_ns()
        status = {"code": 500}  # an error answered outside this middleware

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(scope, status["code"], time.perf_counter_ns() - started_ns)


def app_registry(observed: Sequence[Observed] = ()) -> tuple[CollectorRegistry, RequestMetrics]:
    """A fresh registry for one app: its request metrics, and the ledger's figures of `observed`."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    if observed:
        registry.register(LedgerCollector(observed))
    return registry, requests


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
