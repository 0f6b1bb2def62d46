"""Core v7 keeps `processed_events` in one B-tree on SQLite (WITHOUT ROWID): a running fund
upgrades without a consumer applying anything again. A database at core v6 with ids every way a
consumer leaves them — applied, dead-lettered, of two groups — is upgraded; every id and outcome
is still there, an id marked before the upgrade is still no new one (a redelivered event is
skipped) and one not marked is, and on PostgreSQL the table is as it was."""
from __future__ import annotations

from sqlalchemy import text

from libs.db import make_engine, migrate
from libs.events.consumer import mark_processed

from .test_outbox_upgrade import upgrade_to

BEFORE = [("enrollment.g", "0190aaaa-0000-7000-8000-000000000001", "applied"),
          ("enrollment.g", "0190aaaa-0000-7000-8000-000000000002", "dead"),
          ("enrollment.h", "0190aaaa-0000-7000-8000-000000000001", "applied")]


def test_processed_ids_and_outcomes_survive_the_upgrade_and_still_tell_new_from_seen(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_to(engine, "enrollment", "enrollment_append13_core_v6")
    with engine.begin() as conn:
        for consumer, event_id, outcome in BEFORE:
            conn.execute(text("INSERT INTO processed_events (consumer, event_id, outcome) VALUES (:c, :e, :o)"),
                         {"c": consumer, "e": event_id, "o": outcome})
    migrate(engine, "enrollment")

    with engine.begin() as conn:
        rows = conn.execute(text("SELECT consumer, event_id, outcome FROM processed_events "
                                 "ORDER BY consumer, event_id")).all()
        assert [tuple(r) for r in rows] == BEFORE
        if conn.dialect.name == "sqlite":
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'processed_events'")).scalar_one()
            assert "WITHOUT ROWID" in ddl
            assert "processed_events_with_rowid" not in conn.dialect.get_table_names(conn)
        new = "0190aaaa-0000-7000-8000-000000000003"
        # the first id of g is seen (redelivered: skipped), the dead one too (it waits for a redrive)
        assert mark_processed(conn, "enrollment.g", [BEFORE[0][1], BEFORE[1][1], new]) == {new}
        assert mark_processed(conn, "enrollment.h", [BEFORE[2][1]]) == set()
        assert mark_processed(conn, "enrollment.h", [new]) == {new}  # the plain bulk insert path
    engine.dispose()
