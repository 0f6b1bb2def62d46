"""The embedded log's pages (SqliteConsumer.poll_page): a batch read by SQLite in one step must be
exactly the records `poll` reads, decoded to the same envelopes, wherever the fast path applies
and wherever it does not."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from libs.db import make_engine, session_factory
from libs.events.decode import DecodedOnce, decode_batch, json_array
from libs.events.log import FROM_STORE, Page, Record, next_offsets
from libs.events.relay import OutboxRelay
from libs.events.sqlite_log import SqliteLog
from libs.events.store import Context
from libs.events.tables import core_metadata
from libs.events.uow import UnitOfWork

from .support import Account, test_metadata

TOPIC, OTHER = "p.enrollment", "p.levy"


@pytest.fixture
def log(tmp_path):  # noqa: ANN001, ANN201
    """A log whose topic holds 12 events from the store, interleaved with another topic's records."""
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    core_metadata.create_all(engine)
    test_metadata.create_all(engine)
    sessions = session_factory(engine)
    log = SqliteLog(make_engine(f"sqlite:///{tmp_path / 'log.db'}"))
    for i in range(4):
        a = Account(f"acct-{uuid.uuid4().hex[:8]}")
        for d in range(3):
            a.deposit(Decimal(f"{d + 1}.00"))
        with UnitOfWork(sessions, TOPIC, Context(actor="t")) as u:
            u.save(a)
        OutboxRelay(sessions, log, "enrollment").drain()
        log.publish([Record(OTHER, b"k", b'{"other": %d}' % i, (FROM_STORE,))])
    yield log
    log.close()
    engine.dispose()


def test_a_page_is_the_records_poll_reads_in_one_step(log: SqliteLog) -> None:
    records = log.consumer("a", [TOPIC]).poll(5)
    page = log.consumer("b", [TOPIC]).poll_page(5)
    assert isinstance(page, Page) and len(page) == 5 and page.from_store
    assert next_offsets(page) == next_offsets(records) == {(TOPIC, 0): 5}
    assert page.places() == [(r.topic, r.partition, r.offset) for r in records]
    assert page.values_json == json_array(records)  # the values, in the offsets' order
    assert list(page) == records and page[0] == records[0] and page[-1] == records[-1]  # read when asked


def test_pages_go_on_where_the_last_ended_and_end_with_an_empty_batch(log: SqliteLog) -> None:
    consumer = log.consumer("a", [TOPIC])
    pages = [consumer.poll_page(5) for _ in range(4)]
    assert [len(p) for p in pages] == [5, 5, 2, 0] and pages[3] == []
    assert [r.offset for p in pages for r in p] == list(range(12))
    assert [r.offset for r in log.consumer("b", [TOPIC]).poll(12)] == list(range(12))


def test_a_page_of_records_not_all_from_the_store_says_so(log: SqliteLog) -> None:
    log.publish([Record(TOPIC, b"k", b"{}", (("note", b"origin=store"), ("origin", b"storex")))])
    consumer = log.consumer("a", [TOPIC])
    assert consumer.poll_page(12).from_store
    page = consumer.poll_page(12)
    assert len(page) == 1 and not page.from_store


def test_pages_of_empty_values_are_read_too(log: SqliteLog) -> None:
    log.publish([Record(OTHER, b"k", b"", ())] * 2)
    consumer = log.consumer("a", [OTHER])
    consumer.seek_to_beginning()
    consumer._position[OTHER] = 4  # past the fixture's four
    page = consumer.poll_page(12)
    assert len(page) == 2 and page.values_json == json_array(list(page)) == b"[,]"  # as records' would be
    assert [r.value for r in page] == [b"", b""]


def test_a_page_decodes_to_the_envelopes_its_records_decode_to(log: SqliteLog) -> None:
    records = log.consumer("a", [TOPIC]).poll(12)
    page = log.consumer("b", [TOPIC]).poll_page(12)
    (from_page, page_ids), (from_records, ids) = decode_batch(page), decode_batch(records)
    assert page_ids == ids and [e.validated() for e in from_page] == [e.validated() for e in from_records]
    once = DecodedOnce()
    envelopes, _ = once(page)
    again, again_ids = once(records)  # the same places: taken, not decoded again
    assert again_ids == ids and all(a is b for a, b in zip(envelopes, again))


def test_a_consumer_of_several_topics_polls_records(log: SqliteLog) -> None:
    batch = log.consumer("a", [TOPIC, OTHER]).poll_page(20)
    assert not isinstance(batch, Page) and len(batch) == 16 and {r.topic for r in batch} == {TOPIC, OTHER}


def test_a_page_holds_about_page_bytes_of_values(log: SqliteLog, monkeypatch) -> None:  # noqa: ANN001
    from libs.events import sqlite_log

    monkeypatch.setattr(sqlite_log, "PAGE_BYTES", 1_000)  # a value is some 370 bytes
    consumer = log.consumer("a", [TOPIC])
    sizes = []
    while page := consumer.poll_page(12):
        sizes.append(len(page))
        assert len(page.values_json) < 1_000
    assert set(sizes) == {2} and sum(sizes) == 12  # the first page's too, from the values after it
    monkeypatch.setattr(sqlite_log, "PAGE_BYTES", 1 << 20)
    assert len(log.consumer("b", [TOPIC]).poll_page(12)) == 12


def test_a_page_over_what_sqlite_makes_one_value_of_is_read_as_records(tmp_path, log: SqliteLog) -> None:  # noqa: ANN001
    import sqlite3

    from sqlalchemy import event

    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    event.listen(engine, "connect", lambda conn, _: conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2_000))
    small = SqliteLog(engine)
    consumer = small.consumer("a", [TOPIC])
    batch = consumer.poll_page(12)  # 12 values of some 370 bytes: more than 2,000 bytes
    assert not isinstance(batch, Page) and [r.offset for r in batch] == list(range(12))
    assert consumer.poll_page(12) == [] and consumer._page_rows == 1
    small.close()
