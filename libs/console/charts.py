"""Chart data for the console's pages, shaped from the API's answers (Chart.js configuration:
rendered by static/console.js from a data attribute, so no script runs inline). Amounts stay
decimal strings: Chart.js reads a numeric string as its number, so no binary number is made here."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

FAMILIES = ("long_term", "short_term", "medical", "survivor")
COLOURS = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a", "#8a6d00", "#00707a")


def months_back(to: date, count: int) -> list[tuple[date, date]]:
    """The `count` calendar months ending with the month of `to`, each (first day, last day)."""
    out = []
    year, month = to.year, to.month
    for _ in range(count):
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        out.append((first, date.fromordinal(nxt.toordinal() - 1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def _config(kind: str, labels: list[str], datasets: list[dict], title: str, stacked: bool = False,
            percent: bool = False) -> str:
    for n, d in enumerate(datasets):
        d.setdefault("backgroundColor", COLOURS[n % len(COLOURS)])
        d.setdefault("borderColor", COLOURS[n % len(COLOURS)])
    scale: dict[str, Any] = {"stacked": stacked, "beginAtZero": True}
    if percent:
        scale["ticks"] = {"format": {"style": "percent"}}
    return json.dumps({"type": kind, "data": {"labels": labels, "datasets": datasets},
                       "options": {"responsive": True, "maintainAspectRatio": False, "animation": False,
                                   "plugins": {"title": {"display": True, "text": title}},
                                   "scales": {"x": {"stacked": stacked}, "y": scale}}})


def entitlements_by_month(lines: list[dict], title: str, label) -> str:  # noqa: ANN001
    """The claim's lines summed per month (a one-off grant counts in its month), stacked by kind."""
    per: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        month = (line.get("period") or line.get("period_start") or "")[:7]
        if month:
            per[line["kind"]][month] += Decimal(line["amount"])
    months = sorted({m for by in per.values() for m in by})
    datasets = [{"label": label(kind), "data": [str(per[kind].get(m, Decimal("0.00"))) for m in months]}
                for kind in sorted(per)]
    return _config("bar", months, datasets, title, stacked=True)


def fund_charts(statements: list[tuple[str, dict]], t, label) -> dict[str, str]:  # noqa: ANN001
    """Four charts from the statements of consecutive months: income against expenditure,
    expenditure by family, the collection rate, and the effective average rate against the control line."""
    months = [m for m, _ in statements]
    income = [str(Decimal(s["income"]["contributions_collected"]) + Decimal(s["income"]["late_fees_collected"]))
              for _, s in statements]
    spent = [s["expenditure"]["total"] for _, s in statements]
    families = [{"label": t(f"family.{f}"), "data": [s["expenditure"]["by_family"].get(f, "0.00")
                                                     for _, s in statements]} for f in FAMILIES]
    collection = [s.get("collection_rate") for _, s in statements]
    effective = [s["average_rate"].get("effective") for _, s in statements]
    control = [s["average_rate"]["control"] for _, s in statements]
    return {
        "income": _config("bar", months, [{"label": t("income"), "data": income},
                                          {"label": t("expenditure"), "data": spent}], t("income_vs_expenditure")),
        "families": _config("bar", months, families, t("by_family"), stacked=True),
        "collection": _config("line", months, [{"label": t("collection_rate"), "data": collection}],
                              t("collection_rate.chart"), percent=True),
        "rate": _config("line", months, [{"label": t("effective_rate"), "data": effective},
                                         {"label": t("control_line"), "data": control, "borderDash": [6, 4],
                                          "pointRadius": 0}], t("average_rate"), percent=True),
    }


def by_bank(rows: list[dict], title: str) -> str:
    return _config("bar", [r["bank"] for r in rows], [{"label": title, "data": [r["total"] for r in rows]}],
                   title)
