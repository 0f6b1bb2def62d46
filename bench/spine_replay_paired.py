"""The embedded projection and replay rounds of bench/spine_projection.py, paired: this tree's code
against the code before (another checkout, e.g. `git archive` of main into /tmp), alternating in
the same minutes on one log filled once.

Each side runs spine_projection's own `project_and_replay` from its own tree, in a process of its
own, on a fresh copy of the filled service database (so neither side's processed ids pile up in
the other's B-tree). Reports events/s and µs of CPU an event of the projection (live) and the
replay rounds, median (min–max), and the ratio this tree / the code before of each pair.

    BENCH_BEFORE_TREE=/tmp/base BENCH_PAIRS=3 BENCH_PROJECTION_EVENTS=200000 \\
        .venv/bin/python bench/spine_replay_paired.py [results-name]
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from bench.common import write_results  # noqa: E402

BEFORE = Path(os.environ.get("BENCH_BEFORE_TREE", "/tmp/base"))
THIS = Path(os.environ.get("BENCH_THIS_TREE", str(HERE)))  # a snapshot of this tree, to go on editing it
PAIRS = int(os.environ.get("BENCH_PAIRS", "3"))

# Run in the side's own tree (its bench/ and libs/ first on the path): one projection + replay.
_CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, os.getcwd())
from bench import spine_projection as sp
from libs.events.log import Topics
setup = sp.Setup("embedded", sys.argv[1], sys.argv[2], None)
setup.topics = Topics(sys.argv[3]); setup.topic = setup.topics.of("enrollment")
out = sp.project_and_replay(setup, int(sys.argv[4]))
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
out["load_avg_1m"] = round(os.getloadavg()[0], 1)
out["peak_rss_mib"] = usage.ru_maxrss // 1024
print("RESULT " + json.dumps(out))
"""


def fill(tmp: Path) -> str:
    """The log and the service database, filled and relayed once by this tree's code."""
    from bench import spine_projection as sp

    setup = sp.Setup("embedded", f"sqlite:///{tmp / 'svc.db'}", f"sqlite:///{tmp / 'log.db'}", None)
    sp.fill_and_relay(setup)
    return setup.topics.prefix


def one(tree: Path, tmp: Path, prefix: str, r: int) -> dict:
    svc = tmp / f"svc-{r}.db"
    shutil.copy(tmp / "svc.db", svc)
    done = subprocess.run([sys.executable, "-c", _CHILD, f"sqlite:///{svc}", f"sqlite:///{tmp / 'log.db'}", prefix, str(r)],
                          cwd=tree, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    svc.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{svc}{suffix}").unlink(missing_ok=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{tree}: {done.stderr[-3000:]}")
    out = json.loads(lines[-1][7:])
    n = int(os.environ.get("BENCH_PROJECTION_EVENTS", "200000"))
    for part in ("projection", "replay"):
        out[f"{part}_cpu_us_per_event"] = round(1e6 / out[f"{part}_events_per_cpu_s"], 2)
    out["events"] = n
    return out


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "spine_projection_paired"
    tmp = Path(tempfile.mkdtemp(prefix="replay-paired-"))
    try:
        prefix = fill(tmp)
        sides = {"before": BEFORE, "this": THIS}
        runs: dict[str, list[dict]] = {k: [] for k in sides}
        r = 0
        for pair in range(PAIRS):
            order = list(sides.items()) if pair % 2 == 0 else list(reversed(sides.items()))
            for side, tree in order:
                out = one(tree, tmp, prefix, r)
                r += 1
                runs[side].append(out)
                print(f"pair {pair + 1}/{PAIRS} {side}: {out}", flush=True)
        keys = ("projection_events_per_s", "replay_events_per_s", "projection_events_per_cpu_s",
                "replay_events_per_cpu_s", "projection_cpu_us_per_event", "replay_cpu_us_per_event")
        summary = {side: {k: spread([o[k] for o in outs]) for k in keys} for side, outs in runs.items()}
        ratios = {k: spread([t[k] / b[k] for t, b in zip(runs["this"], runs["before"])]) for k in keys}
        write_results(name, {"before_tree": str(BEFORE), "this_tree": str(THIS), "pairs": PAIRS,
                             "events": int(os.environ.get("BENCH_PROJECTION_EVENTS", "200000")),
                             "runs": runs, "summary": summary, "this_over_before": ratios,
                             "rebuilt_hash_equals_live": all(o["rebuilt_hash_equals_live"]
                                                             for outs in runs.values() for o in outs)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
