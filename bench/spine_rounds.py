"""Rounds for the spine benchmarks: ours and the peer alternate, each measurement in a forked
child of its own (fresh connections and caches, its own peak memory), three rounds, and every
figure reported as the median with its min and max. Not a benchmark itself (deploy/bench.sh runs
spine_appends.py and spine_projection.py)."""
from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import traceback
from typing import Any, Callable

ROUNDS = 3


def in_child(fn: Callable[..., dict], *args: Any) -> dict:
    """`fn(*args)` in a forked process; its result with `peak_rss_mib`, the child's high-water mark,
    `cpu_s`, the CPU seconds it used, and `load_avg_1m`, the machine's load when it ended (shared
    cores: a rate is read beside the load it ran under)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            out = fn(*args)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
            out["load_avg_1m"] = round(os.getloadavg()[0], 1)
            out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            child.send(("ok", out))
        except BaseException:  # noqa: BLE001 - carried to the parent, which raises it
            child.send(("error", traceback.format_exc()))

    process = ctx.Process(target=run)
    process.start()
    status, out = parent.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"a measurement failed in its child process:\n{out}")
    return out


def spread(values: list[float]) -> dict:
    """The median of the rounds, with the min and max."""
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def alternate(sides: dict[str, Callable[[int], dict]], rounds: int = ROUNDS) -> dict[str, list[dict]]:
    """Each side once per round, in turn (its round number as argument), so that the machine's
    load falls on both alike; returns each side's results, round by round."""
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for r in range(rounds):
        for name, fn in sides.items():
            out = in_child(fn, r)
            print(f"round {r + 1}/{rounds} {name}: {out}", flush=True)
            runs[name].append(out)
    return runs


def summarize(runs: list[dict]) -> dict:
    """Every numeric figure of a side's rounds as median/min/max (peak memory: the max)."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out: dict = {k: spread([r[k] for r in runs]) for k in keys if k != "peak_rss_mib"}
    out["peak_rss_mib"] = max(r.get("peak_rss_mib", 0) for r in runs)
    return out


def ratio(ours: list[dict], peer: list[dict], key: str) -> dict:
    """Ours over the peer, round by round (each pair ran back to back): median, min and max."""
    return spread([o[key] / p[key] for o, p in zip(ours, peer)])
