"""Settings from the environment (prefix INJURYLEDGER_), one object for both runtimes."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.db import SQLITE_CACHE_MIB

SERVICE_NAMES = ("enrollment", "levy", "claims", "payments")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INJURYLEDGER_", extra="ignore")

    mode: Literal["embedded", "distributed"] = "embedded"
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    agency_token: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool | None = None  # unset: JSON unless stderr is a terminal
    # /readyz answers 503 while any projection is this many events or more behind its log.
    ready_max_lag: int = Field(10_000, ge=0)

    # Distributed runtime
    service: str | None = None  # which service this process runs
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = "injuryledger."
    topic_partitions: int = 4
    enrollment_db_url: str | None = None
    levy_db_url: str | None = None
    claims_db_url: str | None = None
    payments_db_url: str | None = None
    # The gateway's own database (the console's sessions): shared by every gateway process.
    gateway_db_url: str | None = None
    enrollment_url: str = "http://127.0.0.1:8001"
    levy_url: str = "http://127.0.0.1:8002"
    claims_url: str = "http://127.0.0.1:8003"
    payments_url: str = "http://127.0.0.1:8004"
    # How long a command waits for another service's events to reach this one (distributed).
    projection_wait_ms: int = 5_000

    # The operator console (/console): a session ends after this many idle minutes.
    console_idle_minutes: int = Field(15, gt=0, le=24 * 60)

    # Embedded runtime: each SQLite connection's page cache, at most (libs/db.py SQLITE_CACHE_MIB).
    sqlite_cache_mib: int = Field(SQLITE_CACHE_MIB, ge=1, le=64 * 1024)

    # Limits
    max_body_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 32

    def database_url(self, service: str) -> str:
        assert service in SERVICE_NAMES, service
        explicit = getattr(self, f"{service}_db_url")
        if explicit:
            return explicit
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def gateway_database_url(self) -> str:
        """The serving process's own database: the embedded app's (idempotency keys, console
        sessions) or the gateway's; SQLite in the data directory unless one is named."""
        return self.gateway_db_url or f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    def log_database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'log.db').resolve()}"

    def service_url(self, service: str) -> str:
        assert service in SERVICE_NAMES, service
        return getattr(self, f"{service}_url")
