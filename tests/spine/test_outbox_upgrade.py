"""Core v5 folds the outbox into the events table: a running fund upgrades without losing an
unrelayed event or sending a relayed one again. A database at core v4 with events in every state
the old outbox knew — relayed with its log position, relayed before positions were recorded
(core v1), not yet relayed — is upgraded; the relay then sends exactly the unrelayed ones, to
their topic, and the relayed ones keep their log positions."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from libs.db import SERVICES_DIR, make_engine, migrate, session_factory
from libs.events.log import Record
from libs.events.relay import OutboxRelay

SENT_AT = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


class Captured:
    """A log that keeps what it is given, at offsets 100, 101, … of partition 0."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def publish(self, records: list[Record]) -> list[tuple[int, int]]:
        start = 100 + len(self.records)
        self.records.extend(records)
        return [(0, start + i) for i in range(len(records))]


def upgrade_to(engine, service: str, revision: str) -> None:  # noqa: ANN001
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["service"] = service
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def write_v4_event(conn, position: int, outbox: tuple | None) -> None:  # noqa: ANN001
    """An event and its outbox row (topic, sent_at, log_partition, log_offset) as core v4 wrote them."""
    conn.execute(text(
        "INSERT INTO events (position, event_id, aggregate_type, aggregate_id, sequence, type, schema_version, "
        "occurred_on, recorded_at, actor, payload) VALUES (:p, :id, 'employer', :agg, 1, 'EmployerEnrolled', 1, "
        ":on, :at, 'tester', :payload)"),
        {"p": position, "id": str(uuid.uuid4()), "agg": f"emp-{position}", "on": date(2026, 11, 30), "at": SENT_AT,
         "payload": f'{{"n":{position}}}'})
    if outbox is not None:
        topic, sent_at, partition, offset = outbox
        conn.execute(text("INSERT INTO outbox (position, topic, sent_at, log_partition, log_offset) "
                          "VALUES (:p, :t, :s, :lp, :lo)"),
                     {"p": position, "t": topic, "s": sent_at, "lp": partition, "lo": offset})


def test_unrelayed_events_stay_unrelayed_and_relayed_ones_stay_relayed(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_to(engine, "enrollment", "enrollment_core_v4")
    topic = "injuryledger.enrollment"
    with engine.begin() as conn:
        write_v4_event(conn, 1, (topic, SENT_AT, None, None))  # relayed before core v2 recorded positions
        write_v4_event(conn, 2, (topic, SENT_AT, 3, 41))  # relayed: partition 3, offset 41
        write_v4_event(conn, 3, (topic, None, None, None))  # committed, not yet relayed
        write_v4_event(conn, 4, (topic, None, None, None))
    migrate(engine, "enrollment")

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT position, topic, sent_at IS NOT NULL, log_partition, log_offset "
                                 "FROM events ORDER BY position")).all()
        assert [tuple(r) for r in rows] == [(1, topic, True, None, None), (2, topic, True, 3, 41),
                                            (3, topic, False, None, None), (4, topic, False, None, None)]
        assert "outbox" not in conn.dialect.get_table_names(conn)
    log = Captured()
    assert OutboxRelay(session_factory(engine), log, "enrollment").drain() == 2
    assert [(r.topic, r.key) for r in log.records] == [(topic, b"emp-3"), (topic, b"emp-4")]
    assert OutboxRelay(session_factory(engine), log, "enrollment").drain() == 0  # nothing sent twice
    with engine.connect() as conn:
        assert conn.execute(text("SELECT position, log_partition, log_offset FROM events WHERE position > 1 "
                                 "ORDER BY position")).all() == [(2, 3, 41), (3, 0, 100), (4, 0, 101)]
    engine.dispose()


def test_an_event_without_its_outbox_row_stops_the_upgrade(db_url: str) -> None:
    """Not a state the store can leave (both were written in one statement); if found, the upgrade
    refuses rather than send the event or drop it, and nothing changes."""
    engine = make_engine(db_url)
    upgrade_to(engine, "enrollment", "enrollment_core_v4")
    with engine.begin() as conn:
        write_v4_event(conn, 1, None)
    with pytest.raises(RuntimeError, match="1 events have no outbox row"):
        migrate(engine, "enrollment")
    with engine.connect() as conn:
        assert "outbox" in conn.dialect.get_table_names(conn)
    engine.dispose()
