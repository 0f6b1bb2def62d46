"""The operator's commands: they talk to a running system over HTTP (`--url`, `--token`), so they
are the same against the embedded process and the distributed gateway."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from . import commands

    app.command("status")(commands.status)
    app.command("replay")(commands.replay)
    app.command("rebuild-read-models")(commands.rebuild_read_models)
    app.add_typer(commands.dead_letters, name="dead-letters")
