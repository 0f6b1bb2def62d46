"""Payment runs and bank returns: every payable fund line paid once, never twice.

The guarantee lives in the database: a line (its payee and id) is `payout_lines`' primary key, so
a line sits in at most one open or settled payout. A run inserts its lines there first; a concurrent run that
took some of them meanwhile makes the insert fail, and the run plans again without them.
A rejected payout deletes its rows, so its lines become payable again (or wait for a new account
when the bank said the account is the problem).
"""
from __future__ import annotations

import importlib
import itertools
import logging
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, Iterable, Iterator

from sqlalchemy import Result, Select, and_, case, delete, exists, func, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.db import defer_sqlite_checkpoint, driver_mark
from libs.money import from_fen
from libs.pooling import Move, sources_on, windows
from libs.pooling_tables import read_moves
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, forbidden, invalid, not_found

from . import recovery, run_sql
from .domain import ACCOUNT_PROBLEM_REASONS, PaidLine, PaymentRun, PaymentRunCreated, Payout, PayoutsTaken
from .tables import (
    account_holds,
    entitlement_lines,
    hospitals,
    payee_accounts,
    payment_runs,
    payments_region_moves,
    payout_lines,
    payout_members,
    payouts,
)

log = logging.getLogger(__name__)

MAX_RUN_LINES = 1_000_000
MAX_PLAN_ATTEMPTS = 5
LOOKUP_CHUNK = 500
ACCOUNT_LOOKUP_CHUNK = 2_000  # payees per IN list (SQLite allows 32,766 parameters, PostgreSQL 65,535)
RUN_BATCH_LINES = 20_000
"""Lines read, planned and written per batch of a run: the run's memory is bounded by this, not
by the number of lines it pays."""
MAX_RETURN_ENTRIES = 200_000

SETTLED = frozenset({"ACSC", "ACCC", "ACWC", "ACCP", "ACSP"})
REJECTED = frozenset({"RJCT"})
PENDING = frozenset({"ACTC", "RCVD", "PDNG", "ACWP", "ACFC", "PART", "PATC"})  # no decision yet
KNOWN_STATUSES = SETTLED | REJECTED | PENDING


def bank_part(bank_code: str) -> str:
    """A CNAPS code's first three digits name the bank (行别代码): one payout file per bank."""
    return bank_code[:3]


# ---- planning a run ------------------------------------------------------------------------

@dataclass(frozen=True)
class Account:
    bank_code: str
    account_no: str
    holder: str
    changed_at: datetime | None


@dataclass
class PlannedPayout:
    payout_id: str
    payee: str
    account: Account
    lines: list  # rows of entitlement_lines (LINE_COLUMNS, read by position)
    amount_fen: int


@dataclass
class PlanBatch:
    """The payouts and waiting payees of one batch of whole payees (every line of a payee is in
    the same batch: netting needs them all)."""

    payouts: list[PlannedPayout] = field(default_factory=list)
    waiting_for_account: list[dict] = field(default_factory=list)
    waiting_net_not_positive: list[dict] = field(default_factory=list)
    line_count: int = 0


@dataclass
class RunTally:
    """What a run has taken so far, summed batch by batch as the rows are written (the run's
    event and its invariants are checked against it; no payout is kept once written)."""

    count: int = 0
    total_fen: int = 0
    smallest_fen: int | None = None
    line_count: int = 0
    waiting_for_account: list[dict] = field(default_factory=list)
    waiting_net_not_positive: list[dict] = field(default_factory=list)

    def add(self, batch: PlanBatch) -> None:
        for p in batch.payouts:
            assert p.amount_fen == sum(r[AMOUNT_FEN] for r in p.lines) > 0, f"payout {p.payout_id} != its lines"
            self.count += 1
            self.total_fen += p.amount_fen
            if self.smallest_fen is None or p.amount_fen < self.smallest_fen:
                self.smallest_fen = p.amount_fen
        self.line_count += batch.line_count
        self.waiting_for_account += batch.waiting_for_account
        self.waiting_net_not_positive += batch.waiting_net_not_positive


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _registered_accounts(session: Session, payees: list[str]) -> dict[str, Account]:
    """Accounts from the payees' own records: hospitals, and employees/dependents (projected).
    Employees and dependents (nearly every payee) in plain driver IN lists: SQLAlchemy's
    expanding IN spent milliseconds rendering each list of 2,000."""
    found: dict[str, Account] = {}
    hospital_ids = {p.split(":", 1)[1]: p for p in payees if p.startswith("hospital:")}
    for chunk in _chunks(list(hospital_ids), ACCOUNT_LOOKUP_CHUNK):
        for r in session.execute(select(hospitals).where(hospitals.c.hospital_id.in_(chunk))):
            found[hospital_ids[r.hospital_id]] = Account(r.bank_code, r.account_no, r.holder,
                                                         _aware(r.account_changed_at))
    # `x` and `employee:x` name the same employee's record: both payees get its account.
    keyed: dict[str, list[str]] = {}
    for p in payees:
        if not p.startswith("hospital:"):
            keyed.setdefault(p if ":" in p else f"employee:{p}", []).append(p)
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    as_datetime = payee_accounts.c.changed_at.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None) \
        or (lambda v: v)
    for chunk in _chunks(list(keyed), ACCOUNT_LOOKUP_CHUNK):
        sql = (f"SELECT payee, bank_code, account_no, holder, changed_at FROM {payee_accounts.name} "
               f"WHERE payee IN ({', '.join([mark] * len(chunk))})")
        for payee, bank_code, account_no, holder, changed_at in conn.exec_driver_sql(sql, tuple(chunk)):
            if bank_code and account_no:
                account = Account(bank_code, account_no, holder or "", _aware(as_datetime(changed_at)))
                for named in keyed[payee]:
                    found[named] = account
    return found


def _holds(session: Session, first: str, last: str) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    """The holds of the payees from `first` to `last` (a batch's payees, in the database's own
    order): one range read of the primary key per batch. Holds are few (accounts a bank
    returned), so the range's holds of other regions' payees cost nothing worth a lookup."""
    out = {}
    for r in session.execute(select(account_holds).where(account_holds.c.payee >= first,
                                                         account_holds.c.payee <= last)):
        out[(r.payee, r.bank_code, r.account_no)] = (r.reason, _aware(r.held_at))
    return out


# A run's lines, read by position: the planning loop touches each of a million rows about ten
# times, and a Row's attribute costs ten times its index.
LINE_COLUMNS = ("line_id", "claim_id", "employer_id", "kind", "family", "amount_fen", "payee", "bank_code",
                "account_no", "holder", "known_at")
LINE_ID, CLAIM_ID, EMPLOYER_ID, KIND, FAMILY, AMOUNT_FEN, PAYEE, BANK_CODE, ACCOUNT_NO, HOLDER, KNOWN_AT = \
    range(len(LINE_COLUMNS))


def region_moves(session: Session) -> dict[str, Move]:
    """Every pool's move, as projected from enrollment's PoolsConsolidated."""
    return read_moves(session, payments_region_moves)


def pools_of(session: Session, region: str, period: str) -> list[str]:
    """The recorded regions whose lines the region's run of `period` pays: its own, and every
    pool consolidated into it by the month's first day (libs.pooling); none for a pool gone by then."""
    first = date.fromisoformat(f"{period}-01")
    return sources_on(region, first, region_moves(session))


def payable_select(session: Session, region: str, period: str, columns: Iterable = LINE_COLUMNS,
                   held_too: bool = False) -> Select:
    """Every fund line of the region (and of the pools consolidated into it) up to `period` not
    in an open or settled payout (nor settled outside the ledger before going live), ordered by
    payee (then line); `columns` names of entitlement_lines or expressions of them. `held_too`:
    the lines a payout holds as well (run_sql takes them out after sorting, in the lock's order)."""
    el = entitlement_lines
    held = exists().where(payout_lines.c.payee == el.c.payee, payout_lines.c.line_id == el.c.line_id)
    return (select(*(el.c[name] if isinstance(name, str) else name for name in columns))
            .where(el.c.payer == "fund", el.c.region.in_(pools_of(session, region, period)), el.c.period <= period,
                   el.c.settled_outside.is_(None), *([] if held_too else [~held]))
            .order_by(el.c.payee, el.c.line_id))


def payable_lines(session: Session, region: str, period: str) -> Result:
    """The payable lines (payable_select) from a server-side cursor: rows arrive RUN_BATCH_LINES
    at a time."""
    return session.execute(payable_select(session, region, period)
                           .execution_options(stream_results=True, yield_per=RUN_BATCH_LINES))


def payee_batches(rows: Iterable, batch_lines: int, payee_at: int = PAYEE) -> Iterator[list[tuple[str, list]]]:
    """Rows ordered by payee, cut into batches of whole payees of at least `batch_lines` lines
    (the last one smaller): a payee's lines are never split, so each batch nets on its own."""
    batch: list[tuple[str, list]] = []
    size = 0
    payee, lines = None, []
    for r in rows:
        if r[payee_at] != payee:
            if lines:
                batch.append((payee, lines))
                size += len(lines)
                if size >= batch_lines:
                    yield batch
                    batch, size = [], 0
            payee, lines = r[payee_at], []
        lines.append(r)
    if lines:
        batch.append((payee, lines))
    if batch:
        yield batch


def _carried_account(lines: list) -> Account | None:
    """The account the lines themselves carry, the most recent when they differ."""
    if len(lines) == 1:  # the common case (one month's line): nothing to compare
        r = lines[0]
        return Account(r[BANK_CODE], r[ACCOUNT_NO], r[HOLDER] or "", None) if r[BANK_CODE] and r[ACCOUNT_NO] else None
    with_account = [r for r in lines if r[BANK_CODE] and r[ACCOUNT_NO]]
    if not with_account:
        return None
    r = with_account[0]
    if any(x[BANK_CODE:HOLDER + 1] != r[BANK_CODE:HOLDER + 1] for x in with_account):
        r = max(with_account, key=lambda x: (str(x[KNOWN_AT]), x[LINE_ID]))
    return Account(r[BANK_CODE], r[ACCOUNT_NO], r[HOLDER] or "", None)


def plan_batch(session: Session, groups: list[tuple[str, list]], payout_id_of: Callable[[str], str]) -> PlanBatch:
    """One payout per payee of the batch whose lines net positive and who has a usable account
    (its id: `payout_id_of(payee)`); the others wait (no account, an account on hold, net <= 0)."""
    payees = [payee for payee, _ in groups]
    registered = _registered_accounts(session, payees)
    holds = _holds(session, payees[0], payees[-1])
    plan = PlanBatch()
    for payee, lines in groups:
        plan.line_count += len(lines)
        net = sum(r[AMOUNT_FEN] for r in lines)
        if net <= 0:
            plan.waiting_net_not_positive.append({"payee": payee, "net": from_fen(net)})
            continue
        account = registered.get(payee) or _carried_account(lines)
        if account is None:
            plan.waiting_for_account.append({"payee": payee, "amount": from_fen(net), "reason": "no_account"})
            continue
        hold = holds.get((payee, account.bank_code, account.account_no)) if holds else None
        if hold is not None and (account.changed_at is None or account.changed_at <= hold[1]):
            plan.waiting_for_account.append({"payee": payee, "amount": from_fen(net), "reason": hold[0]})
            continue
        plan.payouts.append(PlannedPayout(payout_id_of(payee), payee, account, lines, net))
    return plan


def plan_run(session: Session, region: str, period: str, batch_lines: int | None = None) -> Iterator[PlanBatch]:
    """Every payable fund line of the region up to `period`, netted per payee (recoveries reduce
    the payee's payout), one payout per payee and bank account: batch by batch, never the whole
    run at once. Close the generator (contextlib.closing) to release the cursor early.
    Payout ids number the run's payees in order, a payee that waits included: an id is known
    before its payee is decided (run_sql numbers them the same way, in SQL)."""
    prefix = payout_id_prefix()
    sequence = itertools.count()
    result = payable_lines(session, region, period)
    try:
        # Rows a partition at a time (the driver's fetchmany), not one fetch call per row.
        rows = itertools.chain.from_iterable(result.partitions())
        for groups in payee_batches(rows, batch_lines or RUN_BATCH_LINES):
            ids = {payee: f"po_{prefix}{next(sequence):08x}" for payee, _ in groups}
            yield plan_batch(session, groups, ids.__getitem__)
    finally:
        result.close()


def payout_id_prefix() -> str:
    """A run's payout ids: `po_` + this + 8 hex digits ascending within the run (appended, not
    scattered, in the indexes)."""
    return uuid.uuid4().hex[:12]


# ---- creating a run ------------------------------------------------------------------------

@dataclass(frozen=True)
class RunCreated:
    run_id: str
    count: int
    total_fen: int
    waiting_for_account: list[dict]
    waiting_net_not_positive: list[dict]


def find_materializer() -> Callable[[Session, str, str], object] | None:
    """`materialize_through(session, region, period)` of the entitlements part, if it exists."""
    for module in ("services.payments.entitlements", "services.payments.entitlements.materialize",
                   "services.payments.entitlements.projection", "services.payments.entitlements.lines"):
        try:
            fn = getattr(importlib.import_module(module), "materialize_through", None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    return None


def create_run(ctx: ServiceContext, principal: Principal, region: str, period: str, execution_date: date,
               *, in_database: bool = True) -> RunCreated:
    """One database transaction: the lines are planned and written inside the database
    (run_sql; `in_database=False`: the ordinary path, read, planned and written batch by batch in
    Python, memory bounded by RUN_BATCH_LINES), and committed together with the run's row and its
    event — a run killed half-way leaves nothing, and a rerun pays every line once. Both paths
    write the same rows (tests/payments/payouts/test_run_in_database.py)."""
    started_ns = time.perf_counter_ns()
    run_id = "run_" + uuid.uuid4().hex[:16]
    materialize = find_materializer()
    with ctx.uow(principal) as uow:
        session = uow.session
        defer_sqlite_checkpoint(session)  # a run's log is hundreds of MB: checkpointed off the request
        pools = pools_of(session, region, period)  # its own claims and those moved into it
        if materialize is not None:
            for pool in pools:
                materialize(session, pool, period)
        if not inspect(session.connection()).has_table("entitlement_lines"):
            raise conflict("no entitlement lines exist yet in this service")
        # stands whatever becomes of the run
        recovery.recognize(uow, region, period, run_id, datetime.now(timezone.utc).date(), pools)
        for attempt in range(1, MAX_PLAN_ATTEMPTS + 1):
            try:
                with session.begin_nested():
                    tally = _plan_and_take(session, run_id, region, period, execution_date, in_database)
                break
            except IntegrityError:  # a concurrent run took some of these lines: plan again without them
                log.info("run %s: lines taken concurrently, planning again (attempt %d)", run_id, attempt)
        else:
            raise conflict("other payment runs keep taking the same lines; retry")
        run = PaymentRun(run_id)
        run.create(PaymentRunCreated(run_id=run_id, region=region, period=period, count=tally.count,
                                     total=from_fen(tally.total_fen), execution_date=execution_date,
                                     waiting_for_account=len(tally.waiting_for_account), status="proposed",
                                     proposed_by=principal.client_id, proposer=principal.person),
                   PayoutsTaken(tally.count, from_fen(tally.total_fen),
                                None if tally.smallest_fen is None else from_fen(tally.smallest_fen)),
                   execution_date)
        uow.save(run)
        session.execute(insert(payment_runs).values(
            run_id=run_id, region=region, period=period, count=tally.count, total_fen=tally.total_fen,
            execution_date=execution_date, created_at=datetime.now(timezone.utc), status="proposed",
            proposed_by=principal.client_id, proposer=principal.person))
        check_run_invariants(session, run_id)
    ctx.metrics.record_payment_run((time.perf_counter_ns() - started_ns) // 1_000_000, tally.count, tally.total_fen)
    return RunCreated(run_id, tally.count, tally.total_fen, tally.waiting_for_account,
                      tally.waiting_net_not_positive)


def _plan_and_take(session: Session, run_id: str, region: str, period: str, on: date,
                   in_database: bool = False) -> RunTally:
    """Plan and write in the database (run_sql), or batch by batch in Python. The cursor is
    closed before the caller's savepoint rolls back on a clash (PostgreSQL drops a cursor declared
    in a rolled-back savepoint)."""
    tally = RunTally()
    deductions = recovery.Deductions.load(session, run_id, region, on)
    if in_database:
        return run_sql.plan_and_take(session, run_id, region, period, deductions, payout_id_prefix())
    with closing(plan_run(session, region, period)) as batches:
        for batch in batches:
            if tally.line_count + batch.line_count > MAX_RUN_LINES:
                raise conflict(f"more than {MAX_RUN_LINES} payable lines: run an earlier period first")
            deductions.deduct(session, batch)  # overpayments kept back, up to recovery_max_share of each payout
            take_lines(session, run_id, batch)
            tally.add(batch)
    return tally


def take_lines(session: Session, run_id: str, plan: PlanBatch) -> None:
    """The lock first (a concurrent run fails here), then the payouts and their members."""
    _insert_rows(session, payout_lines, ("payee", "line_id", "payout_id", "run_id"),
                 [(r[PAYEE], r[LINE_ID], p.payout_id, run_id) for p in plan.payouts for r in p.lines])
    _insert_rows(session, payouts, ("payout_id", "run_id", "payee", "bank_code", "bank_part", "account_no", "holder",
                                    "amount_fen", "line_count", "status"),
                 [(p.payout_id, run_id, p.payee, p.account.bank_code, bank_part(p.account.bank_code),
                   p.account.account_no, p.account.holder, p.amount_fen, len(p.lines), "open") for p in plan.payouts])
    _insert_rows(session, payout_members, ("payout_id", "line_id", "claim_id", "employer_id", "kind", "family",
                                           "amount_fen"),
                 [(p.payout_id, r[LINE_ID], r[CLAIM_ID], r[EMPLOYER_ID], r[KIND], r[FAMILY], r[AMOUNT_FEN])
                  for p in plan.payouts for r in p.lines])


def _insert_rows(session: Session, table, columns: tuple[str, ...], rows: list[tuple]) -> None:  # noqa: ANN001
    """Tuples straight to the driver, one executemany per batch: no dict per row and no
    bound-parameter object per value (SQLAlchemy's own executemany spent more on building
    parameters than SQLite on inserting)."""
    if not rows:
        return
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def check_run_invariants(session: Session, run_id: str) -> None:
    """Run total = sum of its payouts = sum of their lines; every payout positive and equal to the
    sum of its own member lines (asserted). One pass over the run's payouts, each payout's lines
    summed by a range read of payout_members' key — once: the sum is named once in the outer
    query (SQLite flattens the subquery and would read the lines again for every mention). No
    payout differing from its lines makes the lines' total the payouts' total."""
    run = session.execute(select(payment_runs.c.count, payment_runs.c.total_fen)
                          .where(payment_runs.c.run_id == run_id)).one()
    members_fen = (select(func.sum(payout_members.c.amount_fen))
                   .where(payout_members.c.payout_id == payouts.c.payout_id).scalar_subquery())
    each = select(payouts.c.amount_fen, members_fen.label("lines_fen")).where(payouts.c.run_id == run_id).subquery()
    differs = case((func.coalesce(each.c.lines_fen, 0) == each.c.amount_fen, 0), else_=1)  # no lines: differs
    count, payouts_fen, min_fen, differing = session.execute(select(
        func.count(), func.coalesce(func.sum(each.c.amount_fen), 0), func.min(each.c.amount_fen),
        func.coalesce(func.sum(differs), 0))).one()
    assert run.count == count, f"run {run_id}: count {run.count} != {count} payouts"
    assert run.total_fen == payouts_fen, f"run {run_id}: total {run.total_fen} != {payouts_fen} in its payouts"
    assert min_fen is None or min_fen > 0, f"run {run_id} has a payout of {min_fen} fen"
    assert differing == 0, f"run {run_id}: {differing} payouts differ from the sum of their lines"


# ---- returns -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusEntry:
    end_to_end_id: str
    status: str
    reason: str | None
    where: str  # where in the report (for a 422 naming the field)


@dataclass
class ReturnsOutcome:
    settled: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    conflicting: list[dict] = field(default_factory=list)


def apply_returns(ctx: ServiceContext, principal: Principal, run_id: str, entries: list[StatusEntry],
                  decided_on: date) -> ReturnsOutcome:
    """Settle or reject each payout named in the bank's report, once. The same report twice
    changes nothing; a payout already decided otherwise is reported, not changed."""
    if len(entries) > MAX_RETURN_ENTRIES:
        raise invalid("report", f"at most {MAX_RETURN_ENTRIES} transactions per report")
    with ctx.session_factory() as session:
        run = session.execute(select(payment_runs.c.status).where(payment_runs.c.run_id == run_id)).first()
        if run is None:
            raise not_found("payment run", run_id)
        if run.status != "approved":  # four eyes: nothing went to a bank before the approval
            raise conflict(f"payment run {run_id} is {run.status}: no returns before it is approved",
                           run_status=run.status)
        rows = {}
        ids = list(dict.fromkeys(e.end_to_end_id for e in entries))
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            for r in session.execute(select(payouts).where(payouts.c.payout_id.in_(chunk))):
                rows[r.payout_id] = r
    seen: dict[str, StatusEntry] = {}
    for e in entries:  # validate the whole report before the first write
        if e.status not in KNOWN_STATUSES:
            raise invalid(f"{e.where}.status", f"unknown status {e.status!r}")
        row = rows.get(e.end_to_end_id)
        if row is None or row.run_id != run_id:
            raise invalid(f"{e.where}.end_to_end_id", f"{e.end_to_end_id!r} is no payout of run {run_id}")
        if principal.role == "bank" and bank_part(principal.bank_code or "") != row.bank_part:
            raise forbidden(f"payout {e.end_to_end_id} is not addressed to this bank")
        if e.status in REJECTED and not e.reason:
            raise invalid(f"{e.where}.reason", "a rejection needs its reason code")
        prior = seen.get(e.end_to_end_id)
        if prior is not None and (prior.status, prior.reason) != (e.status, e.reason):
            raise invalid(f"{e.where}.end_to_end_id", f"{e.end_to_end_id} appears twice with different statuses")
        seen[e.end_to_end_id] = e
    outcome = ReturnsOutcome()
    with ctx.uow(principal) as uow:
        session = uow.session
        for payout_id, e in seen.items():
            row = session.execute(select(payouts).where(payouts.c.payout_id == payout_id)).one()
            wanted = "settled" if e.status in SETTLED else "rejected" if e.status in REJECTED else None
            if wanted is None:
                outcome.pending.append(payout_id)
                continue
            if row.status == wanted and (wanted == "settled" or row.reason == e.reason):
                outcome.unchanged.append(payout_id)
                continue
            if row.status != "open":
                outcome.conflicting.append({"payout_id": payout_id, "status": row.status, "reported": e.status})
                continue
            payout = uow.load(Payout, payout_id) or Payout(payout_id)
            lines = _paid_lines(session, payout_id)
            amount = from_fen(row.amount_fen)
            if wanted == "settled":
                payout.settle(run_id, decided_on, amount, lines, e.status)
                session.execute(update(payouts).where(payouts.c.payout_id == payout_id)
                                .values(status="settled", reason=None, decided_on=decided_on))
                outcome.settled.append(payout_id)
            else:
                reason = (e.reason or "").upper()
                account_problem = reason in ACCOUNT_PROBLEM_REASONS
                payout.reject(run_id, decided_on, reason, amount, lines, account_problem)
                session.execute(update(payouts).where(payouts.c.payout_id == payout_id)
                                .values(status="rejected", reason=reason, decided_on=decided_on))
                _release_lines(session, payout_id, row.payee)
                if account_problem:
                    _hold(session, row, reason)
                recovery.payout_returned(uow, payout_id, run_id, decided_on, reason)
                outcome.rejected.append(payout_id)
            uow.save(payout)
    return outcome


def _release_lines(session: Session, payout_id: str, payee: str) -> None:
    """A rejected payout's line locks deleted: its member lines, all its payee's, are the lines it
    locked (the lock has no index by payout: a run writes one row per line into each index it has)."""
    members = select(payout_members.c.line_id).where(payout_members.c.payout_id == payout_id)
    session.execute(delete(payout_lines).where(payout_lines.c.payee == payee, payout_lines.c.line_id.in_(members),
                                               payout_lines.c.payout_id == payout_id))


def _paid_lines(session: Session, payout_id: str) -> tuple[PaidLine, ...]:
    rows = session.execute(select(payout_members).where(payout_members.c.payout_id == payout_id)
                           .order_by(payout_members.c.line_id)).all()
    return tuple(PaidLine(line_id=r.line_id, claim_id=r.claim_id, employer_id=r.employer_id, kind=r.kind,
                          family=r.family, amount=from_fen(r.amount_fen)) for r in rows)


def _hold(session: Session, row, reason: str) -> None:  # noqa: ANN001
    key = and_(account_holds.c.payee == row.payee, account_holds.c.bank_code == row.bank_code,
               account_holds.c.account_no == row.account_no)
    now = datetime.now(timezone.utc)
    if session.execute(select(account_holds.c.payee).where(key)).first() is None:
        session.execute(insert(account_holds).values(payee=row.payee, bank_code=row.bank_code,
                                                     account_no=row.account_no, reason=reason,
                                                     payout_id=row.payout_id, held_at=now))
    else:
        session.execute(update(account_holds).where(key).values(reason=reason, payout_id=row.payout_id, held_at=now))


# ---- the fund's position -------------------------------------------------------------------

def lines_of_region(region: str, moves: dict[str, Move]):  # noqa: ANN201 - a SQL condition
    """The lines of `region`: recorded under a region whose window holds the line's month (a pool
    consolidated into it brings its lines from the date; its lines before stay its own)."""
    el = entitlement_lines
    parts = []
    for w in windows(region, moves):
        months = [c for c in (el.c.period >= f"{w.start:%Y-%m}" if w.start else None,
                              el.c.period < f"{w.end:%Y-%m}" if w.end else None) if c is not None]
        parts.append(and_(el.c.region == w.source, *months))
    return or_(*parts)


def position(session: Session, region: str | None = None) -> dict[str, int]:
    """Fund lines split into settled, open (in a run, not yet answered), settled outside the
    ledger (paid by the old system before going live) and payable (none of these): the four
    always add up to the sum of the fund lines. Lines an overpayment took over, or a recovery
    kept back whole (recovery.py: held without a payout), are settled — open while their run is
    proposed. A region's are those of the pools that belong to it in each line's month."""
    el = entitlement_lines
    where = [el.c.payer == "fund"] + ([lines_of_region(region, region_moves(session))] if region else [])
    joined = el.outerjoin(payout_lines, and_(payout_lines.c.payee == el.c.payee,
                                             payout_lines.c.line_id == el.c.line_id)).outerjoin(
        payouts, payouts.c.payout_id == payout_lines.c.payout_id).outerjoin(
        payment_runs, payment_runs.c.run_id == payout_lines.c.run_id)
    out = {"settled": 0, "open": 0, "payable": 0}
    held = payout_lines.c.line_id.is_not(None).label("held")
    for status, is_held, run_status, amount in session.execute(
            select(payouts.c.status, held, payment_runs.c.status, func.coalesce(func.sum(el.c.amount_fen), 0))
            .select_from(joined).where(*where).group_by(payouts.c.status, held, payment_runs.c.status)):
        if status is None and is_held:
            status = "open" if run_status == "proposed" else "settled"
        out["payable" if status is None else status] += int(amount)
    out["settled_outside"] = int(session.execute(select(func.coalesce(func.sum(el.c.amount_fen), 0)).where(
        *where, el.c.settled_outside.is_not(None))).scalar_one())
    out["payable"] -= out["settled_outside"]  # never in a payout, so counted as payable above
    out["total"] = int(session.execute(select(func.coalesce(func.sum(el.c.amount_fen), 0)).where(*where))
                       .scalar_one())
    return out
