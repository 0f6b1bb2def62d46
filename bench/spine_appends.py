"""Appends/s — single (one event per transaction) and batched (100 events per aggregate save) —
on SQLite and PostgreSQL, against the `eventsourcing` library doing the same aggregate appends on
the same database server in the same run. Our appends are also their own transactional outbox
(each event's row names its topic and enters the relay's index of unsent events in the same
transaction; eventsourcing has no outbox), so we do strictly more work per event.

Rounds: three, each side in a process of its own on a fresh database, the sides taking turns a
slice at a time (BENCH_SLICES of the single appends, then of the batched ones; bench/spine_rounds.py's
`take_turns`), so that the shared machine's swings of load fall on every side alike; figures are
the median with min and max, ratios are taken round by round. Durability is the same on both sides: on SQLite the peer's connections get our
`synchronous=NORMAL` (WAL, as ours; its default FULL syncs the log on every commit, which is
measured too, as `eventsourcing_defaults`); on PostgreSQL both commit synchronously.
Where a ratio misses the goal, a profile of our path is kept in the results file.
Quick check: BENCH_SINGLE_N=200 BENCH_BATCH_AGGREGATES=10. BENCH_DB_SUFFIX (e.g. `_mine`) is added to
the PostgreSQL databases' names (il_bench_ours, il_bench_peer), so that two runs on one server do not
drop each other's.
"""
from __future__ import annotations

import os
import sys
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from bench.common import scratch_dir, write_results  # noqa: E402
from bench.spine_rounds import Slices, in_child, ratio, summarize, take_turns  # noqa: E402
from libs.db import make_engine, session_factory  # noqa: E402
from libs.events.store import Context  # noqa: E402
from libs.events.tables import core_metadata  # noqa: E402
from libs.events.uow import UnitOfWork  # noqa: E402
from tests.spine.support import Account  # noqa: E402

SINGLE_N = int(os.environ.get("BENCH_SINGLE_N", "2000"))
BATCH_AGGREGATES = int(os.environ.get("BENCH_BATCH_AGGREGATES", "100"))
BATCH_EVENTS = 100
SLICES = int(os.environ.get("BENCH_SLICES", "10"))  # turns a round's single (and batched) appends are cut into
GOAL = 2.0  # × the peer, in every cell
DB_SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
OURS_DB, PEER_DB = f"il_bench_ours{DB_SUFFIX}", f"il_bench_peer{DB_SUFFIX}"
PROFILE_LINES = 60


def ours_appends(url: str) -> Slices:
    engine = make_engine(url)
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    ctx = Context(actor="bench")
    yield None
    for n in sizes(SINGLE_N):
        for _ in range(n):
            a = Account(uuid.uuid4().hex)
            a.deposit(Decimal("1.00"))
            with UnitOfWork(sessions, "bench", ctx) as u:
                u.save(a)
        yield "single_appends_per_s", n
    for n in sizes(BATCH_AGGREGATES):
        for _ in range(n):
            a = Account(uuid.uuid4().hex)
            for _ in range(BATCH_EVENTS):
                a.deposit(Decimal("1.00"))
            with UnitOfWork(sessions, "bench", ctx) as u:
                u.save(a)
        yield "batched_events_per_s", n * BATCH_EVENTS
    engine.dispose()


def sizes(total: int) -> list[int]:
    """`total` split into SLICES turns (the first ones a unit bigger where it does not divide)."""
    size, extra = divmod(total, SLICES)
    return [size + (k < extra) for k in range(SLICES) if size + (k < extra)]


class PeerAccount(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.balance = Decimal("0")

    @event("Deposited")
    def deposit(self, amount: Decimal) -> None:
        self.balance += amount


class Bank(Application):
    pass


def sqlite_synchronous(setting: str) -> None:
    """Give the peer's SQLite connections our durability setting (in this child process only)."""
    import eventsourcing.sqlite as es

    create = es.SQLiteConnectionPool._create_connection

    def with_setting(self):  # noqa: ANN001, ANN202
        connection = create(self)
        connection._sqlite_conn.execute(f"PRAGMA synchronous={setting}")
        return connection

    es.SQLiteConnectionPool._create_connection = with_setting


def peer_appends(env: dict[str, str]) -> Slices:
    app = Bank(env=env)
    yield None
    for n in sizes(SINGLE_N):
        for _ in range(n):
            app.save(PeerAccount())  # one event (Opened) per save
        yield "single_appends_per_s", n
    for n in sizes(BATCH_AGGREGATES):
        for _ in range(n):
            a = PeerAccount()
            for _ in range(BATCH_EVENTS - 1):
                a.deposit(Decimal("1.00"))
            app.save(a)
        yield "batched_events_per_s", n * BATCH_EVENTS
    app.close()


def pg_env(db: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": db, "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432", "POSTGRES_USER": "injuryledger", "POSTGRES_PASSWORD": "injuryledger"}


def sqlite_sides(tmp: Path) -> dict:
    def ours(r: int) -> Slices:
        return ours_appends(f"sqlite:///{tmp / f'ours-{r}.db'}")

    def peer(r: int) -> Slices:
        sqlite_synchronous("NORMAL")
        return peer_appends({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / f"peer-{r}.db")})

    def peer_defaults(r: int) -> Slices:
        return peer_appends({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": str(tmp / f"peer-defaults-{r}.db")})

    return {"ours": ours, "eventsourcing": peer, "eventsourcing_defaults": peer_defaults}


def postgresql_sides() -> dict:
    from tests.harness.servers import PostgresServer

    server = PostgresServer()

    def ours(_r: int) -> Slices:
        return ours_appends(server.fresh_database(OURS_DB))

    def peer(_r: int) -> Slices:
        server.fresh_database(PEER_DB)
        return peer_appends(pg_env(PEER_DB))

    return {"ours": ours, "eventsourcing": peer}


def profile_ours(url: str) -> dict:
    """Where our time goes (pyinstrument), on a fresh database."""
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    for _slice in ours_appends(url):
        pass
    profiler.stop()
    return {"lines": profiler.output_text(unicode=False, color=False).splitlines()[:PROFILE_LINES]}


def cell(runs: dict[str, list[dict]]) -> dict:
    out = {name: summarize(r) for name, r in runs.items()}
    out["ratio_single"] = ratio(runs["ours"], runs["eventsourcing"], "single_appends_per_s")
    out["ratio_batched"] = ratio(runs["ours"], runs["eventsourcing"], "batched_events_per_s")
    if "eventsourcing_defaults" in runs:
        out["ratio_single_vs_defaults"] = ratio(runs["ours"], runs["eventsourcing_defaults"], "single_appends_per_s")
        out["ratio_batched_vs_defaults"] = ratio(runs["ours"], runs["eventsourcing_defaults"],
                                                 "batched_events_per_s")
    out["goal_met"] = out["ratio_single"]["median"] >= GOAL and out["ratio_batched"]["median"] >= GOAL
    return out


def main() -> None:
    tmp = scratch_dir("spine-appends")
    results: dict = {"peer": "eventsourcing (PyPI) Application.save, same database server, same durability",
                     "single_n": SINGLE_N, "batch": f"{BATCH_AGGREGATES} aggregates × {BATCH_EVENTS} events",
                     "rounds": f"3; in each, every side in its own process, the sides taking turns {SLICES} slices each of "
                               "single and batched appends (only the slices timed); median (min–max)", "goal": f"≥ {GOAL}×"}
    results["sqlite"] = cell(take_turns(sqlite_sides(tmp)))
    if not results["sqlite"]["goal_met"]:
        results["sqlite"]["profile_ours"] = in_child(profile_ours, f"sqlite:///{tmp / 'profile.db'}")["lines"]
    if os.environ.get("BENCH_PG_ADMIN_URL"):
        results["postgresql"] = cell(take_turns(postgresql_sides()))
        if not results["postgresql"]["goal_met"]:
            from tests.harness.servers import PostgresServer

            url = PostgresServer().fresh_database(OURS_DB)
            results["postgresql"]["profile_ours"] = in_child(profile_ours, url)["lines"]
    write_results("spine_appends", results)


if __name__ == "__main__":
    main()
