"""`injuryledger import KIND FILE [--dry-run] [--url] [--token]`: a go-live file posted to the
running system (either runtime: it speaks only the public API), in chunks, with a progress bar.

The file is read as a stream — a province's wage history is millions of rows — and posted
`--chunk-rows` rows at a time as one import (`import_id` and `first_row` carry on from chunk to
chunk, so the summary and the row numbers are the file's). An Excel workbook (.xlsx, the first
sheet, the same columns) is read in openpyxl's read-only mode and sent as the same CSV rows.
A chunk the system could not take (503, a lost connection) is sent again under the same
Idempotency-Key, so it is never recorded twice.
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

KINDS = ("employers", "employees", "wages", "accounts", "claims", "dependents")
MONTH_COLUMNS = frozenset({"period", "paid_through"})  # a date cell there is a month
DEFAULT_CHUNK_ROWS = 2_000
MAX_CHUNK_ROWS = 10_000  # what one request takes (libs/imports/rows.py), unless CHUNK_ROWS_OF says more
# the kinds whose requests take more rows (each kind's max_rows), posted that many at a time: a
# province's millions of short rows, and the fewer the requests the fewer the commits and pump rounds
CHUNK_ROWS_OF = {"employees": 20_000, "wages": 50_000}
MAX_ATTEMPTS = 6
MAX_BACKOFF_S = 10.0
TIMEOUT_S = 600


class ImportFailed(Exception):
    """The system refused the file itself (not a row of it): its problem, in words."""


# ---- reading the file, as a stream of rows ---------------------------------------------------

def read_texts(path: Path) -> tuple[list[str], Iterator[str]]:
    """The header, and each row as the CSV text a request carries: a CSV's line as it is in the
    file while no line has a quote (no parsing and writing again: a wages file is millions of
    plain lines), from the first that has one each row parsed and written (a quoted value may
    hold a comma or a line break); a workbook's rows written."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, records = _read_workbook(path)
        return header, map(_csv_texts(), records)
    handle = path.open(encoding="utf-8-sig", newline="")
    header = next(csv.reader(handle), None)  # the reader takes the header's line (or lines) only
    if header is None:
        handle.close()
        raise ImportFailed(f"{path} is empty: it starts with a header row naming the columns")

    def rows() -> Iterator[str]:
        with handle:
            for line in handle:
                if '"' in line:
                    text = _csv_texts()
                    for record in csv.reader(itertools.chain([line], handle)):
                        if "".join(record).strip():
                            yield text(record)
                    return
                if line.replace(",", "").strip():  # not a blank line (or one of blank fields)
                    yield line if line.endswith("\n") else line + "\n"

    return [h.strip() for h in header], rows()


def _csv_texts() -> Callable[[list[str]], str]:
    """A row as CSV text (quoted where it needs to be), one writer for a file's rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def text(record: list[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(record)
        return out.getvalue()

    return text


def _read_workbook(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    cells = book.worksheets[0].iter_rows(values_only=True)
    first = next(cells, None)
    if first is None:
        book.close()
        raise ImportFailed(f"{path} has an empty first sheet: it starts with a header row naming the columns")
    header = [str(v).strip() if v is not None else "" for v in first]
    while header and not header[-1]:
        header.pop()

    def rows() -> Iterator[list[str]]:
        try:
            for values in cells:
                record = [cell_text(header[i] if i < len(header) else "", v) for i, v in enumerate(values)]
                record = record[:len(header)] if not any(record[len(header):]) else record
                if any(v.strip() for v in record):
                    yield record
        finally:
            book.close()

    return header, rows()


def cell_text(column: str, value: Any) -> str:  # noqa: ANN401 - whatever a cell holds
    """A workbook cell as the CSV text of its column: dates ISO (a month for period columns),
    numbers without a float's noise, booleans `true`/`false`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%Y-%m") if column in MONTH_COLUMNS else value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and column not in ("wage", "payroll", "contribution", "paid",
                                                                         "insured_wage") else str(Decimal(repr(value)))
    return str(value).strip()


def chunks(rows: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_rows(path: Path) -> int | None:
    """For the bar's total: a CSV's lines after the header, counted in its bytes, not parsed (a
    blank line or a line break inside a quoted value makes it more than the rows: the bar is set
    to the rows posted at the end); a workbook's from its dimensions (None when it does not say)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            last = book.worksheets[0].max_row
        finally:
            book.close()
        return max(0, last - 1) if last else None
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(0, lines + (last != b"\n") - 1)


# ---- posting it --------------------------------------------------------------------------------

def post_chunk(client: httpx.Client, kind: str, body: bytes, params: dict[str, Any], key: str) -> dict[str, Any]:
    """One chunk, sent again (same Idempotency-Key) while the system answers 503 or the
    connection fails, at most MAX_ATTEMPTS times."""
    delay = 0.5
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            r = client.post(f"/v1/imports/{kind}", content=body, params=params,
                            headers={"Content-Type": "text/csv", "Idempotency-Key": key}, timeout=TIMEOUT_S)
        except httpx.TransportError as exc:
            if attempt == MAX_ATTEMPTS:
                raise ImportFailed(f"the system did not answer: {exc.__class__.__name__}") from exc
        else:
            if r.status_code == 201:
                return r.json()
            if r.status_code != 503 or attempt == MAX_ATTEMPTS:
                raise ImportFailed(_problem_text(r))
            delay = max(delay, float(r.headers.get("Retry-After", "1") or 1))
        time.sleep(min(delay, MAX_BACKOFF_S))
        delay *= 2
    raise AssertionError("unreachable")


def _problem_text(r: httpx.Response) -> str:
    try:
        doc = r.json()
    except ValueError:
        return f"HTTP {r.status_code}: {r.text[:300]}"
    errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in (doc.get("errors") or [])[:5])
    return f"HTTP {r.status_code} {doc.get('title', '')}: {errors or doc.get('detail', '')}"


class RateColumn(ProgressColumn):
    """Rows per second, and the rows rejected so far."""

    def render(self, task) -> Text:  # noqa: ANN001
        speed = task.finished_speed or task.speed
        rate = f"{speed:,.0f} rows/s" if speed else "– rows/s"
        rejected = task.fields.get("rejected", 0)
        return Text(f"{rate}  rejected {rejected:,}", style="red" if rejected else "green")


def import_file(client: httpx.Client, kind: str, path: Path, *, dry_run: bool = False,
                chunk_rows: int | None = None, console: Console | None = None) -> dict[str, Any]:
    """Post the file in chunks as one import (`chunk_rows` rows a request; by default the kind's
    own, CHUNK_ROWS_OF, else DEFAULT_CHUNK_ROWS); returns the final summary."""
    if kind not in KINDS:
        raise ImportFailed(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    chunk_rows = chunk_rows or CHUNK_ROWS_OF.get(kind, DEFAULT_CHUNK_ROWS)
    most = CHUNK_ROWS_OF.get(kind, MAX_CHUNK_ROWS)
    if not 1 <= chunk_rows <= most:
        raise ImportFailed(f"--chunk-rows is 1 to {most} for {kind}")
    console = console or Console(stderr=True)
    total = count_rows(path)
    header, rows = read_texts(path)
    head = _csv_texts()(header)
    run = uuid.uuid4().hex[:12]
    summary: dict[str, Any] | None = None
    first_row = 2  # the header is row 1
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"{kind}{' (dry run)' if dry_run else ''}", total=total, rejected=0)
        for number, batch in enumerate(chunks(rows, chunk_rows)):
            params: dict[str, Any] = {"dry_run": str(dry_run).lower(), "first_row": first_row}
            if summary is not None:
                params["import_id"] = summary["import_id"]
            summary = post_chunk(client, kind, (head + "".join(batch)).encode(), params, f"import-{run}-{number}")
            first_row += len(batch)
            progress.update(task, advance=len(batch), rejected=summary["rejected"])
        progress.update(task, total=first_row - 2)  # the rows posted (the count of lines is at most more)
    if summary is None:
        raise ImportFailed(f"{path} has no rows under its header")
    return summary


def show_summary(summary: dict[str, Any], console: Console, max_errors: int = 20) -> None:
    table = Table(title=f"import {summary['import_id']} ({summary['kind']}"
                        f"{', dry run: nothing recorded' if summary['dry_run'] else ''})")
    for name in ("rows", "accepted", "skipped", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{summary[n]:,}" for n in ("rows", "accepted", "skipped", "rejected")))
    console.print(table)
    if summary["totals"]:
        totals = Table(title="totals (reconcile with the old system's control totals)")
        totals.add_column("what")
        totals.add_column("total", justify="right")
        for key, value in _flat(summary["totals"]):
            totals.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
        console.print(totals)
    if summary["errors"]:
        errors = Table(title=f"rejected rows (first {min(max_errors, len(summary['errors']))} of "
                             f"{summary['rejected']:,})")
        for name in ("row", "field", "message"):
            errors.add_column(name)
        for e in summary["errors"][:max_errors]:
            errors.add_row(str(e["row"]), e["field"], e["message"])
        console.print(errors)


def _flat(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key} / ")
        else:
            yield f"{prefix}{key}", value


# ---- the command -------------------------------------------------------------------------------

def import_command(
    kind: Annotated[str, typer.Argument(help=f"one of {', '.join(KINDS)} (import them in that order)")],
    file: Annotated[Path, typer.Argument(help="a UTF-8 CSV with a header row, or an .xlsx workbook (first sheet)",
                                         exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, record nothing")] = False,
    url: Annotated[str, typer.Option(help="the running system (the gateway, or the embedded process)")] =
    "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(help="an agency token (default: $INJURYLEDGER_TOKEN, then "
                                                    "$INJURYLEDGER_AGENCY_TOKEN)")] = None,
    chunk_rows: Annotated[int | None, typer.Option(help=f"rows per request (default {DEFAULT_CHUNK_ROWS:,}; "
                                                         f"employees {CHUNK_ROWS_OF['employees']:,}, "
                                                         f"wages {CHUNK_ROWS_OF['wages']:,})")] = None,
) -> None:
    """Import one of the old system's files (MIGRATION.md) into the running ledger, with a
    progress bar and the summary at the end. Exits 1 if any row was rejected, 2 if the file
    as a whole was refused."""
    token = token or os.environ.get("INJURYLEDGER_TOKEN") or os.environ.get("INJURYLEDGER_AGENCY_TOKEN")
    console = Console(stderr=True)
    if not token:
        console.print("[red]no token: give --token or set INJURYLEDGER_TOKEN[/red]")
        raise typer.Exit(2)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        try:
            summary = import_file(client, kind, file, dry_run=dry_run, chunk_rows=chunk_rows, console=console)
        except ImportFailed as exc:
            console.print(f"[red]refused: {exc}[/red]")
            raise typer.Exit(2) from None
    show_summary(summary, Console())
    if summary["rejected"]:
        raise typer.Exit(1)


app = typer.Typer(help="Going live: import the old system's files", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """A group (`… import KIND FILE`), even with one command."""


app.command("import")(import_command)

if __name__ == "__main__":  # python -m injuryledger.imports_cli KIND FILE
    typer.run(import_command)
