"""The spine under the operator's commands, on the embedded log and on Kafka with PostgreSQL: a
dead letter redriven after a fix takes effect once; a projection rebuilt into shadow tables while
the live one keeps projecting swaps in with the same state, and nothing is applied twice."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from libs.events.consumer import ConsumerRunner, group_lock_key
from libs.events.log_access import find_dead_letter_copy, read_record
from libs.events.shadow import ShadowRebuild
from libs.events.tables import dead_letters, processed_events
from tests.spine.support import TallyProjection, tally
from tests.spine.test_outbox_and_consumers import Rig, rig  # noqa: F401 - the fixture


class OwnedTally(TallyProjection):
    tables = (tally,)


def outcomes(rig: Rig, runner: ConsumerRunner) -> dict[str, int]:
    with rig.sessions() as s:
        rows = s.execute(select(processed_events.c.outcome, func.count()).where(
            processed_events.c.consumer == runner.group).group_by(processed_events.c.outcome)).all()
    return dict(rows)


def test_a_dead_letter_redriven_after_the_fix_takes_effect_once(rig: Rig) -> None:  # noqa: F811
    written = rig.write(3, poison_at=1)
    rig.relay().drain()
    projection = OwnedTally(poison_amount="666.66")
    runner = rig.runner(projection, max_attempts=1)
    rig.drain(runner, written)
    assert rig.projected() == written - 1
    with rig.sessions() as s:
        (letter,) = s.execute(select(dead_letters)).all()
    record = read_record(rig.log, letter.topic, letter.partition, letter.offset)
    assert record is not None
    copy = find_dead_letter_copy(rig.log, runner.dead_letter_topic, f"{letter.topic}/{letter.partition}/{letter.offset}")
    assert copy is not None and copy.value == record.value and copy.offset == letter.offset

    assert outcomes(rig, runner) == {"applied": written - 1, "dead": 1}
    projection.poison_amount = None  # the fix
    assert runner.redrive(letter.id, record) == "applied"
    assert runner.redrive(letter.id, record) == "already redriven"
    assert rig.projected() == written
    assert outcomes(rig, runner) == {"applied": written}
    with rig.sessions() as s:
        assert s.execute(select(dead_letters.c.redriven_at)).scalar_one() is not None


def test_a_redrive_that_still_fails_changes_nothing(rig: Rig) -> None:  # noqa: F811
    written = rig.write(2, poison_at=0)
    rig.relay().drain()
    runner = rig.runner(OwnedTally(poison_amount="666.66"), max_attempts=1)
    rig.drain(runner, written)
    with rig.sessions() as s:
        (letter,) = s.execute(select(dead_letters)).all()
    record = read_record(rig.log, letter.topic, letter.partition, letter.offset)
    try:
        runner.redrive(letter.id, record)
    except ValueError as exc:
        assert "poison" in str(exc)
    else:
        raise AssertionError("a redrive of a still-failing event must fail")
    assert outcomes(rig, runner) == {"applied": written - 1, "dead": 1}
    with rig.sessions() as s:
        assert s.execute(select(dead_letters.c.redriven_at)).scalar_one() is None


def test_a_shadow_rebuild_swaps_in_the_same_state_while_the_live_projection_goes_on(rig: Rig) -> None:  # noqa: F811
    written = rig.write(4)
    rig.relay().drain()
    live = rig.runner(OwnedTally())
    rig.drain(live, written)
    before = rig.state_hash()

    rebuild = ShadowRebuild(live, OwnedTally(), rig.engine, hold=True, max_batch=2)
    worker = threading.Thread(target=rebuild.run)
    worker.start()
    # The rebuild is held before its swap: the live projection still serves and still projects.
    while rebuild.state not in ("ready", "failed"):
        worker.join(0.05)
    assert rebuild.state == "ready", rebuild.error
    assert rebuild.shadow_state_hash == before == rebuild.state_hash_before
    assert rig.projected() == written
    more = rig.write(2)
    rig.relay().drain()
    rig.drain(live, more)
    after_more = rig.state_hash()
    rebuild.request_swap()
    worker.join(60)
    assert rebuild.state == "done", rebuild.error
    assert rebuild.state_hash == after_more == rig.state_hash()
    assert outcomes(rig, live) == {"applied": written + more}
    # The live group goes on from its own offsets: nothing the shadow read is applied again.
    last = rig.write(1)
    rig.relay().drain()
    rig.drain(live, last)
    assert rig.projected() == written + more + last
    assert outcomes(rig, live) == {"applied": written + more + last}


def test_on_postgresql_a_swap_holds_back_every_process_of_the_group(rig: Rig) -> None:  # noqa: F811
    """Another process's consumer of the group (scale-out) waits for the swap's exclusive lock
    before it writes a batch, and goes on once the swap is over."""
    if not rig.kafka:
        pytest.skip("one process only on the embedded runtime: its runner's own lock is enough")
    written = rig.write(2)
    rig.relay().drain()
    other = rig.runner(OwnedTally())
    key = group_lock_key(other.group)
    with rig.engine.connect() as swap:
        swap.execute(text("select pg_advisory_lock(:k)"), {"k": key})
        swap.commit()
        worker = threading.Thread(target=rig.drain, args=(other, written))
        worker.start()
        with rig.engine.connect() as probe:
            for _ in range(600):  # until the other process's batch is seen waiting on the lock
                waiting = probe.execute(text(
                    "select count(*) from pg_locks where locktype = 'advisory' and not granted "
                    "and database = (select oid from pg_database where datname = current_database())")).scalar_one()
                probe.rollback()
                if waiting:
                    break
                worker.join(0.1)
            assert waiting == 1 and rig.projected() == 0
        swap.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
        swap.commit()
    worker.join(60)
    assert rig.projected() == written
