"""Tables every service database has: its event store (which is its outbox too), consumer
bookkeeping, clients.

These are the query-side definitions; the frozen DDL that creates them lives in
`migration.py` and a test checks the two agree.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Position = BigInteger().with_variant(Integer(), "sqlite")

core_metadata = MetaData()

events = Table(
    "events",
    core_metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    # Unique by construction (a UUIDv7 with 62 random bits) and not indexed (core v6): an index
    # for it was a B-tree more for every append; an event is found by (aggregate_id, sequence).
    Column("event_id", String(36), nullable=False),
    Column("aggregate_type", String(64), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("causation_id", String(36)),
    Column("correlation_id", String(64)),
    Column("actor", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    # The transactional outbox, folded into the event's own row (core v5): the topic the relay
    # publishes it to, written with the event; when it was sent and where the log put it (a
    # write's consistency token names these), written by the relay. An append writes one row.
    Column("topic", String(128)),  # every append writes it; null only before core v5 (none left)
    Column("sent_at", DateTime(timezone=True)),
    Column("log_partition", Integer),
    Column("log_offset", BigInteger),
    # Optimistic concurrency lives here, in the database, not in a Python lock.
    UniqueConstraint("aggregate_id", "sequence", name="uq_events_aggregate_sequence"),
    # The relay's work list on PostgreSQL: only the unsent events are in it (a relayed event
    # leaves it). Not on SQLite (core v6): there one writer at a time makes position order commit
    # order and the relay sends in it, so the unsent events are the ones after the last sent one
    # (relay.py), and an append updates two B-trees, not three.
    Index("ix_events_unsent", "position", postgresql_where=text("sent_at IS NULL")).ddl_if(dialect="postgresql"),
)

# Every event a consumer applies writes a row here. On SQLite a WITHOUT ROWID table (core v7): the
# row lives in its primary key's B-tree, one B-tree written an event instead of a rowid table and
# its key's index. PostgreSQL ignores the option.
processed_events = Table(
    "processed_events",
    core_metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("outcome", String(16), nullable=False),  # applied | dead
    sqlite_with_rowid=False,
)

# How far each consumer group has applied each partition: the next offset to read, committed in
# the same transaction as the group's effects, so a read that waits for it sees those effects.
consumer_positions = Table(
    "consumer_positions",
    core_metadata,
    Column("consumer", String(128), primary_key=True),
    Column("topic", String(128), primary_key=True),
    Column("log_partition", Integer, primary_key=True, autoincrement=False),
    Column("next_offset", BigInteger, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    core_metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("consumer", String(128), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("event_id", String(36)),
    Column("error", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("redriven_at", DateTime(timezone=True)),  # core v2: set once the event took effect
)

idempotency_keys = Table(
    "idempotency_keys",
    core_metadata,
    Column("client_id", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),  # null while the first request is still running
    Column("content_type", String(128)),
    Column("response_body", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

clients = Table(
    "clients",
    core_metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hospital_id", String(64)),
    Column("bank_code", String(12)),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("person", String(100)),  # who is behind an agency or admin token (four eyes compare it)
)

access_log = Table(
    "access_log",
    core_metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(300), nullable=False),
    Column("subject_id", String(64)),
    Column("correlation_id", String(64)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Every service keeps the policy versions it needs (projected from PolicyPublished events).
policy_versions = Table(
    "policy_versions",
    core_metadata,
    Column("region", String(6), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("effective_from", Date, nullable=False),
    Column("document", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    Index("ix_policy_versions_in_force", "region", "effective_from", "version"),
)
