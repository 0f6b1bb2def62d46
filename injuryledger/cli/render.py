"""What the operator's commands print: rich tables of the JSON the endpoints answer."""
from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def status_table(doc: dict[str, Any]) -> Table:
    """`GET /v1/ops/status` as one table: a row per projection, the service's figures on its first."""
    table = Table(title="injuryledger status", title_justify="left")
    for column, justify in (("service", "left"), ("log position", "left"), ("outbox", "right"),
                            ("dead letters", "right"), ("projection", "left"), ("lag", "right"),
                            ("lag by partition", "left"), ("its dead letters", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for service in doc.get("services", []):
        first = (
            service.get("service", "?"),
            log_position(service.get("log_position") or {}),
            _number(service.get("outbox_backlog")),
            _alarm(service.get("dead_letters")),
        )
        projections = service.get("projections") or [{}]
        for i, p in enumerate(projections):
            lead = first if i == 0 else ("", "", "", "")
            group = p.get("group", "")
            table.add_row(*lead, group.split(f".{first[0]}.", 1)[-1], _alarm(p.get("lag")),
                          partition_lags(p.get("lag_by_partition") or {}), _alarm(p.get("dead_letters")),
                          end_section=i == len(projections) - 1)
    return table


def log_position(position: dict[str, dict[str, int]]) -> str:
    """{"topic": {"0": 12, "1": 3}} → "topic 15 (0:12 1:3)", one line a topic."""
    lines = []
    for topic, partitions in sorted(position.items()):
        total = sum(int(v) for v in partitions.values())
        parts = " ".join(f"{p}:{v}" for p, v in sorted(partitions.items(), key=lambda kv: int(kv[0])))
        lines.append(f"{topic} {total}" + (f" ({parts})" if len(partitions) > 1 else ""))
    return "\n".join(lines) or "-"


def partition_lags(lags: dict[str, int]) -> str:
    behind = {k: v for k, v in lags.items() if v}
    return " ".join(f"{k}:{v}" for k, v in sorted(behind.items())) or "-"


def _number(value: Any) -> str:
    return "-" if value is None else str(value)


def _alarm(value: Any) -> Text:
    """A figure that should be 0, in red when it is not."""
    if value is None:
        return Text("-")
    return Text(str(value), style="bold red" if value else "green")


def dead_letters_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title=f"dead letters ({len(items)})", title_justify="left")
    for column in ("id", "projection", "event", "from", "recorded", "state", "error"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            letter_id(item), item["projection"], item.get("event_id") or "(undecodable)",
            f"{item['topic']}/{item['partition']}/{item['offset']}", item["recorded_at"][:19],
            "redriven " + item["redriven_at"][:19] if item.get("redriven_at") else Text("open", style="bold red"),
            item.get("error", ""),
        )
    return table


def letter_id(item: dict[str, Any]) -> str:
    """How the commands name a dead letter: its service and its id there, `levy/3`."""
    return f"{item['service']}/{item['id']}"


def dead_letter_detail(item: dict[str, Any]) -> Group:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    for label, value in (("dead letter", letter_id(item)), ("consumer group", item["consumer"]),
                         ("from", f"{item['topic']} partition {item['partition']} offset {item['offset']}"),
                         ("event id", item.get("event_id") or "(undecodable)"), ("recorded", item["recorded_at"]),
                         ("redriven", item.get("redriven_at") or "no"),
                         ("event read from", item.get("event_source") or "nowhere: the log no longer holds it")):
        facts.add_row(label, str(value))
    parts: list[Any] = [facts, Text("\nerror", style="bold"), Text(item.get("error", ""))]
    if item.get("event") is not None:
        parts += [Text("\nevent", style="bold"), Text(json.dumps(item["event"], indent=2, ensure_ascii=False))]
    return Group(*parts)
