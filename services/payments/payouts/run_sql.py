"""A payment run planned and written inside the database (issue 12): the same payouts, member
lines, line locks, waiting payees and totals as the ordinary path (runs.plan_run: batch by batch
in Python), without a Python object per line — a million lines are a few INSERT … SELECT.

1. The payable lines (runs.payable_select, the ordinary path's own query) are copied once into a
   temporary table in payee order, an account only where the line carries one (_copy: the run's
   month and the months before apart, so that the lock, keyed by payee first, is probed page
   after page where most lines are payable). Every later statement reads that copy, so a line
   written or taken meanwhile (PostgreSQL reads a new snapshot per statement) never slips between
   the plan and the rows. Sorted in small runs with a helper thread (libs.db.sqlite_sort); on
   SQLite not dropped at the end but left to go with the connection (discarded when it is
   checked in: its temporary file unlinked, no page read back to be freed).
2. One aggregate row per payee: net, line count, the payout id (by the payee's place among the
   run's payees, as runs.plan_run numbers them), the registered account (a hospital's, else the
   projected payee account) and the account the lines carry when they all carry the same one.
3. The payees whose outcome needs the rules in Python go through the ordinary path itself
   (runs.plan_batch, the deductions, runs.take_lines): an account on hold (the hold's time
   against the account's), an overpayment to keep back, lines carrying different accounts and no
   registered one (asked of a payee with more than one line only). They are few; everyone else
   is decided by the aggregate.
4. The payouts, their member lines and their line locks: one INSERT … SELECT each, all in payee
   order (payout ids ascend with it, so their indexes are appended to; the lock's key is the
   payee's, then the line's).
A line a concurrent run took makes the lock's insert fail, as on the ordinary path: the caller
rolls the savepoint back and plans again.
"""
from __future__ import annotations

import itertools
from contextlib import closing

from sqlalchemy import (BigInteger, Column, DateTime, Integer, MetaData, String, Table, and_, case, func, insert,
                        select, text)
from sqlalchemy.orm import Session

from libs.db import discard_sqlite_connection, sqlite_page_cache, sqlite_sort
from libs.money import from_fen
from libs.web.problems import conflict

from . import recovery, runs
from .tables import entitlement_lines

LINES, PAYEES = "tmp_run_lines", "tmp_run_payees"
CACHE_KIB = 32 * 1024  # the run's page cache on SQLite, for the database and for its temporary tables

_temp = MetaData()
# Typed like entitlement_lines, so the payees decided in Python read the same values (datetimes)
# as the ordinary path does.
run_lines = Table(
    LINES, _temp,
    Column("payee", String, primary_key=True), Column("line_id", String, primary_key=True),
    Column("claim_id", String), Column("employer_id", String), Column("kind", String), Column("family", String),
    Column("amount_fen", BigInteger, nullable=False), Column("bank_code", String), Column("account_no", String),
    Column("holder", String), Column("known_at", DateTime(timezone=True)),
)
run_payees = Table(
    PAYEES, _temp,
    # The payee's place in the run (1, 2, …, in payee order): its payout's number. SQLite numbers
    # the rows as they are inserted in order (the rowid); a window function costs more there.
    Column("seq", Integer, primary_key=True), Column("payee", String, nullable=False),
    Column("net_fen", BigInteger, nullable=False), Column("line_count", Integer, nullable=False),
    Column("bank_code", String), Column("account_no", String), Column("holder", String),
    Column("in_python", Integer, nullable=False),  # 1: decided by runs.plan_batch (see the module's docstring)
)

def _pays(alias: str = "") -> str:
    """The payees the aggregate decided to pay."""
    return f"{alias}in_python = 0 AND {alias}net_fen > 0 AND {alias}bank_code IS NOT NULL"


def _ddl(table: Table, dialect: str) -> str:
    types = {String: "VARCHAR", BigInteger: "BIGINT", Integer: "INTEGER", DateTime: "TIMESTAMP WITH TIME ZONE"}
    cols = []
    for c in table.columns:
        # SQLite: no declared type for the time, so the stored text is copied as it is (no affinity).
        kind = "" if dialect == "sqlite" and isinstance(c.type, DateTime) else types[type(c.type)]
        cols.append(f"{c.name} {kind}{'' if c.nullable else ' NOT NULL'}".replace("  ", " "))
    key = ", ".join(c.name for c in table.primary_key.columns)
    if dialect != "sqlite":
        suffix = " ON COMMIT DROP"
    else:  # the lines keyed by payee and line (read in that order); the payees numbered by their rowid
        suffix = " WITHOUT ROWID" if len(table.primary_key.columns) > 1 else ""
    return f"CREATE TEMPORARY TABLE {table.name} ({', '.join(cols)}, PRIMARY KEY ({key})){suffix}"


def _payout_id(seq: str, dialect: str) -> str:
    """runs.plan_run's `po_{prefix}{n:08x}` in SQL (n counts from 0, seq from 1)."""
    n = f"{seq} - 1"
    return "'po_' || :prefix || " + (f"printf('%08x', {n})" if dialect == "sqlite" else f"lpad(to_hex({n}), 8, '0')")


def _drop(session: Session, dialect: str, if_exists: bool) -> None:
    schema = "temp" if dialect == "sqlite" else "pg_temp"
    for name in (LINES, PAYEES):
        session.execute(text(f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{schema}.{name}"))


def plan_and_take(session: Session, run_id: str, region: str, period: str, deductions: recovery.Deductions,
                  id_prefix: str) -> runs.RunTally:
    """The run's rows written (see the module's docstring); what runs._plan_and_take returns."""
    dialect = session.connection().dialect.name
    # SQLite: a cache of CACHE_KIB for the database and as much for the run's temporary tables
    with sqlite_page_cache(session, CACHE_KIB, ("main", "temp")):
        _drop(session, dialect, if_exists=True)  # a run rolled back on this connection may have left them (SQLite)
        session.execute(text(_ddl(run_lines, dialect)))
        session.execute(text(_ddl(run_payees, dialect)))
        with sqlite_sort(session):  # the copy's sort in small runs, one sorted while the next is read
            copied = _copy(session, region, period)
        if copied > runs.MAX_RUN_LINES:
            raise conflict(f"more than {runs.MAX_RUN_LINES} payable lines: run an earlier period first")
        _aggregate(session, dialect)
        tally = runs.RunTally()
        waiting = _in_python(session, run_id, deductions, tally, id_prefix)
        _write(session, dialect, run_id, id_prefix)
        _tally(session, tally, waiting)
        if dialect == "sqlite":  # the copy goes with the connection's temporary file, not page by page
            discard_sqlite_connection(session)
        else:
            _drop(session, dialect, if_exists=False)
    return tally


def _copy(session: Session, region: str, period: str) -> int:
    """The payable lines (runs.payable_select) into the copy, in two statements, each sorted by
    payee and line. The run's own month, nearly all payable: copied whole, then the few a payout
    holds deleted, their lock probed in its own key's order. The months before, nearly all held
    (paid by earlier runs): the lock probed as each line is read, so only the few still payable
    are sorted and copied."""
    el = entitlement_lines
    names = [c.name for c in run_lines.columns]
    month = runs.payable_select(session, region, period, _copied_columns(), held_too=True)
    copied = session.execute(insert(run_lines).from_select(names, month.where(el.c.period == period))).rowcount
    copied -= session.execute(text(
        f"DELETE FROM {LINES} WHERE EXISTS (SELECT 1 FROM payout_lines pl "
        f"WHERE pl.payee = {LINES}.payee AND pl.line_id = {LINES}.line_id)")).rowcount
    before = runs.payable_select(session, region, period, _copied_columns())
    return copied + session.execute(insert(run_lines).from_select(names, before.where(el.c.period < period))).rowcount


def _copied_columns() -> list:
    """The lines' columns as copied: an account only where the line carries one (bank code and
    number both set, runs._carried_account; else NULL), its holder '' when missing — so the
    aggregate compares plain columns (the payees decided in Python read the same accounts)."""
    el = entitlement_lines.c
    has = and_(el.bank_code.is_not(None), el.bank_code != "", el.account_no.is_not(None), el.account_no != "")
    carried = {"bank_code": el.bank_code, "account_no": el.account_no, "holder": func.coalesce(el.holder, "")}
    return [case((has, carried[c.name])).label(c.name) if c.name in carried else el[c.name]
            for c in run_lines.columns]


def _aggregate(session: Session, dialect: str) -> None:
    """One row per payee, in payee order: its net and account; `in_python` for the payees the
    aggregate can't decide (runs.plan_batch does): lines carrying different accounts (a line
    without one differs from a line with one) and no registered one, a hold on the payee (its
    time against the account's), an overpayment outstanding (the deductions; Deductions.debts is
    never more than these). One GROUP BY over the copy in its key's order, the registered account
    joined to each line (it is the payee's, the same on each of its lines): no subquery to
    materialize and sort again. The payees whose lines differ, each line against the next (few
    payees have more than one), the holds and the overpayments: IN lists built once."""
    # SQLite numbers the payees as they are inserted (the rowid); PostgreSQL with a window function.
    into, numbered = ("", "") if dialect == "sqlite" else ("seq, ", "row_number() OVER (ORDER BY l.payee), ")
    # A value the same on every line of the payee: SQLite takes a bare column from a row of the
    # group (min() and max() of a text copy it for every row); PostgreSQL needs an aggregate.
    one = (lambda value: value) if dialect == "sqlite" else (lambda value: f"max({value})")
    false = "0" if dialect == "sqlite" else "false"
    # The registered account first (runs._registered_accounts): a hospital's; else the payee's
    # projected account (an id without a kind is an employee's) when it names bank and number;
    # else the one the lines carry (the copy kept only carried accounts), the same on every line
    # of a payee decided here.
    hospital = "substr(l.payee, 1, 9) = 'hospital:'"
    registered = {"bank_code": "pa.bank_code", "account_no": "pa.account_no", "holder": "coalesce(pa.holder, '')"}
    account = {name: f"CASE WHEN {one('h.hospital_id')} IS NOT NULL THEN {one(f'h.{name}')} "
                     f"WHEN {one('pa.payee')} IS NOT NULL THEN {one(value)} ELSE {one(f'l.{name}')} END"
               for name, value in registered.items()}
    # Whether a payee's lines carry different accounts, asked of a payee with more than one line
    # only (few): a column differs unless it is NULL on every line or the same on every line.
    differ = ("CASE WHEN count(*) > 1 THEN (SELECT " + " OR ".join(
        f"count(d.{name}) NOT IN (0, count(*)) OR min(d.{name}) <> max(d.{name})" for name in registered)
        + f" FROM {LINES} d WHERE d.payee = l.payee) ELSE {false} END")
    session.execute(text(
        f"INSERT INTO {PAYEES} ({into}payee, net_fen, line_count, bank_code, account_no, holder, in_python) "
        f"SELECT {numbered}l.payee, sum(l.amount_fen), count(*), {account['bank_code']}, "
        f"{account['account_no']}, {account['holder']}, "
        f"CASE WHEN ({one('h.hospital_id')} IS NULL AND {one('pa.payee')} IS NULL AND {differ}) "
        f"OR l.payee IN (SELECT ah.payee FROM payout_account_holds ah "
        f"UNION ALL SELECT o.payee FROM overpayments o WHERE o.outstanding_fen > 0) THEN 1 ELSE 0 END "
        f"FROM {LINES} l "
        f"LEFT JOIN payout_hospitals h ON {hospital} AND h.hospital_id = substr(l.payee, 10) "
        f"LEFT JOIN payout_payee_accounts pa ON NOT {hospital} "
        f"AND pa.payee = CASE WHEN l.payee LIKE '%:%' THEN l.payee ELSE 'employee:' || l.payee END "
        f"AND pa.bank_code <> '' AND pa.account_no <> '' GROUP BY l.payee ORDER BY l.payee"))


def _in_python(session: Session, run_id: str, deductions: recovery.Deductions, tally: runs.RunTally,
               id_prefix: str) -> list:
    """The payees marked `in_python`, planned, deducted and written by the ordinary path's own
    functions, batch by batch; their waiting entries, keyed by place (the payees' order)."""
    places = dict(session.execute(select(run_payees.c.payee, run_payees.c.seq)
                                  .where(run_payees.c.in_python == 1)).all())
    ids = {payee: f"po_{id_prefix}{seq - 1:08x}" for payee, seq in places.items()}
    waiting: list = []
    if not ids:
        return waiting
    result = session.execute(
        select(*(run_lines.c[name] for name in runs.LINE_COLUMNS))
        .where(run_lines.c.payee.in_(select(run_payees.c.payee).where(run_payees.c.in_python == 1)))
        .order_by(run_lines.c.payee, run_lines.c.line_id)
        .execution_options(stream_results=True, yield_per=runs.RUN_BATCH_LINES))
    with closing(result):
        rows = itertools.chain.from_iterable(result.partitions())
        for groups in runs.payee_batches(rows, runs.RUN_BATCH_LINES):
            batch = runs.plan_batch(session, groups, ids.__getitem__)
            deductions.deduct(session, batch)
            runs.take_lines(session, run_id, batch)
            tally.add(batch)
            waiting += [(places[w["payee"]], "net", w) for w in batch.waiting_net_not_positive]
            waiting += [(places[w["payee"]], "account", w) for w in batch.waiting_for_account]
    return waiting


def _write(session: Session, dialect: str, run_id: str, id_prefix: str) -> None:
    """The payouts the aggregate decided, in payee order: their locks first (a concurrent run
    fails here), then the payouts and their member lines."""
    pays, payout_id, params = _pays("p."), _payout_id("p.seq", dialect), {"run_id": run_id, "prefix": id_prefix}
    lines = f"FROM {PAYEES} p JOIN {LINES} l ON l.payee = p.payee WHERE {pays}"
    session.execute(text(f"INSERT INTO payout_lines (payee, line_id, payout_id, run_id) "
                         f"SELECT l.payee, l.line_id, {payout_id}, :run_id {lines} ORDER BY p.seq, l.line_id"), params)
    session.execute(text(
        "INSERT INTO payouts (payout_id, run_id, payee, bank_code, bank_part, account_no, holder, amount_fen, "
        f"line_count, status) SELECT {payout_id}, :run_id, p.payee, p.bank_code, substr(p.bank_code, 1, 3), "
        f"p.account_no, p.holder, p.net_fen, p.line_count, 'open' FROM {PAYEES} p WHERE {pays} ORDER BY p.seq"),
        params)
    session.execute(text(
        "INSERT INTO payout_members (payout_id, line_id, claim_id, employer_id, kind, family, amount_fen) "
        f"SELECT {payout_id}, l.line_id, l.claim_id, l.employer_id, l.kind, l.family, l.amount_fen {lines} "
        "ORDER BY p.seq, l.line_id"), params)


def _tally(session: Session, tally: runs.RunTally, waiting: list) -> None:
    """The aggregate's payouts and waiting payees added to those decided in Python; the waiting
    lists in the payees' order, as the ordinary path gives them."""
    pays = _pays()
    count, total_fen, smallest_fen, line_count = session.execute(text(  # one pass over the payees
        f"SELECT coalesce(sum(CASE WHEN {pays} THEN 1 ELSE 0 END), 0), "
        f"coalesce(sum(CASE WHEN {pays} THEN net_fen ELSE 0 END), 0), min(CASE WHEN {pays} THEN net_fen END), "
        f"coalesce(sum(line_count), 0) FROM {PAYEES} WHERE in_python = 0")).one()
    tally.count += int(count)
    tally.total_fen += int(total_fen)
    if smallest_fen is not None and (tally.smallest_fen is None or smallest_fen < tally.smallest_fen):
        tally.smallest_fen = int(smallest_fen)
    tally.line_count += int(line_count)
    for seq, payee, net_fen in session.execute(text(
            f"SELECT seq, payee, net_fen FROM {PAYEES} WHERE in_python = 0 AND (net_fen <= 0 OR bank_code IS NULL)")):
        if net_fen <= 0:
            waiting.append((seq, "net", {"payee": payee, "net": from_fen(int(net_fen))}))
        else:
            waiting.append((seq, "account", {"payee": payee, "amount": from_fen(int(net_fen)), "reason": "no_account"}))
    waiting.sort(key=lambda w: w[0])  # RunTally.add listed those decided in Python: listed again, in order
    tally.waiting_net_not_positive = [w for _, kind, w in waiting if kind == "net"]
    tally.waiting_for_account = [w for _, kind, w in waiting if kind == "account"]
