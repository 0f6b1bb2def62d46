"""Python's cyclic garbage collector paused around a bulk step.

A request that checks and records thousands of rows makes some hundred thousand small objects
(rows, commands, lines, the events' payloads) that live until it commits: on their count the
collector walks the whole heap again and again and finds nothing to free (reference counting
frees them). Paused for the step, it collects what became garbage meanwhile when it is back on.
Used by the import runner (a request) and the levy's bulk wage reports (a batch)."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    if not gc.isenabled():  # off already (another step, a caller): left as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
