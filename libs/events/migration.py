"""Frozen DDL for the core tables, called from each service's first Alembic migration.

Never edit a function here once released: add `upgrade_core_v2` and a new migration instead.
"""
from __future__ import annotations

import sqlalchemy as sa

from libs.db import rebuild_without_rowid

_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade_core_v1(op) -> None:  # noqa: ANN001 - alembic's op proxy
    op.create_table(
        "events",
        sa.Column("position", _position, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("aggregate_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("causation_id", sa.String(36)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("aggregate_id", "sequence", name="uq_events_aggregate_sequence"),
    )
    op.create_table(
        "outbox",
        sa.Column("position", _position, primary_key=True, autoincrement=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "position"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", _position, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(36)),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("content_type", sa.String(128)),
        sa.Column("response_body", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hospital_id", sa.String(64)),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("id", _position, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("subject_id", sa.String(64)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "policy_versions",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_policy_versions_in_force", "policy_versions", ["region", "effective_from", "version"])


def upgrade_core_v2(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """Read-your-writes: where the relay put each event in the log, and how far each consumer
    group has applied each partition (committed with the group's effects)."""
    op.add_column("outbox", sa.Column("log_partition", sa.Integer))
    op.add_column("outbox", sa.Column("log_offset", sa.BigInteger))
    op.create_table(
        "consumer_positions",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("topic", sa.String(128), primary_key=True),
        sa.Column("log_partition", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
    )


def upgrade_core_v3(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """A dead letter remembers when it was redriven (after a fix, the event took effect once)."""
    op.add_column("dead_letters", sa.Column("redriven_at", sa.DateTime(timezone=True)))


def upgrade_core_v4(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """The person behind an agency or admin client: approvals that need four eyes compare it."""
    op.add_column("clients", sa.Column("person", sa.String(100)))


def upgrade_core_v5(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """The outbox folded into the events table (issue 12): an append writes one row, not an event
    and an outbox row (five B-trees to three on SQLite). Every outbox row's topic, sent time and
    log position move onto its event, so an event not yet relayed stays unsent (the relay sends it
    after the upgrade) and one relayed is never sent again; then the outbox goes. An event without
    an outbox row cannot exist (both were written in one statement): the upgrade stops if it
    finds one rather than send it or drop it."""
    op.add_column("events", sa.Column("topic", sa.String(128)))
    op.add_column("events", sa.Column("sent_at", sa.DateTime(timezone=True)))
    op.add_column("events", sa.Column("log_partition", sa.Integer))
    op.add_column("events", sa.Column("log_offset", sa.BigInteger))
    op.execute("UPDATE events SET topic = o.topic, sent_at = o.sent_at, log_partition = o.log_partition, "
               "log_offset = o.log_offset FROM outbox AS o WHERE o.position = events.position")
    orphans = op.get_bind().execute(sa.text("SELECT count(*) FROM events WHERE topic IS NULL")).scalar_one()
    if orphans:
        raise RuntimeError(f"{orphans} events have no outbox row: not upgrading (nothing changed)")
    op.create_index("ix_events_unsent", "events", ["position"], sqlite_where=sa.text("sent_at IS NULL"),
                    postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.drop_table("outbox")


def upgrade_core_v6(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """Fewer indexes on an event's row (issue 12): an append updated four B-trees on SQLite.
    `event_id` loses its unique index everywhere (ids are unique by construction; what looked
    events up by id finds them by (aggregate_id, sequence)). On SQLite the unsent index goes too:
    one writer at a time makes position order commit order there, so the relay's unsent events are
    those after the last one it sent. SQLite made the unique `event_id` with the table, an index
    DROP INDEX cannot take: the table is rebuilt, every row and its position kept."""
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("events_event_id_key", "events", type_="unique")
        return
    op.drop_index("ix_events_unsent", table_name="events")
    op.rename_table("events", "events_v5")
    columns = [
        sa.Column("position", _position, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("aggregate_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("causation_id", sa.String(36)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("topic", sa.String(128)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("log_partition", sa.Integer),
        sa.Column("log_offset", sa.BigInteger),
    ]
    names = ", ".join(c.name for c in columns)
    op.create_table("events", *columns,
                    sa.UniqueConstraint("aggregate_id", "sequence", name="uq_events_aggregate_sequence"))
    op.execute(f"INSERT INTO events ({names}) SELECT {names} FROM events_v5")
    op.drop_table("events_v5")


def upgrade_core_v7(op) -> None:  # noqa: ANN001 - alembic's op proxy
    """Processed-event ids in one B-tree on SQLite (issue 12): every event a consumer applies
    writes a row into `processed_events`; as a WITHOUT ROWID table the row lives in its primary
    key's B-tree, not in a rowid table and its key's index. The table is rebuilt, every id and its
    outcome (applied or dead) kept, so nothing applied is applied again. PostgreSQL: nothing changes."""
    rebuild_without_rowid(op, sa.Table(
        "processed_events", sa.MetaData(),
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sqlite_with_rowid=False))
