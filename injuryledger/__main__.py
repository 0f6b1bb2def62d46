"""Command line: `run` (embedded), `serve SERVICE` and `gateway` (distributed), `migrate`, and the
operator's commands over HTTP (`status`, `dead-letters`, `replay`, `rebuild-read-models`:
injuryledger/cli/), the same against either runtime."""
from __future__ import annotations

import enum
import os
import secrets
import sys

import typer
import uvicorn

from libs.runtime.lifecycle import GRACEFUL_S, exit_zero_on_stop_signals
from libs.settings import SERVICE_NAMES, Settings
from libs.web.context import configure_logging

cli = typer.Typer(name="injuryledger", no_args_is_help=True, add_completion=False,
                  help="The ledger of a work-injury insurance fund: run it, and operate it.")
Service = enum.Enum("Service", {name: name for name in SERVICE_NAMES}, type=str)  # type: ignore[misc]


def _settings() -> Settings:
    exit_zero_on_stop_signals()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


@cli.command()
def run(no_demo: bool = typer.Option(False, "--no-demo", help="do not load the demo region")) -> None:
    """The embedded system in one process (SQLite, in-process log)."""
    raise typer.Exit(_run_embedded(_settings(), demo=not no_demo))


@cli.command()
def serve(service: Service = typer.Argument(..., help="which service this process runs")) -> None:
    """One service of the distributed runtime."""
    from libs.runtime.distributed import ServiceProcess

    settings = _settings()
    app = ServiceProcess(settings, service.value).app()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=GRACEFUL_S)


@cli.command()
def gateway() -> None:
    """The gateway of the distributed runtime."""
    from libs.runtime.gateway import create_gateway

    settings = _settings()
    uvicorn.run(create_gateway(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=GRACEFUL_S)


@cli.command()
def migrate(service: Service = typer.Argument(..., help="whose database")) -> None:
    """Migrate a service's database to the newest schema."""
    from libs.db import make_engine, migrate as run_migrate

    settings = _settings()
    run_migrate(make_engine(settings.database_url(service.value), sqlite_cache_mib=settings.sqlite_cache_mib), service.value)


def _register_operator_commands() -> None:
    from injuryledger.cli import register
    from injuryledger.imports_cli import import_command

    register(cli)
    cli.command("import")(import_command)  # going live: a legacy file into the running system


def _run_embedded(settings: Settings, demo: bool) -> int:
    from libs.runtime.embedded import EmbeddedRuntime
    from libs.web.context import quieted

    if settings.agency_token is None:
        token = secrets.token_urlsafe(24)
        os.environ["INJURYLEDGER_AGENCY_TOKEN"] = token
        settings = Settings()
    token = settings.agency_token.get_secret_value()  # type: ignore[union-attr]
    runtime = EmbeddedRuntime(settings)
    app = runtime.app()
    people: list[tuple[str, str]] = []
    if demo:
        from libs.runtime.demo import issue_console_tokens, load_demo

        with quieted("injuryledger.http", "httpx"):  # the demo's fifty requests would bury the banner
            load_demo(app, token)
            people = issue_console_tokens(app, token)
    runtime.start_background()
    base = f"http://{settings.host}:{settings.port}"
    banner = (
        f"\ninjuryledger (embedded) on {base}\n"
        f"  API docs:     {base}/docs\n"
        f"  agency token: {token}\n"
        f"  data folder:  {settings.data_dir.resolve()}\n"
        f"  try: curl -H 'Authorization: Bearer {token}' {base}/v1/policies/000000\n"
        f"  console:      {base}/console\n"
        + "".join(f"    sign in as {person}: {personal}\n" for person, personal in people)
    )
    server = _ServerWithBanner(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                                                   timeout_graceful_shutdown=GRACEFUL_S), banner)
    try:
        server.run()
    finally:
        runtime.close()
    return 0


class _ServerWithBanner(uvicorn.Server):
    """Prints the banner once it listens: the last lines on the terminal, after uvicorn's own."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets=None) -> None:  # noqa: ANN001 - uvicorn's signature
        await super().startup(sockets)
        if self.started:
            print(self.banner, file=sys.stderr, flush=True)


_register_operator_commands()

if __name__ == "__main__":
    cli(prog_name="injuryledger")
