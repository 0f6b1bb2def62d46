"""The state of a service as an operator sees it: log position, lag of each projection, outbox
backlog, dead letters — and whether the process is ready to serve.

One function, `service_status`, answers `GET /v1/ops/status`, `injuryledger status`, the
metrics collector and `/readyz`, on both runtimes: the log (SQLite twin or Kafka) says where it
ends and where each consumer group stands; the service's database holds the outbox and the dead
letters. Everything is read at the time of asking, so every process of a service (and a process
just restarted) answers the same.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from libs.events.log import EventLog
from libs.events.relay import unsent_count
from libs.events.tables import dead_letters

if TYPE_CHECKING:  # observability imports this module, and the service context imports observability
    from .service import ServiceContext

log = logging.getLogger(__name__)


class Consumer(Protocol):
    """What the status needs of a consumer runner: its group and the topics it reads."""

    group: str
    topics: Sequence[str]


@dataclass(frozen=True)
class Observed:
    """One service of this process, as the status sees it."""

    ctx: ServiceContext
    log: EventLog
    runners: Sequence[Consumer]


def outbox_backlog(session: Session) -> int:
    """Events committed but not yet published to the log."""
    return unsent_count(session)


def dead_letters_by_group(session: Session) -> dict[str, int]:
    """Open dead letters by group: one redriven after its fix took effect and needs no one."""
    rows = session.execute(select(dead_letters.c.consumer, func.count())
                           .where(dead_letters.c.redriven_at.is_(None))
                           .group_by(dead_letters.c.consumer)).all()
    return {group: count for group, count in rows}


def service_status(ctx: ServiceContext, log: EventLog, runners: Sequence[Consumer]) -> dict[str, Any]:
    """`{"service", "log_position": {topic: {partition: end}}, "outbox_backlog", "projections":
    [{"group", "lag", "lag_by_partition": {"topic/partition": n}, "dead_letters"}], "dead_letters"}`.
    Raises if the database or the log cannot be reached."""
    with ctx.session_factory() as session:
        backlog = outbox_backlog(session)
        dead = dead_letters_by_group(session)
    position: dict[str, dict[str, int]] = {}
    for (topic, partition), end in sorted(log.log_end([ctx.topic]).items()):
        position.setdefault(topic, {})[str(partition)] = end
    projections = []
    for runner in runners:
        lag = log.lag(runner.group, list(runner.topics))
        projections.append({
            "group": runner.group,
            "lag": sum(lag.values()),
            "lag_by_partition": {f"{t}/{p}": n for (t, p), n in sorted(lag.items())},
            "dead_letters": dead.get(runner.group, 0),
        })
    return {"service": ctx.name, "log_position": position, "outbox_backlog": backlog,
            "projections": projections, "dead_letters": sum(dead.values())}


def readiness(observed: Sequence[Observed], databases: dict[str, Engine], max_lag: int) -> tuple[bool, dict[str, Any]]:
    """Ready when every database of the process answers, the log answers, and no projection is
    more than `max_lag` events behind. The body names each check ("ok" or why not) and gives each
    projection's lag; when not ready it is a problem document (status 503)."""
    checks: dict[str, str] = {}
    for name, engine in _each_database_once(observed, databases):
        checks[f"database:{name}"] = _probe(engine)
    projections = []
    for o in observed:
        if checks[f"database:{o.ctx.name}"] != "ok":
            continue
        try:
            status = service_status(o.ctx, o.log, o.runners)
        except Exception as exc:  # the log is away (the database answered just now)
            checks["log"] = _reason(exc)
            continue
        checks.setdefault("log", "ok")
        for p in status["projections"]:
            projections.append({"service": o.ctx.name, "group": p["group"], "lag": p["lag"]})
            checks[f"lag:{p['group']}"] = "ok" if p["lag"] <= max_lag else f"{p['lag']} events behind (limit {max_lag})"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"ready": ready, "checks": checks, "max_lag": max_lag, "projections": projections}
    if ready:
        return True, {"status": "ready", **body}
    failed = [f"{name}: {why}" for name, why in checks.items() if why != "ok"]
    return False, {"type": "about:blank", "title": "Not ready", "status": 503, "detail": "; ".join(failed[:5]), **body}


def _each_database_once(observed: Sequence[Observed], databases: dict[str, Engine]) -> list[tuple[str, Engine]]:
    """The services' databases, then any other the process uses (the embedded runtime keeps its
    idempotency keys apart; the distributed one keeps them in the service's own)."""
    out: list[tuple[str, Engine]] = [(o.ctx.name, o.ctx.engine) for o in observed]
    seen = {str(e.url) for _, e in out}
    for name, engine in databases.items():
        if str(engine.url) not in seen:
            seen.add(str(engine.url))
            out.append((name, engine))
    return out


def _probe(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        return _reason(exc)
    return "ok"


def _reason(exc: Exception) -> str:
    # The class only: a driver's message may carry a host name or a connection string.
    log.warning("readiness check failed: %s", exc.__class__.__name__)
    return f"unreachable ({exc.__class__.__name__})"
