"""Command line: `run` (embedded), `serve SERVICE` and `gateway` (distributed), `migrate`."""
from __future__ import annotations

import argparse
import os
import secrets
import sys

import uvicorn

from libs.settings import SERVICE_NAMES, Settings
from libs.web.context import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="injuryledger")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the embedded system in one process (SQLite, in-process log)")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo region")
    serve = sub.add_parser("serve", help="one service of the distributed runtime")
    serve.add_argument("service", choices=SERVICE_NAMES)
    sub.add_parser("gateway", help="the gateway of the distributed runtime")
    migrate = sub.add_parser("migrate", help="migrate a service's database to the newest schema")
    migrate.add_argument("service", choices=SERVICE_NAMES)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "run":
        return _run_embedded(settings, demo=not args.no_demo)
    if args.command == "serve":
        from libs.runtime.distributed import ServiceProcess

        app = ServiceProcess(settings, args.service).app()
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
        return 0
    if args.command == "gateway":
        from libs.runtime.gateway import create_gateway

        uvicorn.run(create_gateway(settings), host=settings.host, port=settings.port, log_config=None)
        return 0
    if args.command == "migrate":
        from libs.db import make_engine, migrate as run_migrate

        run_migrate(make_engine(settings.database_url(args.service)), args.service)
        return 0
    return 2


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
    server = _ServerWithBanner(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None), banner)
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


if __name__ == "__main__":
    sys.exit(main())
