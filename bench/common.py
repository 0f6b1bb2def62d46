"""Shared by the benchmarks: timing, memory, results files. Speeds are ratios against a named
peer measured in the same run on the same machine (machines here are shared and noisy)."""
from __future__ import annotations

import json
import os
import platform
import resource
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "bench-agency-token"


def embedded_runtime(name: str, folder: Path | None = None):  # noqa: ANN201 - (EmbeddedRuntime, Path)
    """The embedded system in a fresh temp folder, removed when the process ends (or `folder`,
    made and kept), with the bench's agency token, and the folder (for the peer's own files);
    access logs off, so the console shows results, not requests."""
    import logging

    from libs.runtime.embedded import EmbeddedRuntime
    from libs.settings import Settings

    logging.disable(logging.INFO)
    if folder is not None:
        folder.mkdir(parents=True)
        tmp = folder
    else:
        tmp = scratch_dir(name)
    os.environ["INJURYLEDGER_AGENCY_TOKEN"] = TOKEN
    return EmbeddedRuntime(Settings(data_dir=tmp / "data", agency_token=TOKEN, log_json=False)), tmp


def scratch_dir(name: str) -> Path:
    """A fresh folder `bench-<name>-…` in the temp folder, removed when the process ends (gigabytes at
    full size: a killed run's folder is the only one left behind)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@contextmanager
def timer() -> Iterator[dict]:
    out: dict = {}
    start = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - start


def rss_mib() -> int:
    """The current resident set size (peak_rss_mib gives the high-water mark)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "benchmark": name,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **results,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(json.dumps(doc, indent=2, default=str))
    return path


def rate(count: int, seconds: float) -> int:
    return int(count / seconds) if seconds > 0 else 0
