"""`injuryledger status | dead-letters list|show|redrive | replay | rebuild-read-models`."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from libs.settings import SERVICE_NAMES

from . import render
from .client import OpsClient, OpsError, TokenOption, UrlOption

POLL_S = 0.5
MAX_REDRIVE_ALL = 1000  # dead letters one `redrive --all` takes on


class _LazyConsole:
    """A rich Console made at first use in a command, so it sees that run's terminal, COLUMNS and
    streams (not those of whoever imported this module)."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr

    def __getattr__(self, name: str) -> Any:
        return getattr(Console(stderr=self.stderr), name)


out: Any = _LazyConsole()
err: Any = _LazyConsole(stderr=True)


@contextmanager
def _client(url: str, token: Optional[str]) -> Iterator[OpsClient]:
    """An OpsClient; an OpsError anywhere inside becomes its message on stderr and the exit code."""
    try:
        with OpsClient(url, token) as client:
            yield client
    except OpsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _print_json(doc: Any) -> None:
    out.print_json(json.dumps(doc, ensure_ascii=False))


def status(url: str = UrlOption, token: Optional[str] = TokenOption,
           as_json: bool = typer.Option(False, "--json", help="the raw JSON document")) -> None:
    """Per service: log position, lag of each projection, outbox backlog, dead letters."""
    with _client(url, token) as client:
        doc = client.get("/v1/ops/status")
    if as_json:
        _print_json(doc)
    else:
        out.print(render.status_table(doc))


dead_letters = typer.Typer(help="Events a projection could not apply: list, show, redrive after a fix.",
                           no_args_is_help=True)


@dead_letters.command("list")
def list_dead_letters(
    service: Optional[str] = typer.Option(None, "--service", help=f"one of {', '.join(SERVICE_NAMES)}"),
    state: str = typer.Option("open", "--state", help="open, redriven or all"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    url: str = UrlOption, token: Optional[str] = TokenOption,
    as_json: bool = typer.Option(False, "--json", help="the raw JSON document"),
) -> None:
    """The dead letters of every service (or one), oldest first."""
    with _client(url, token) as client:
        doc = client.get("/v1/ops/dead-letters", service=service, state=state, limit=limit)
    if as_json:
        _print_json(doc)
    else:
        out.print(render.dead_letters_table(doc["items"]))


def _letter_path(letter: str) -> str:
    service, _, number = letter.partition("/")
    if service not in SERVICE_NAMES or not number.isdigit():
        err.print(f"[bold red]error:[/] {letter!r} is not a dead letter id: SERVICE/NUMBER as `list` shows, "
                  f"e.g. levy/3", highlight=False)
        raise typer.Exit(2)
    return f"/v1/ops/dead-letters/{service}/{number}"


@dead_letters.command("show")
def show_dead_letter(letter: str = typer.Argument(..., metavar="ID", help="SERVICE/NUMBER, e.g. levy/3"),
                     url: str = UrlOption, token: Optional[str] = TokenOption,
                     as_json: bool = typer.Option(False, "--json", help="the raw JSON document")) -> None:
    """One dead letter: where it came from, the full error, and the event."""
    path = _letter_path(letter)
    with _client(url, token) as client:
        doc = client.get(path)
    if as_json:
        _print_json(doc)
    else:
        out.print(render.dead_letter_detail(doc))


@dead_letters.command("redrive")
def redrive(letter: Optional[str] = typer.Argument(None, metavar="[ID]", help="SERVICE/NUMBER, e.g. levy/3"),
            every: bool = typer.Option(False, "--all", help="every open dead letter (of --service)"),
            service: Optional[str] = typer.Option(None, "--service", help="with --all: only this service"),
            url: str = UrlOption, token: Optional[str] = TokenOption) -> None:
    """Apply dead-lettered events again, after the fix: each takes effect once, however often redriven."""
    if (letter is None) == (not every):
        err.print("[bold red]error:[/] name one dead letter (ID) or pass --all", highlight=False)
        raise typer.Exit(2)
    if letter is not None:
        path = _letter_path(letter)
        with _client(url, token) as client:
            doc = client.post(f"{path}/redrive")
        out.print(f"{render.letter_id(doc)}: {doc['outcome']}", highlight=False)
        return
    failed = 0
    with _client(url, token) as client:
        items = client.get("/v1/ops/dead-letters", service=service, state="open", limit=MAX_REDRIVE_ALL)["items"]
        outcomes: dict[str, int] = {}
        with _progress() as progress:
            task = progress.add_task("redriving", total=len(items))
            for item in items:
                try:
                    doc = client.post(f"/v1/ops/dead-letters/{item['service']}/{item['id']}/redrive")
                    outcomes[doc["outcome"]] = outcomes.get(doc["outcome"], 0) + 1
                except OpsError as exc:
                    if exc.exit_code == 2:
                        raise
                    failed += 1
                    progress.console.print(f"{render.letter_id(item)}: {exc}", highlight=False)
                progress.advance(task)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing to redrive"
    out.print(f"{summary}{f', {failed} still failing' if failed else ''}", highlight=False)
    if failed:
        raise typer.Exit(1)


def replay(service: str = typer.Argument(..., help=f"one of {', '.join(SERVICE_NAMES)}"),
           projection: str = typer.Argument(..., help="the projection's name, e.g. claims"),
           batch: int = typer.Option(1000, "--batch", min=1, max=5000, help="events a rebuild transaction applies"),
           timeout: float = typer.Option(3600, "--timeout", min=1, help="seconds to follow the replay"),
           url: str = UrlOption, token: Optional[str] = TokenOption) -> None:
    """Rebuild a projection from the start of the log into fresh tables while the old ones keep
    serving reads, then swap them in (no downtime). Follows the progress until done."""
    with _client(url, token) as client:
        doc = client.post("/v1/ops/replays", {"service": service, "projection": projection, "batch": batch})
        replay_id = doc["id"]
        deadline = time.monotonic() + timeout
        with _progress() as progress:
            task = progress.add_task(doc["state"], total=doc["total"])
            while doc["state"] not in ("done", "failed"):
                if time.monotonic() > deadline:
                    progress.stop()
                    err.print(f"[bold red]error:[/] still {doc['state']} after {timeout:.0f} s; "
                              f"it goes on in the system: GET /v1/ops/replays/{replay_id}", highlight=False)
                    raise typer.Exit(1)
                time.sleep(POLL_S)
                doc = client.get(f"/v1/ops/replays/{replay_id}")
                progress.update(task, description=doc["state"], total=doc["total"],
                                completed=doc["applied"])
            progress.update(task, completed=doc["total"])
    if doc["state"] == "failed":
        err.print(f"[bold red]replay {replay_id} failed:[/] {doc['error']}", highlight=False)
        raise typer.Exit(1)
    out.print(f"replay {replay_id}: {doc['group']} rebuilt from {doc['total']} records and swapped in\n"
              f"  state hash before {doc['state_hash_before']}\n"
              f"  state hash now    {doc['state_hash']}", highlight=False)


def rebuild_read_models(url: str = UrlOption, token: Optional[str] = TokenOption) -> None:
    """Enrollment: employers, workers and employments rebuilt from the event store."""
    with _client(url, token) as client, out.status("rebuilding enrollment's read models from its events"):
        doc = client.post("/v1/ops/rebuild-read-models")
    out.print(f"enrollment: {doc['aggregates']} aggregates rebuilt; read models hash {doc['state_hash']}",
              highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console())
