"""SIGTERM to the embedded `python -m injuryledger run`: the request in flight is answered and
committed, the process exits 0 within 10 s."""
from __future__ import annotations

import signal
import sqlite3
import sys
import time

import httpx

from tests.conftest import fresh_data_dir

from .support import STOP_LIMIT_S, InFlight, python_env, start_and_wait_for


def test_sigterm_to_the_embedded_run_answers_the_request_in_flight_and_exits_0(tmp_path, migrated_data_dir) -> None:  # noqa: ANN001
    from tests.harness.cluster import PORT_OFFSET

    port = 8009 + PORT_OFFSET  # beside the distributed layout's 8000..8004 of this run
    data = fresh_data_dir(migrated_data_dir, tmp_path / "data")
    run = start_and_wait_for([sys.executable, "-m", "injuryledger", "run", "--no-demo"],
                             python_env(INJURYLEDGER_DATA_DIR=str(data), INJURYLEDGER_PORT=str(port)),
                             tmp_path / "run.out", "injuryledger (embedded) on")
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # the banner comes just before the server listens
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "run.out").read_text()[-3000:]
                time.sleep(0.2)
        with InFlight(base) as in_flight:
            run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=STOP_LIMIT_S) == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    employer_id = in_flight.created()
    with sqlite3.connect(data / "enrollment.db") as db:
        stored = db.execute("select count(*) from events where aggregate_id = ?", (employer_id,)).fetchone()[0]
        unsent = db.execute("select count(*) from events where sent_at is null").fetchone()[0]
    assert (stored, unsent) == (1, 0)
