"""The collector pause is one switch for the process: overlapping steps of two threads (a
consumer's batch written while its poll-ahead thread decodes the next) keep it off until the last
one ends, and a collector turned off by a caller stays off."""
from __future__ import annotations

import gc
import threading

from libs.collector import collector_paused


def test_overlapping_pauses_end_with_the_last() -> None:
    assert gc.isenabled()
    inner_in, inner_out = threading.Event(), threading.Event()

    def other_step() -> None:
        with collector_paused():
            inner_in.set()
            inner_out.wait(5)

    with collector_paused():
        thread = threading.Thread(target=other_step)
        thread.start()
        assert inner_in.wait(5)
    assert not gc.isenabled()  # the other thread's step is still running
    inner_out.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_turned_off_by_a_caller_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
