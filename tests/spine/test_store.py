"""The event store on SQLite and PostgreSQL: one code path, the same guarantees."""
from __future__ import annotations

import threading
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from libs.db import make_engine, session_factory
from libs.events.envelope import Envelope
from libs.events.store import ConcurrencyConflict, Context, EventStore, dumps
from libs.events.tables import core_metadata, events
from libs.events.uow import UnitOfWork

from .support import Account, Deposited, test_metadata


@pytest.fixture
def sessions(db_url: str):  # noqa: ANN201
    engine = make_engine(db_url)
    core_metadata.create_all(engine)
    test_metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def uow(sessions) -> UnitOfWork:  # noqa: ANN001
    return UnitOfWork(sessions, "injuryledger.enrollment", Context(actor="tester", correlation_id="c-1"))


def test_append_then_read_back_in_order_unsent_to_their_topic(sessions) -> None:  # noqa: ANN001
    account = Account("acct-1")
    for amount in ("1.00", "2.50", "3.25"):
        account.deposit(Decimal(amount))
    with uow(sessions) as u:
        written = u.save(account)
    assert [e.sequence for e in written] == [1, 2, 3]
    with uow(sessions) as u:
        again = u.load(Account, "acct-1")
        assert again.balance == Decimal("6.75") and again.version == 3
        history = u.store.read_aggregate("acct-1")
        assert [e.event_id for e in history] == [e.event_id for e in written]
        assert all(e.actor == "tester" and e.correlation_id == "c-1" for e in history)
        unsent = u.session.execute(select(events.c.topic).where(events.c.sent_at.is_(None))).scalars().all()
        assert unsent == ["injuryledger.enrollment"] * 3
        # What an append answers is what it stored, and an envelope as validation makes it.
        assert history == written == [Envelope(**e.model_dump()) for e in written]
        assert all(e.model_fields_set == set(Envelope.model_fields) for e in written)


def test_many_aggregates_read_together_as_each_alone(sessions) -> None:  # noqa: ANN001
    """`read_aggregates` (a go-live's chunk of claims) answers each aggregate's history as
    `read_aggregate` does, in sequence order, and leaves out one that has no events."""
    accounts = [Account(f"acct-many-{n}") for n in range(3)]
    for n, account in enumerate(accounts):
        for amount in ("1.00", "2.00")[: n + 1]:
            account.deposit(Decimal(amount))
    with uow(sessions) as u:
        u.save_new(accounts)
    with uow(sessions) as u:
        together = u.store.read_aggregates(["acct-many-2", "acct-many-0", "acct-many-1", "acct-none"])
        assert together == {a.id: u.store.read_aggregate(a.id) for a in accounts}
        assert [e.sequence for e in together["acct-many-2"]] == [1, 2]


@pytest.mark.parametrize("causation_id", [None, uuid.UUID("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b")])
@pytest.mark.parametrize("correlation_id", [None, "corr-7"])
def test_the_context_and_the_day_stored_as_given_alone_or_many(sessions, causation_id, correlation_id) -> None:  # noqa: ANN001
    """Whichever of the context's optional fields are absent (SQLite writes those as NULL in its
    statement), one event or many, new or going on: each event reads back as the append answered
    it, with its own day (one-event appends keep the last day's text)."""
    context = Context(actor="ctx-tester", correlation_id=correlation_id, causation_id=causation_id)
    days = [date(2026, 3, 1), date(2026, 3, 1), date(2027, 12, 31), date(2026, 3, 1)]
    one, many = Account(f"acct-one-{causation_id}-{correlation_id}"), Account(f"acct-many-{causation_id}-{correlation_id}")
    written = []
    for day in days:  # one event a unit of work: the first new, the rest going on
        one.deposit(Decimal("1.00"), on=day)
        with UnitOfWork(sessions, "injuryledger.enrollment", context) as u:
            written += u.save(one)
    for day in days:
        many.deposit(Decimal("2.00"), on=day)
    with UnitOfWork(sessions, "injuryledger.enrollment", context) as u:
        written += u.save(many)
    with uow(sessions) as u:
        stored = u.store.read_aggregate(one.id) + u.store.read_aggregate(many.id)
    assert stored == written
    assert [e.occurred_on for e in stored] == days * 2
    assert all((e.causation_id, e.correlation_id, e.actor) == (causation_id, correlation_id, "ctx-tester")
               for e in stored)


def test_a_payload_reads_back_exactly_whatever_its_characters(sessions) -> None:  # noqa: ANN001
    """The payloads travel to PostgreSQL inside one JSON document (many events) or alone (one):
    quotes, backslashes, braces, commas, CJK text and line separators are stored as `dumps` writes
    them and come back as written."""
    memo = 'a "quoted", {braced} \\ back\\slash, 工伤保险 \u00e9 NULL \u2028 \U0001f600'
    many, one = Account("acct-chars"), Account("acct-char")
    for _ in range(3):
        many.trigger(Deposited(amount=Decimal("1.00"), memo=memo), date(2026, 1, 5))
    one.trigger(Deposited(amount=Decimal("1.00"), memo=memo), date(2026, 1, 5))
    with uow(sessions) as u:
        u.save(many)
        u.save(one)
    with uow(sessions) as u:
        assert [e.payload["memo"] for e in u.store.read_aggregate("acct-chars")] == [memo] * 3
        assert [e.payload["memo"] for e in u.store.read_aggregate("acct-char")] == [memo]
    with sessions() as s:
        assert s.execute(select(events.c.payload)).scalars().all() == [dumps({"amount": "1.00", "memo": memo})] * 4


def test_a_stale_version_is_a_conflict_and_writes_nothing(sessions) -> None:  # noqa: ANN001
    first = Account("acct-2")
    first.deposit(Decimal("1.00"))
    with uow(sessions) as u:
        u.save(first)
    stale = Account("acct-2")  # believes the account is new
    stale.deposit(Decimal("9.99"))
    with pytest.raises(ConcurrencyConflict):
        with uow(sessions) as u:
            u.save(stale)
    with sessions() as s:
        assert s.execute(select(events.c.sequence).where(events.c.aggregate_id == "acct-2")).scalars().all() == [1]
        assert len(s.execute(select(events.c.position).where(events.c.sent_at.is_(None))).all()) == 1
    # The conflict's connection was rolled back and goes on serving: the next appends, new and after.
    again = Account("acct-2b")
    again.deposit(Decimal("2.00"))
    with uow(sessions) as u:
        u.save(again)
    again.deposit(Decimal("3.00"))
    with uow(sessions) as u:
        u.save(again)
    with sessions() as s:
        assert s.execute(select(events.c.sequence).where(events.c.aggregate_id == "acct-2b")
                         .order_by(events.c.sequence)).scalars().all() == [1, 2]


def test_a_save_held_for_the_commit_is_seen_by_what_follows_and_undone_with_the_rest(sessions) -> None:  # noqa: ANN001
    """On PostgreSQL a unit of work's first save waits to travel with its COMMIT (one round trip):
    whatever uses the transaction after it sees its events, a later save's conflict undoes it,
    and a save alone is written only once its unit of work commits. SQLite writes at once: the
    same outcomes."""
    seed = Account("acct-held-seed")
    seed.deposit(Decimal("1.00"))
    with uow(sessions) as u:
        u.save(seed)
    first, stale = Account("acct-held-1"), Account("acct-held-seed")  # `stale` believes it is new
    first.deposit(Decimal("2.00"))
    stale.deposit(Decimal("3.00"))
    with pytest.raises(ConcurrencyConflict):
        with uow(sessions) as u:
            u.save(first)
            u.save(stale)
    again = Account("acct-held-2")
    again.deposit(Decimal("4.00"))
    again.deposit(Decimal("5.00"))
    with uow(sessions) as u:
        u.save(again)
        with sessions() as outside:  # not committed yet: another transaction sees none of it
            assert outside.execute(select(events.c.sequence).where(events.c.aggregate_id == "acct-held-2")).all() == []
        assert [e.sequence for e in u.store.read_aggregate("acct-held-2")] == [1, 2]
    with sessions() as s:
        rows = s.execute(select(events.c.aggregate_id, events.c.sequence).order_by(events.c.position)).all()
    assert [tuple(r) for r in rows] == [("acct-held-seed", 1), ("acct-held-2", 1), ("acct-held-2", 2)]


def test_a_connection_that_lost_the_prepared_append_prepares_it_again(sessions) -> None:  # noqa: ANN001
    """PostgreSQL: a unit of work that only appends runs its append as a prepared statement; on a
    connection without it (psycopg's `DEALLOCATE ALL` after a rollback) the append still commits."""
    from libs.db import DriverTransaction
    from libs.events.store import append_events
    from libs.events.uow import new_events

    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared appends are PostgreSQL's")

    def prepared(transaction: DriverTransaction) -> list[str]:
        found = transaction.driver.pgconn.exec_(b"SELECT name FROM pg_prepared_statements")
        return [found.get_value(i, 0).decode() for i in range(found.ntuples)]

    for n, events_a_save in enumerate((1, 3)):  # the one-event statement and the many-event one
        account = Account(f"acct-prepared-{n}")
        for _ in range(events_a_save):
            account.deposit(Decimal("1.00"))
        transaction = DriverTransaction(engine)
        try:
            transaction.driver.pgconn.exec_(b"DEALLOCATE ALL")
            assert prepared(transaction) == []
            append_events(transaction, "t", account.aggregate_type, account.id, 0, new_events(account.pending),
                          Context(actor="t"))
            transaction.commit()
            assert len([name for name in prepared(transaction) if name.startswith("injuryledger_write_")]) == 1
        finally:
            transaction.close()
    with sessions() as s:
        assert s.execute(select(events.c.aggregate_id, events.c.sequence).order_by(events.c.position)).all() == [
            ("acct-prepared-0", 1), ("acct-prepared-1", 1), ("acct-prepared-1", 2), ("acct-prepared-1", 3)]


def test_a_version_ahead_of_the_store_is_refused_so_no_gap_can_form(sessions) -> None:  # noqa: ANN001
    with sessions() as s, s.begin():
        store = EventStore(s, "t")
        with pytest.raises(ConcurrencyConflict):
            from libs.events.store import NewEvent
            from datetime import date

            store.append("spine_account", "acct-3", 5, [NewEvent("SpineDeposited", 2, {"amount": "1.00", "memo": ""}, date(2026, 1, 1))],
                         Context(actor="t"))


def test_two_concurrent_writers_one_wins_the_other_conflicts_no_gap(sessions) -> None:  # noqa: ANN001
    seed = Account("acct-4")
    seed.deposit(Decimal("1.00"))
    with uow(sessions) as u:
        u.save(seed)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def writer(amount: str) -> None:
        with uow(sessions) as u:
            account = u.load(Account, "acct-4")
        account.deposit(Decimal(amount))
        barrier.wait()  # both hold version 1 and now race to write version 2
        try:
            with uow(sessions) as u:
                u.save(account)
            outcomes.append("won")
        except ConcurrencyConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(a,)) for a in ("2.00", "3.00")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "won"]
    with sessions() as s:
        sequences = s.execute(select(events.c.sequence).where(events.c.aggregate_id == "acct-4")
                              .order_by(events.c.sequence)).scalars().all()
    assert sequences == [1, 2]


def test_read_after_a_position_pages_through_everything(sessions) -> None:  # noqa: ANN001
    for i in range(5):
        a = Account(f"acct-p{i}")
        a.deposit(Decimal("1.00"))
        a.deposit(Decimal("2.00"))
        with uow(sessions) as u:
            u.save(a)
    with sessions() as s:
        store = EventStore(s, "t")
        seen, position = [], 0
        while page := store.read_after(position, limit=3):
            seen.extend(e for _, e in page)
            position = page[-1][0]
    assert len(seen) == 10
    assert [(e.aggregate_id, e.sequence) for e in seen][:2] == [("acct-p0", 1), ("acct-p0", 2)]


def test_events_and_read_model_rows_commit_together_or_not_at_all(sessions) -> None:  # noqa: ANN001
    """The unit of work begins with the driver; a Session made later joins that transaction."""
    from .support import tally

    def deposit_and_tally(account_id: str, fail: bool) -> None:
        account = Account(account_id)
        account.deposit(Decimal("4.00"))
        with uow(sessions) as u:
            [written] = u.save(account)
            u.session.execute(tally.insert().values(event_id=str(written.event_id), aggregate_id=account_id,
                                                    sequence=1, amount="4.00"))
            if fail:
                raise RuntimeError("the command fails after writing")

    deposit_and_tally("acct-kept", fail=False)
    with pytest.raises(RuntimeError):
        deposit_and_tally("acct-lost", fail=True)
    with sessions() as s:
        assert s.execute(select(events.c.aggregate_id)).scalars().all() == ["acct-kept"]
        assert len(s.execute(select(events.c.position).where(events.c.sent_at.is_(None))).all()) == 1
        assert s.execute(select(tally.c.aggregate_id)).scalars().all() == ["acct-kept"]


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(postgres) -> None:  # noqa: ANN001
    """No ping per checkout: a connection whose backend was terminated (as a restart does) is
    seen dead by its readable socket and replaced; the next unit of work just works."""
    import time

    from sqlalchemy import text

    name = f"il_test_dead_pooled_{uuid.uuid4().hex[:8]}"  # two checkouts' runs never share it
    engine = make_engine(postgres.fresh_database(name))
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    with engine.connect() as conn:
        pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
    killer = make_engine(postgres.url(name))
    with killer.connect() as conn:
        assert conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        # A transaction sees pg_stat_activity as it was at its first look: a new one each time.
        while conn.rollback() or conn.execute(text("select count(*) from pg_stat_activity where pid = :pid"),
                                              {"pid": pid}).scalar_one():
            time.sleep(0.05)
    account = Account("acct-after")
    account.deposit(Decimal("1.00"))
    with uow(sessions) as u:
        u.save(account)
    with engine.connect() as conn:
        assert conn.execute(text("select pg_backend_pid()")).scalar_one() != pid
        assert conn.execute(select(events.c.aggregate_id)).scalars().all() == ["acct-after"]
    killer.dispose()
    engine.dispose()


def test_a_kept_connection_the_server_closed_is_replaced_and_dispose_closes_them(postgres) -> None:  # noqa: ANN001
    """A unit of work keeps its connection for the next one (no pool round trip). If the server
    closes it meanwhile (a restart terminates every backend), the next unit of work gets a live
    one; the engine's dispose closes the kept ones with the pool's."""
    import time

    from sqlalchemy import text

    name = f"il_test_dead_kept_{uuid.uuid4().hex[:8]}"
    engine = make_engine(postgres.fresh_database(name))
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    killer = make_engine(postgres.url(name))

    def backends(conn) -> list[int]:  # noqa: ANN001
        conn.rollback()  # a transaction sees pg_stat_activity as it was at its first look: a new one
        return conn.execute(text("select pid from pg_stat_activity where datname = :db and pid <> pg_backend_pid()"),
                            {"db": name}).scalars().all()

    def until_none_of(conn, pids: list[int]) -> None:  # noqa: ANN001
        deadline = time.monotonic() + 30
        while set(backends(conn)) & set(pids):
            assert time.monotonic() < deadline, "the backends never went"
            time.sleep(0.05)

    for aggregate_id in ("acct-before", "acct-after"):
        account = Account(aggregate_id)
        account.deposit(Decimal("1.00"))
        with uow(sessions) as u:
            u.save(account)
        if aggregate_id == "acct-before":
            with killer.connect() as conn:
                pids = backends(conn)
                assert pids  # the kept connection at least
                for pid in pids:
                    conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
                until_none_of(conn, pids)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(events.c.aggregate_id)).scalars().all()) == ["acct-after", "acct-before"]
    with killer.connect() as conn:
        open_before = backends(conn)
        engine.dispose()
        until_none_of(conn, open_before)
    killer.dispose()


def test_an_append_records_the_time_it_reads_as_utc_now_and_sqlite_timestamp_do() -> None:
    """recorded_now (a one-event append's clock) is utc_now's moment and sqlite_timestamp's text of
    it, across second boundaries."""
    import time

    from libs.events.envelope import utc_now
    from libs.events.store import recorded_now, sqlite_timestamp

    for _ in range(4):
        before = utc_now()
        moment, text = recorded_now()
        after = utc_now()
        assert before <= moment <= after and moment.tzinfo is before.tzinfo
        assert text == sqlite_timestamp(moment)
        time.sleep(0.35)
