"""Stopping on SIGTERM or SIGINT: the time budgets and the signal plumbing that the launcher,
the service processes, the gateway and the embedded `run` share.

A stop signal: the server stops accepting connections, lets the requests in flight finish (at
most GRACEFUL_S), then the service stops its relay and consumers (at most SERVICE_STOP_MS: the
relay publishes what is committed, each consumer commits the offsets of what it applied). The
launcher stops the gateway first, then the services, and SIGKILLs whatever is left after
STOP_BUDGET_MS, so the whole stop ends within 10 s.
"""
from __future__ import annotations

import ctypes
import gc
import os
import signal
from typing import Callable

GRACEFUL_S = 3  # uvicorn's timeout_graceful_shutdown: the requests in flight
SERVICE_STOP_MS = 2_500  # then a service's relay drain and consumers' last commits
GATEWAY_FIRST_MS = (GRACEFUL_S + 1) * 1_000  # the launcher waits this long for the gateway before the services
STOP_BUDGET_MS = 9_500  # from the signal to the last child reaped (SIGKILL after this)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def exit_zero_on_stop_signals() -> None:
    """SIGTERM and SIGINT end the process with exit code 0 (a stop asked for, not a failure).

    uvicorn handles both while it serves and raises the signal again once it has shut down
    gracefully; this handler turns that into a clean `SystemExit(0)`, so `finally` blocks run.
    Outside uvicorn (still starting: migrations, topics) it ends the start the same way.
    """

    def stop(signum: int, _frame: object) -> None:
        # The interpreter's last garbage collections walk the whole heap (every service's
        # modules): seconds on a busy machine. Frozen objects are skipped; the process is ending.
        gc.freeze()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for a child that must not outlive its parent, even a SIGKILLed one: Linux
    sends the child SIGTERM when the parent goes (then it stops as on any SIGTERM).

    The kernel ties this to the *thread* that forked: spawn from a thread that lives as long as
    the children (the launcher's and the test harness's main thread). Elsewhere than Linux it does
    nothing; the launcher's own signal handler still stops the children.
    """
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return lambda: None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: no exec
            os._exit(1)

    return preexec
