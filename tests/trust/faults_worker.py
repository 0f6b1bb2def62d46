"""A consumer in a process of its own, for fault tests: `python -m tests.trust.faults_worker
DB_URL BOOTSTRAP TOPIC GROUP MODE` projects the tally; MODE `crash` kills the process right after
its first database commit and before the offset commit, MODE `run` drains for a while."""
from __future__ import annotations

import os
import sys
import time

from libs.db import make_engine, session_factory
from libs.events.consumer import ConsumerRunner
from libs.events.kafka_log import KafkaLog
from tests.spine.support import TallyProjection


def main() -> None:
    db_url, bootstrap, topic, group, mode = sys.argv[1:6]
    sessions = session_factory(make_engine(db_url))

    def crash() -> None:
        os._exit(137)  # as a SIGKILL would: no cleanup, no offset commit

    runner = ConsumerRunner(TallyProjection(), sessions, KafkaLog(bootstrap), group, [topic], group + ".dlq",
                            max_batch=50, before_offset_commit=crash if mode == "crash" else None)
    deadline = time.monotonic() + float(os.environ.get("WORKER_SECONDS", "20"))
    expect = int(os.environ.get("WORKER_EXPECT", "0"))  # stop once the tally holds this many rows
    while time.monotonic() < deadline:
        if runner.run_once(timeout_ms=500) == 0 and expect:
            with sessions() as s:
                if TallyProjection().count(s) >= expect:
                    break
    runner.close()
    print(f"applied={runner.applied} skipped={runner.skipped}", flush=True)


if __name__ == "__main__":
    main()
