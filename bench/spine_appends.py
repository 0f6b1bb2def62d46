"""Appends/s — single (one event per transaction) and batched (100 events per aggregate save) —
on SQLite and PostgreSQL, against the `eventsourcing` library doing the same aggregate appends on
the same database in the same run. Our appends also write the outbox row in the same
transaction (eventsourcing has no outbox), so we do strictly more work per event."""
from __future__ import annotations

import os
import sys
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from bench.common import rate, timer, write_results  # noqa: E402
from libs.db import make_engine, session_factory  # noqa: E402
from libs.events.store import Context  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402
from libs.events.uow import UnitOfWork  # noqa: E402
from tests.spine.support import Account  # noqa: E402

SINGLE_N = int(os.environ.get("BENCH_SINGLE_N", "2000"))
BATCH_AGGREGATES = int(os.environ.get("BENCH_BATCH_AGGREGATES", "100"))
BATCH_EVENTS = 100


def ours(url: str) -> dict:
    engine = make_engine(url)
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    ctx = Context(actor="bench")
    with timer() as single:
        for _ in range(SINGLE_N):
            a = Account(uuid.uuid4().hex)
            a.deposit(Decimal("1.00"))
            with UnitOfWork(sessions, "bench", ctx) as u:
                u.save(a)
    with timer() as batched:
        for _ in range(BATCH_AGGREGATES):
            a = Account(uuid.uuid4().hex)
            for _ in range(BATCH_EVENTS):
                a.deposit(Decimal("1.00"))
            with UnitOfWork(sessions, "bench", ctx) as u:
                u.save(a)
    engine.dispose()
    return {"single_appends_per_s": rate(SINGLE_N, single["seconds"]),
            "batched_events_per_s": rate(BATCH_AGGREGATES * BATCH_EVENTS, batched["seconds"])}


class PeerAccount(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.balance = Decimal("0")

    @event("Deposited")
    def deposit(self, amount: Decimal) -> None:
        self.balance += amount


class Bank(Application):
    pass


def peer(env: dict[str, str]) -> dict:
    app = Bank(env=env)
    with timer() as single:
        for _ in range(SINGLE_N):
            app.save(PeerAccount())  # one event (Opened) per save
    with timer() as batched:
        for _ in range(BATCH_AGGREGATES):
            a = PeerAccount()
            for _ in range(BATCH_EVENTS - 1):
                a.deposit(Decimal("1.00"))
            app.save(a)
    app.close()
    return {"single_appends_per_s": rate(SINGLE_N, single["seconds"]),
            "batched_events_per_s": rate(BATCH_AGGREGATES * BATCH_EVENTS, batched["seconds"])}


def pg_env(db: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": db, "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432", "POSTGRES_USER": "injuryledger", "POSTGRES_PASSWORD": "injuryledger"}


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    results: dict = {"peer": "eventsourcing (PyPI) Application.save on the same database", "single_n": SINGLE_N,
                     "batch": f"{BATCH_AGGREGATES} aggregates × {BATCH_EVENTS} events"}
    results["sqlite"] = {"ours": ours(f"sqlite:///{tmp / 'ours.db'}"),
                         "eventsourcing": peer({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                                "SQLITE_DBNAME": str(tmp / 'peer.db')})}
    pg = os.environ.get("BENCH_PG_ADMIN_URL")
    if pg:
        from tests.harness.servers import PostgresServer

        server = PostgresServer()
        ours_url = server.fresh_database("il_bench_ours")
        server.fresh_database("il_bench_peer")
        results["postgresql"] = {"ours": ours(ours_url), "eventsourcing": peer(pg_env("il_bench_peer"))}
    for db in ("sqlite", "postgresql"):
        if db in results:
            r = results[db]
            r["ratio_single"] = round(r["ours"]["single_appends_per_s"] / r["eventsourcing"]["single_appends_per_s"], 2)
            r["ratio_batched"] = round(r["ours"]["batched_events_per_s"] / r["eventsourcing"]["batched_events_per_s"], 2)
    write_results("spine_appends", results)


if __name__ == "__main__":
    main()
