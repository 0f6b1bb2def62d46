"""Python's cyclic garbage collector paused around a bulk step.

A request that checks and records thousands of rows makes some hundred thousand small objects
(rows, commands, lines, the events' payloads) that live until it commits: on their count the
collector walks the whole heap again and again and finds nothing to free (reference counting
frees them). Paused for the step, it collects what became garbage meanwhile when it is back on.
Used by the import runner (a request), the levy's bulk wage reports (a batch) and the consumers
(a batch written, and the next one decoded meanwhile by the poll-ahead thread).

The collector is one switch for the whole process, and steps of different threads overlap (a
consumer's poll-ahead thread decodes while its batch is written): it is back on only when the
last of the overlapping steps ends, and never turned on by a step that found it off already.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pausing = 0  # steps in progress that turned the collector off, or found it turned off by one


@contextmanager
def collector_paused() -> Iterator[None]:
    global _pausing
    with _lock:
        if _pausing == 0 and not gc.isenabled():  # off already (a caller, not a step): left as it is
            owned = False
        else:
            owned = True
            _pausing += 1
            gc.disable()
    try:
        yield
    finally:
        if owned:
            with _lock:
                _pausing -= 1
                if _pausing == 0:
                    gc.enable()
