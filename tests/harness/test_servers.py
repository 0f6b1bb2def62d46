"""The real servers the other tests stand on: a Kafka broker that acknowledges produces and keeps
consumer group offsets and messages across a crash, and a PostgreSQL that takes password logins
and gives fresh databases. No mocks."""
from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from sqlalchemy import create_engine, inspect, text

from tests.harness import servers


def produce(bootstrap: str, topic: str, key: bytes, value: bytes):  # noqa: ANN201
    """One message with acks=all, flushed; its RecordMetadata (partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        meta = producer.send(topic, key=key, value=value).get(timeout=30)
        producer.flush(timeout=30)
        return meta
    finally:
        producer.close(timeout=10)


def consume_first(bootstrap: str, topic: str, group: str, timeout_s: float = 60):  # noqa: ANN201
    """The first record a consumer of `group` gets on `topic` (auto-commit off), and the consumer."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            return records[0], consumer
    consumer.close()
    raise AssertionError(f"group {group} read nothing from {topic} within {timeout_s}s")


def commit_next(consumer: KafkaConsumer, record) -> TopicPartition:  # noqa: ANN001
    """Commit offset + 1 of the processed record: the next one to read."""
    tp = TopicPartition(record.topic, record.partition)
    consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
    return tp


@pytest.mark.kafka
def test_a_produce_is_acknowledged_and_a_group_reads_on_from_its_committed_offset(kafka_bootstrap: str) -> None:
    prefix = servers.unique_topic_prefix()
    topic, group = prefix + "harness", prefix + "readers"
    first = produce(kafka_bootstrap, topic, b"employer-1", b"first")

    record, consumer = consume_first(kafka_bootstrap, topic, group)
    try:
        assert (record.key, record.value) == (b"employer-1", b"first")
        assert (record.partition, record.offset) == (first.partition, first.offset)
        tp = commit_next(consumer, record)
        assert consumer.committed(tp) == first.offset + 1
    finally:
        consumer.close()

    # The same key lands on the same partition; the group resumes after its commit, not before.
    second = produce(kafka_bootstrap, topic, b"employer-1", b"second")
    assert second.partition == first.partition
    record, consumer = consume_first(kafka_bootstrap, topic, group)
    consumer.close()
    assert (record.value, record.offset) == (b"second", first.offset + 1)


@pytest.mark.kafka
def test_ensure_kafka_answers_with_the_running_broker_at_once(kafka_bootstrap: str) -> None:
    started = time.monotonic()
    assert servers.ensure_kafka() == kafka_bootstrap
    assert time.monotonic() - started < 15  # a check by one produce, not a new broker
    assert servers.kafka_accepts_produce(kafka_bootstrap)


@pytest.mark.kafka
def test_a_broker_killed_and_restarted_on_its_data_keeps_messages_and_group_offsets(tmp_path: Path) -> None:
    # A broker of its own on a free port: killing the shared one would break other runs' tests.
    missing = servers.kafka_tools_missing()
    if missing:
        servers.kafka_required_or_skip(missing)
    broker = servers.KafkaServer(servers.free_kafka_port(), workdir=tmp_path)
    broker.start()
    try:
        topic, group = servers.unique_topic_prefix() + "durable", "durable-readers"
        sent = produce(broker.bootstrap, topic, b"claim-7", b"kept")
        produce(broker.bootstrap, topic, b"claim-7", b"after")
        record, consumer = consume_first(broker.bootstrap, topic, group)
        tp = commit_next(consumer, record)
        consumer.close()

        broker.kill()
        assert not broker.accepts_produce(timeout_s=1)
        broker.restart()

        replay, consumer = consume_first(broker.bootstrap, topic, "replayers")
        consumer.close()
        assert (replay.key, replay.value, replay.offset) == (b"claim-7", b"kept", sent.offset)
        resumed, consumer = consume_first(broker.bootstrap, topic, group)
        assert consumer.committed(tp) == sent.offset + 1
        consumer.close()
        assert (resumed.value, resumed.offset) == (b"after", sent.offset + 1)
    finally:
        broker.stop()
    assert not (tmp_path / "run" / "kafka.pid").exists()


@pytest.mark.postgres
def test_the_databases_a_run_made_are_dropped_at_its_end(postgres: servers.PostgresServer, monkeypatch) -> None:  # noqa: ANN001
    # A registry of this test's own: the session's (its clusters' databases) stays untouched.
    monkeypatch.setattr(servers, "_created_databases", set())
    names = [f"il_harness_left_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        postgres.fresh_database(name)
    assert set(names) <= servers._created_databases

    def existing() -> set[str]:
        with create_engine(postgres.url("postgres")).connect() as conn:
            rows = conn.execute(text("select datname from pg_database where datname like 'il_harness_left_%'"))
            return {row[0] for row in rows} & set(names)

    assert existing() == set(names)
    postgres.drop_created()  # what the session does when it ends (tests/conftest.py)
    assert existing() == set() and not servers._created_databases


@pytest.mark.postgres
def test_postgres_takes_a_password_login_and_gives_a_fresh_empty_database(postgres: servers.PostgresServer) -> None:
    name = f"il_harness_{uuid.uuid4().hex[:8]}"
    url = postgres.fresh_database(name)
    assert url == f"postgresql+psycopg://injuryledger:injuryledger@127.0.0.1:5432/{name}"
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("create table claims (id int primary key, payee text not null)"))
            conn.execute(text("insert into claims values (1, 'Aroha')"))
        with engine.connect() as conn:
            assert conn.execute(text("select payee from claims")).scalar_one() == "Aroha"
            assert conn.execute(text("select current_user")).scalar_one() == "injuryledger"
        # Fresh again, with this engine's connections still open: dropped by force, empty after.
        assert postgres.fresh_database(name) == url
        engine.dispose()
        with create_engine(url).connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        postgres.drop_database(name)


@pytest.mark.postgres
def test_postgres_has_the_services_databases(postgres: servers.PostgresServer) -> None:
    for db in ("injuryledger_enrollment", "injuryledger_levy", "injuryledger_claims", "injuryledger_payments"):
        engine = create_engine(postgres.url(db))
        with engine.connect() as conn:
            assert conn.execute(text("select current_database()")).scalar_one() == db
        engine.dispose()


def test_kafka_sh_says_in_one_line_and_code_3_that_java_is_missing() -> None:
    done = subprocess.run(["bash", str(servers.KAFKA_SH), "fetch"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "JAVA": "/nonexistent/java"})
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "java is not installed" in done.stderr


def test_kafka_server_is_unavailable_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA", "/nonexistent/java")
    with pytest.raises(servers.ServerUnavailable, match="Java 17"):
        servers.KafkaServer(servers.free_kafka_port()).start()


def test_a_missing_server_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="!!! REAL SERVER MISSING: Apache Kafka cannot run here: no java"):
        servers.kafka_required_or_skip("no java")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        servers.kafka_required_or_skip("no java")


def test_topic_prefixes_are_unique_per_call() -> None:
    prefixes = {servers.unique_topic_prefix() for _ in range(1000)}
    assert len(prefixes) == 1000
    assert all(p.endswith(".") and p[:-1].isalnum() for p in prefixes)
