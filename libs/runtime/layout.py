"""The distributed layout in one place: which processes run, with which command and settings.

`make run-distributed`, the test harness and deploy/docker-compose.yml all start exactly these
(a test checks the compose file against this list).
"""
from __future__ import annotations

from dataclasses import dataclass

from libs.settings import SERVICE_NAMES

GATEWAY_DATABASE = "gateway"  # the console's sessions, shared by every gateway process
SERVICE_PORTS = {"enrollment": 8001, "levy": 8002, "claims": 8003, "payments": 8004}
GATEWAY_PORT = 8000


@dataclass(frozen=True)
class Process:
    name: str
    argv: tuple[str, ...]  # after the python interpreter
    env: dict[str, str]


def database_name(service: str, suffix: str = "") -> str:
    return f"injuryledger_{service}{suffix}"


def database_url(pg_host: str, pg_port: int, service: str, suffix: str = "") -> str:
    return f"postgresql+psycopg://injuryledger:injuryledger@{pg_host}:{pg_port}/{database_name(service, suffix)}"


def databases() -> tuple[str, ...]:
    """Whose PostgreSQL databases the layout uses: each service's and the gateway's."""
    return (*SERVICE_NAMES, GATEWAY_DATABASE)


def processes(
    *,
    pg_host: str = "127.0.0.1",
    pg_port: int = 5432,
    kafka_bootstrap: str = "127.0.0.1:19092",
    service_host: str = "127.0.0.1",
    db_suffix: str = "",
    topic_prefix: str = "injuryledger.",
    port_offset: int = 0,
    in_compose: bool = False,
) -> list[Process]:
    """The processes; `in_compose` names each service's host by its compose service name."""
    urls = {s: f"http://{s if in_compose else '127.0.0.1'}:{SERVICE_PORTS[s] + port_offset}" for s in SERVICE_NAMES}
    common = {
        "INJURYLEDGER_MODE": "distributed",
        "INJURYLEDGER_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "INJURYLEDGER_TOPIC_PREFIX": topic_prefix,
    }
    out = []
    for s in SERVICE_NAMES:
        env = {
            **common,
            "INJURYLEDGER_SERVICE": s,
            "INJURYLEDGER_HOST": service_host,
            "INJURYLEDGER_PORT": str(SERVICE_PORTS[s] + port_offset),
            f"INJURYLEDGER_{s.upper()}_DB_URL": database_url(pg_host, pg_port, s, db_suffix),
        }
        out.append(Process(s, ("-m", "injuryledger", "serve", s), env))
    gateway_env = {**common, "INJURYLEDGER_HOST": service_host, "INJURYLEDGER_PORT": str(GATEWAY_PORT + port_offset)}
    gateway_env.update({f"INJURYLEDGER_{s.upper()}_URL": urls[s] for s in SERVICE_NAMES})
    gateway_env["INJURYLEDGER_GATEWAY_DB_URL"] = database_url(pg_host, pg_port, GATEWAY_DATABASE, db_suffix)
    out.append(Process("gateway", ("-m", "injuryledger", "gateway"), gateway_env))
    return out
