"""Rounds for the spine benchmarks: ours and the peer alternate, each measurement in a forked
child of its own (fresh connections and caches, its own peak memory), three rounds, and every
figure reported as the median with its min and max. Not a benchmark itself (deploy/bench.sh runs
spine_appends.py and spine_projection.py)."""
from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import time
import traceback
from typing import Any, Callable, Iterator

from bench.common import rate

ROUNDS = 3


def in_child(fn: Callable[..., dict], *args: Any) -> dict:
    """`fn(*args)` in a forked process; its result with `peak_rss_mib`, the child's high-water mark,
    `cpu_s`, the CPU seconds it used, and `load_avg_1m`, the machine's load when it ended (shared
    cores: a rate is read beside the load it ran under)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            child.send(("ok", {**fn(*args), **_process_figures()}))
        except BaseException:  # noqa: BLE001 - carried to the parent, which raises it
            child.send(("error", traceback.format_exc()))

    process = ctx.Process(target=run)
    process.start()
    status, out = parent.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"a measurement failed in its child process:\n{out}")
    return out


def _process_figures() -> dict:
    """This process's CPU seconds, the machine's load as it ends, and its peak memory."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "load_avg_1m": round(os.getloadavg()[0], 1),
            "peak_rss_mib": usage.ru_maxrss // 1024}


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


Slices = Iterator[tuple[str, int] | None]  # a side: set up, yield None, then a slice's (figure, count) per yield
MAX_SLICES = 1_000  # a side's slices a round: a bound, so a side that never ends fails the bench


def take_turns(sides: dict[str, Callable[[int], Slices]], rounds: int = ROUNDS) -> dict[str, list[dict]]:
    """Like `alternate`, but within a round the sides run side by side in processes of their own and
    take turns a slice at a time (each slice ≈ tens of milliseconds of work): a swing of the shared
    machine's load then falls on every side alike, not on whichever ran in that second. Only the
    slices are timed, each by its own process; a side's figure is its slices' count over their
    seconds (`rate`). Every side must yield the same figures in the same order, so they do the same
    work turn by turn."""
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    ctx = multiprocessing.get_context("fork")
    for r in range(rounds):
        pipes, processes = {}, []
        for name, fn in sides.items():
            parent, child = ctx.Pipe()
            process = ctx.Process(target=_slices_in_child, args=(fn, r, child))
            process.start()
            pipes[name] = parent
            processes.append(process)
        active, finished = list(pipes), False
        try:
            for name, pipe in pipes.items():
                _expect(pipe.recv(), name, "ready")
            for _turn in range(MAX_SLICES + 1):
                if not active:
                    break
                for name in list(active):
                    pipes[name].send("go")
                    status, out = pipes[name].recv()
                    _expect((status, out), name, "slice", "ok")
                    if status == "ok":
                        print(f"round {r + 1}/{rounds} {name}: {out}", flush=True)
                        runs[name].append(out)
                        active.remove(name)
            assert not active, f"sides still running after {MAX_SLICES} slices: {active}"
            finished = True
        finally:
            for process in processes:
                if not finished:  # a side failed: the others would wait for their turn for ever
                    process.terminate()
                process.join()
    return runs


def _expect(message: tuple, name: str, *statuses: str) -> None:
    status, out = message
    if status not in statuses:
        raise RuntimeError(f"side {name} failed in its child process:\n{out}")


def _slices_in_child(fn: Callable[[int], Slices], r: int, pipe: Any) -> None:  # noqa: ANN401 - a Connection
    try:
        slices = fn(r)
        next(slices)  # set up, untimed
        pipe.send(("ready", None))
        counted: dict[str, list] = {}  # figure -> [count, seconds]
        while pipe.recv() == "go":
            start = time.perf_counter()
            got = next(slices, None)
            seconds = time.perf_counter() - start
            if got is None:  # the side is done (what it did after its last slice, e.g. closing, untimed)
                break
            figure, count = got
            total = counted.setdefault(figure, [0, 0.0])
            total[0] += count
            total[1] += seconds
            pipe.send(("slice", None))
        out = {figure: rate(count, seconds) for figure, (count, seconds) in counted.items()}
        pipe.send(("ok", {**out, **_process_figures()}))
    except BaseException:  # noqa: BLE001 - carried to the parent, which raises it
        pipe.send(("error", traceback.format_exc()))


def summarize(runs: list[dict]) -> dict:
    """Every numeric figure of a side's rounds as median/min/max (peak memory: the max)."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out: dict = {k: spread([r[k] for r in runs]) for k in keys if k != "peak_rss_mib"}
    out["peak_rss_mib"] = max(r.get("peak_rss_mib", 0) for r in runs)
    return out


def ratio(ours: list[dict], peer: list[dict], key: str) -> dict:
    """Ours over the peer, round by round (each pair ran back to back): median, min and max."""
    return spread([o[key] / p[key] for o, p in zip(ours, peer)])
