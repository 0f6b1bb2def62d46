"""Outbox → log → projection, on the embedded log and on a real Kafka broker (with PostgreSQL).

Each test ends by counting: events in = events projected, none twice.
"""
from __future__ import annotations

import gc
import uuid
import weakref
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from libs import collector
from libs.db import make_engine, session_factory
from libs.events import consumer as consumer_module
from libs.events.consumer import ConsumerRunner, Projection
from libs.events.kafka_log import KafkaLog
from libs.events.log import Record, Topics
from libs.events.relay import OutboxRelay
from libs.events.sqlite_log import SqliteLog
from libs.events.store import Context
from libs.events.tables import consumer_positions, core_metadata, dead_letters, events, processed_events
from libs.events.uow import UnitOfWork

from .support import Account, TallyProjection, test_metadata


class Rig:
    """One service database with its outbox, a log, and a consumer group over it."""

    def __init__(self, db_url: str, log, prefix: str) -> None:  # noqa: ANN001
        self.engine = make_engine(db_url)
        core_metadata.create_all(self.engine)
        test_metadata.create_all(self.engine)
        self.sessions = session_factory(self.engine)
        self.log, self.topics = log, Topics(prefix)
        self.topic = self.topics.of("enrollment")
        self.kafka = isinstance(log, KafkaLog)
        if self.kafka:
            log.ensure_topics([self.topic], partitions=4)

    def write(self, n_aggregates: int, deposits: int = 3, poison_at: int | None = None) -> int:
        written = 0
        for i in range(n_aggregates):
            a = Account(f"acct-{uuid.uuid4().hex[:8]}")
            for d in range(deposits):
                amount = "666.66" if poison_at == i and d == 0 else f"{d + 1}.00"
                a.deposit(Decimal(amount))
            with UnitOfWork(self.sessions, self.topic, Context(actor="t")) as u:
                written += len(u.save(a))
        return written

    def relay(self, **kw) -> OutboxRelay:  # noqa: ANN003
        return OutboxRelay(self.sessions, self.log, "enrollment", **kw)

    def runner(self, projection: TallyProjection | None = None, group: str = "g", **kw) -> ConsumerRunner:  # noqa: ANN003
        group = self.topics.prefix + group
        return ConsumerRunner(projection or TallyProjection(), self.sessions, self.log, group, [self.topic],
                              self.topics.dead_letter(group), **kw)

    def drain(self, runner: ConsumerRunner, expect: int, rounds: int = 200) -> None:
        """Run the consumer until it has seen `expect` more records (Kafka needs a few polls to join)."""
        seen = 0
        for _ in range(rounds):
            seen += runner.run_once(timeout_ms=500 if self.kafka else 0)
            if seen >= expect:
                return
        raise AssertionError(f"consumer read {seen} of {expect} records")

    def projected(self) -> int:
        with self.sessions() as s:
            return TallyProjection().count(s)

    def state_hash(self) -> str:
        with self.sessions() as s:
            return TallyProjection().state_hash(s)

    def unsent(self) -> int:
        with self.sessions() as s:
            return len(s.execute(select(events.c.position).where(events.c.sent_at.is_(None))).all())


@pytest.fixture(params=["embedded", "kafka"])
def rig(request, tmp_path):  # noqa: ANN001, ANN201
    prefix = f"t{uuid.uuid4().hex[:10]}."
    if request.param == "embedded":
        log = SqliteLog(make_engine(f"sqlite:///{tmp_path / 'log.db'}"))
        r = Rig(f"sqlite:///{tmp_path / 'svc.db'}", log, prefix)
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        pg = request.getfixturevalue("postgres")
        log = KafkaLog(bootstrap)
        r = Rig(pg.fresh_database(f"il_spine_{uuid.uuid4().hex[:8]}"), log, prefix)
    yield r
    log.close()
    r.engine.dispose()


def test_events_reach_a_projection_through_the_log(rig: Rig) -> None:
    written = rig.write(4)
    assert rig.relay().drain() == written and rig.unsent() == 0
    runner = rig.runner()
    rig.drain(runner, written)
    assert rig.projected() == written == runner.applied


def test_relay_killed_after_commit_before_publish_loses_nothing(rig: Rig) -> None:
    written = rig.write(3)  # committed; the relay "dies" before it ever runs
    assert rig.unsent() == written
    rig.relay().drain()  # the restarted relay
    runner = rig.runner()
    rig.drain(runner, written)
    assert rig.projected() == written


def test_relay_killed_after_publish_before_marking_sends_again_and_the_projection_applies_once(rig: Rig) -> None:
    written = rig.write(3)

    def crash() -> None:
        raise SystemExit("relay killed after publishing, before marking sent")

    with pytest.raises(SystemExit):
        rig.relay(after_publish=crash).run_once()
    assert rig.unsent() == written  # the mark never committed
    rig.relay().drain()  # the restarted relay publishes the same batch again
    runner = rig.runner()
    rig.drain(runner, 2 * written)  # every event is in the log twice
    assert rig.projected() == written
    assert runner.applied == written and runner.skipped == written


def test_two_relays_on_one_database_send_every_event_once(rig: Rig) -> None:
    """Each relay reads on from what it last saw sent (on SQLite: the position after its last
    sent event, no index of the unsent ones); one that is behind the other skips what the other
    sent and still finds what is new."""
    first, second = rig.relay(), rig.relay()
    written = rig.write(2)
    assert first.drain() == written and second.drain() == 0
    more = rig.write(2)
    assert second.drain() == more and first.drain() == 0
    last = rig.write(1)
    assert first.drain() == last and second.drain() == 0 and rig.unsent() == 0
    runner = rig.runner()
    rig.drain(runner, written + more + last)
    assert rig.projected() == written + more + last == runner.applied and runner.skipped == 0


def test_the_same_event_delivered_twice_changes_the_projection_once(rig: Rig) -> None:
    written = rig.write(2)
    rig.relay().drain()
    runner = rig.runner()
    rig.drain(runner, written)
    before = rig.state_hash()
    # Redeliver: a consumer killed between its database commit and its offset commit.
    runner.close()
    replica = rig.runner(group="g")
    rig.log.reset_group(replica.group, replica.topics)
    rig.drain(replica, written)
    assert replica.skipped == written and replica.applied == 0
    assert rig.state_hash() == before


def test_marking_ids_processed_returns_exactly_the_new_ones_whichever_way_it_is_written(rig: Rig) -> None:
    """A batch of new ids goes in as a plain bulk insert; one that meets an id already there (or
    holds one twice, or an id that is not plain text) is told apart by the checking statement."""
    from libs.db import writing

    ids = [str(uuid.uuid4()) for _ in range(6)]
    odd = 'an "odd"\tid\\'  # quote, tab, backslash: not written as plain text
    with writing(rig.sessions) as s:
        assert consumer_module.mark_processed(s.connection(), "g1", ids[:3], take_turn=True) == set(ids[:3])
    with writing(rig.sessions) as s:  # two already there, one twice, three new
        fresh = consumer_module.mark_processed(s.connection(), "g1", [ids[1], ids[3], ids[3], ids[2], ids[4], odd])
    assert fresh == {ids[3], ids[4], odd}
    with writing(rig.sessions) as s:  # another group has processed none of them
        assert consumer_module.mark_processed(s.connection(), "g2", ids) == set(ids)
    with writing(rig.sessions) as s:
        assert consumer_module.mark_processed(s.connection(), "g1", ids + [odd]) == {ids[5]}


def test_replaying_the_whole_log_into_an_empty_projection_gives_the_same_state(rig: Rig) -> None:
    written = rig.write(5)
    rig.relay().drain()
    runner = rig.runner()
    rig.drain(runner, written)
    before = rig.state_hash()
    runner.replay()
    assert rig.projected() == 0
    rig.drain(runner, written)
    assert rig.state_hash() == before and rig.projected() == written


def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_consumer_carries_on(rig: Rig) -> None:
    written = rig.write(3, poison_at=1)  # one event of the second aggregate is poison
    rig.relay().drain()
    runner = rig.runner(TallyProjection(poison_amount="666.66"), max_attempts=2)
    rig.drain(runner, written)
    assert rig.projected() == written - 1 and runner.dead == 1
    with rig.sessions() as s:
        (dead,) = s.execute(select(dead_letters)).all()
    assert "poison" in dead.error
    dlq = rig.log.consumer(f"{rig.topics.prefix}dlq-reader", [runner.dead_letter_topic])
    found: list[Record] = []
    for _ in range(40):
        found += dlq.poll(10, 500)
        if found:
            break
    dlq.close()
    assert len(found) == 1 and dict(found[0].headers)["consumer"] == runner.group.encode()
    # Later events still flow.
    more = rig.write(1)
    rig.relay().drain()
    rig.drain(runner, more)
    assert rig.projected() == written - 1 + more


@pytest.fixture
def poll_ahead_on_small_batches(monkeypatch):  # noqa: ANN001, ANN201
    """Poll-ahead from batches of two records on (it is for big batches), so a few events show it."""
    monkeypatch.setattr(consumer_module, "POLL_AHEAD_MIN_RECORDS", 2)


def test_with_poll_ahead_every_event_is_projected_once_and_the_state_is_the_replayed_one(
        rig: Rig, poll_ahead_on_small_batches) -> None:  # noqa: ANN001
    written = rig.write(10)
    rig.relay().drain()
    runner = rig.runner(max_batch=4)
    rig.drain(runner, written)
    assert rig.projected() == written == runner.applied and runner.skipped == 0
    before = rig.state_hash()
    runner.replay()
    rig.drain(runner, written)
    assert rig.state_hash() == before and rig.projected() == written


def test_a_batch_read_ahead_then_dropped_by_close_is_delivered_again_and_applied_once(
        rig: Rig, poll_ahead_on_small_batches) -> None:  # noqa: ANN001
    written = rig.write(10)
    rig.relay().drain()
    runner = rig.runner(max_batch=4)
    first = 0
    for _ in range(40):  # Kafka: the first polls may come back empty while the group forms
        first = runner.run_once(timeout_ms=500 if rig.kafka else 0)
        if first:
            break
    runner.close()  # whatever was read ahead is not committed: it is not lost either
    replica = rig.runner(max_batch=4)
    rig.drain(replica, written - first)
    assert rig.projected() == written
    assert replica.applied == written - first and replica.skipped == 0


def test_with_poll_ahead_a_poison_event_is_dead_lettered_and_the_rest_applied(
        rig: Rig, poll_ahead_on_small_batches) -> None:  # noqa: ANN001
    written = rig.write(4, poison_at=2)
    rig.relay().drain()
    runner = rig.runner(TallyProjection(poison_amount="666.66"), max_attempts=2, max_batch=4)
    rig.drain(runner, written)
    assert rig.projected() == written - 1 and runner.dead == 1 and runner.applied == written - 1


class _Ignoring(Projection):
    """Dispatches as the base does, with a handler for another type only (as the policies'
    projections read the enrollment topic for PolicyPublished alone)."""

    name = "ignoring"
    sources = ("enrollment",)

    def on_SomethingElse(self, session, e) -> None:  # noqa: ANN001
        raise AssertionError("no such event was written")


class _Dispatching(_Ignoring):
    name = "dispatching"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_SpineDeposited(self, session, e) -> None:  # noqa: ANN001
        self.seen.append(str(e.event_id))


class _Watched(TallyProjection):
    """A tally that keeps a weak reference to every envelope it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[weakref.ref] = []

    def handle_batch(self, session, envelopes) -> None:  # noqa: ANN001
        self.seen += [weakref.ref(e) for e in envelopes]
        super().handle_batch(session, envelopes)


def test_a_batch_is_let_go_of_before_the_collector_is_back_on(rig: Rig, poll_ahead_on_small_batches,  # noqa: ANN001
                                                               monkeypatch) -> None:  # noqa: ANN001
    """The collector is paused while a batch is written; when it is back on, the batch's envelopes
    are gone already (else its first collection walks them all, alive, for nothing)."""
    written = rig.write(6)
    rig.relay().drain()
    projection = _Watched()
    runner = rig.runner(projection, max_batch=4)
    alive_at_enable: list[int] = []

    class Collector:  # libs.collector's gc, noting what the batches left alive when it is turned on
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(gc, name)

        def enable(self) -> None:
            alive_at_enable.append(sum(ref() is not None for ref in projection.seen))
            gc.enable()

    monkeypatch.setattr(collector, "gc", Collector())
    rig.drain(runner, written)
    assert rig.projected() == written == len(projection.seen)
    assert alive_at_enable and set(alive_at_enable) == {0}


def test_records_of_a_type_the_projection_has_no_handler_for_are_passed_by_unmarked(rig: Rig) -> None:
    assert _Ignoring().handled_types() == {"SomethingElse"} and TallyProjection().handled_types() is None
    written = rig.write(3)
    rig.relay().drain()
    ignoring, dispatching = rig.runner(_Ignoring(), group="ignoring"), rig.runner(_Dispatching(), group="dispatching")
    rig.drain(ignoring, written)
    rig.drain(dispatching, written)
    with rig.sessions() as s:
        marked = dict(s.execute(select(processed_events.c.consumer, func.count()).group_by(
            processed_events.c.consumer)).all())
        positions = dict(s.execute(select(consumer_positions.c.consumer, func.sum(consumer_positions.c.next_offset))
                                   .group_by(consumer_positions.c.consumer)).all())
    assert ignoring.group not in marked and ignoring.applied == 0  # nothing decoded, nothing marked
    assert marked[dispatching.group] == written == len(dispatching.projector.seen) == dispatching.applied
    assert positions[ignoring.group] == positions[dispatching.group] > 0  # both read past every record


def test_a_batch_that_failed_records_its_positions_before_its_offsets_are_committed(rig: Rig) -> None:
    """The database away for the batch's transaction (a restart): the records are retried one by
    one, and the batch's positions are still recorded — those of records the projection passes by
    too — or a request's consistency token naming them would wait for ever (CI, stop 26)."""
    written = rig.write(3)
    rig.relay().drain()
    ignoring, dispatching = rig.runner(_Ignoring(), group="ignoring"), rig.runner(_Dispatching(), group="dispatching")
    for runner in (ignoring, dispatching):
        real, failed = runner._apply_batch, []

        def once_away(records, ends, decoded=None, real=real, failed=failed):  # noqa: ANN001, ANN202
            if not failed:
                failed.append(len(records))
                raise OperationalError("COMMIT", {}, Exception("the database system is shutting down"))
            return real(records, ends, decoded)

        runner._apply_batch = once_away
        rig.drain(runner, written)
        assert failed, "the first batch was not made to fail"
    with rig.sessions() as s:
        positions = dict(s.execute(select(consumer_positions.c.consumer, func.sum(consumer_positions.c.next_offset))
                                   .group_by(consumer_positions.c.consumer)).all())
    # The dispatching group applied every record one by one, each with its position: the one
    # that passes every record by must have reached the same positions.
    assert positions.get(ignoring.group) == positions.get(dispatching.group) > 0
    assert len(dispatching.projector.seen) == written == dispatching.applied


def test_a_batchs_next_offsets_are_the_highest_offset_after_each_partition() -> None:
    """One partition (the quick path) or several, in order or not, with an offset twice."""
    from libs.events.log import next_offsets

    def batch(*spots: tuple[str, int, int]) -> list[Record]:
        return [Record(topic=t, key=b"k", value=b"{}", partition=p, offset=o) for t, p, o in spots]

    assert next_offsets([]) == {}
    assert next_offsets(batch(("a", 0, 3), ("a", 0, 4), ("a", 0, 5))) == {("a", 0): 6}
    assert next_offsets(batch(("a", 0, 5), ("a", 0, 3), ("a", 0, 5))) == {("a", 0): 6}
    assert next_offsets(batch(("a", 0, 1), ("a", 1, 7), ("a", 0, 2))) == {("a", 0): 3, ("a", 1): 8}
    assert next_offsets(batch(("a", 0, 1), ("b", 0, 9), ("a", 0, 4))) == {("a", 0): 5, ("b", 0): 10}
