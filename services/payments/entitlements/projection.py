"""The entitlements projection: store every relevant event as a fact, then (re)materialize the
lines of the claims it touches from the facts alone (engine.ledger), so a replay — or any
interleaving of the claims and enrollment topics — ends with the same lines.

Materializing a claim compares the lines the engine derives with the lines stored:
* missing lines are inserted (with the payee's bank account as known now);
* a stored line the engine no longer derives was an artefact of a delivery order (the
  projection saw a later fact before an earlier one): it is withdrawn while no payout holds
  it; one a payout already holds stays, and a correction line settles the difference, so
  every key sums to what is owed. Nothing a payout holds is ever edited.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set as AbstractSet
from contextlib import nullcontext
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter

from sqlalchemy import Date, DateTime, delete, insert, inspect, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from libs.db import bind_processor, driver_mark, sqlite_page_cache
from libs.events.consumer import Projection, insert_rows, rows_hash
from libs.events.envelope import Envelope, utc_now
from libs.events.registry import REGISTRY
from libs.imports.bulk import IMPORTED_WORKERS, ImportedWorkers, driver_moments, fresh_and_rest, stored
from libs.money import from_fen, to_fen, yuan_str
from libs.policy import PolicyVersion
from libs.identifiers import NATIONAL_REGION as NATIONAL
from libs.policy.document import PolicyDocument
from libs.pooling import Move, segments, windows
from libs.pooling_tables import read_moves, record_moves

from . import engine, grouped, in_database
from .engine import CLAIM_TYPES, EMPLOYER_TYPES, KINDS, Fact, Line, PolicyFact, utc
from .tables import (PROJECTED, TEXT_COLUMNS, accounts, claim_facts, claim_input_texts, claim_inputs, claim_states,
                     employer_facts, entitlement_lines, explained_lines, horizons, in_months, line_periods, line_texts,
                     policies, region_moves, texts_id)

log = logging.getLogger(__name__)
# A region is materialized in batches of claims read, derived and written together, so memory is
# bounded by one batch whatever the region's size (no cap on the number of claims).
BATCH_CLAIMS = 5_000
EMPLOYERS_PER_SCAN = 100  # employers whose claims one query looks for (an OR of that many LIKEs)
MY_KINDS = tuple(KINDS)


# ---- taking turns -------------------------------------------------------------------------

MAX_LOCKED_REGIONS = 10_000


def lock_regions(session: Session, regions: Iterable[str]) -> None:
    """Derivations touching a region take turns (PostgreSQL; SQLite's write lock already does).

    A claim's events come on its own key, but the policies and employer facts it depends on come
    on other partitions, so two consumers of the group can hold facts of one region at once; each
    would derive without the other's uncommitted facts (a back-dated policy beside a new claim).
    Holding the region's lock until commit makes the later one see the earlier one's facts.
    Locks are taken in sorted order, so two batches never wait on each other in a cycle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    wanted = sorted(set(regions))
    assert len(wanted) <= MAX_LOCKED_REGIONS
    for region in wanted:
        session.execute(text("select pg_advisory_xact_lock(:k)"),
                        {"k": int.from_bytes(hashlib.blake2b(f"entitlements:{region}".encode(), digest_size=8).digest(),
                                             "big", signed=True)})


def _regions_of(session: Session, claim_ids: set[str]) -> set[str]:
    if not claim_ids:
        return set()
    payloads = session.execute(select(claim_facts.c.payload).where(
        claim_facts.c.claim_id.in_(sorted(claim_ids)), claim_facts.c.type == "InjuryApplied")).scalars()
    return {json.loads(p)["region"] for p in payloads}


# ---- reading the facts -----------------------------------------------------------------------

def _facts_of(session: Session, claim_id: str) -> tuple[list[Fact], dict | None]:
    rows = session.execute(select(claim_facts).where(claim_facts.c.claim_id == claim_id)).all()
    facts = [Fact(r.event_id, r.type, utc(r.recorded_at), json.loads(r.payload)) for r in rows]
    app = next((f.payload for f in sorted(facts, key=lambda f: f.key) if f.type == "InjuryApplied"), None)
    if app is not None:
        rows = session.execute(select(employer_facts).where(employer_facts.c.employer_id == app["employer_id"])).all()
        facts += [Fact(r.event_id, r.type, utc(r.recorded_at), json.loads(r.payload)) for r in rows]
    return facts, app


def policy_facts(session: Session, region: str) -> list[PolicyFact]:
    rows = session.execute(select(policies).where(policies.c.region.in_({region, "000000"}))).all()
    facts = [PolicyFact(PolicyVersion(r.region, r.effective_from, r.version,
                                      PolicyDocument.model_validate(json.loads(r.document)), r.event_id),
                        utc(r.recorded_at)) for r in rows]
    moves = _moves(session)
    return _pooled(session, region, facts, moves) if region in moves else facts


POOLED_VERSION_BASE = 1_000_000  # a stand-in's version: above every own one, in the order of its segment


def _moves(session: Session) -> dict[str, Move]:
    return read_moves(session, region_moves)


def _pooled(session: Session, region: str, facts: list[PolicyFact], moves: dict[str, Move]) -> list[PolicyFact]:
    """A consolidated pool's policy facts (RULES.md "Prevention and pooling"): its own versions
    until its date; from each date on, the versions of the region it then belongs to (that
    region's own, else the national default's, as any region falls back), each standing in the
    pool's list from the date and known from when the consolidation was — so a consolidation
    learned late re-derives the months from its date as arrears or recovery."""
    parts = segments(region, moves)
    own_until = parts[0][2]
    out = [f for f in facts if f.version.region == NATIONAL or f.version.effective_from < own_until]
    known = {r.region: utc(r.recorded_at) for r in session.execute(select(region_moves.c.region,
                                                                         region_moves.c.recorded_at))}
    for i, (into, start, end) in enumerate(parts[1:], start=1):
        moved_at = known[parts[i - 1][0]]
        rows = session.execute(select(policies).where(policies.c.region.in_({into, NATIONAL}))).all()
        own = sorted((r for r in rows if r.region == into), key=lambda r: (r.effective_from, r.version))
        first_own = own[0].effective_from if own else None
        national = sorted((r for r in rows if r.region == NATIONAL and (first_own is None or
                                                                     r.effective_from < first_own)),
                          key=lambda r: (r.effective_from, r.version))
        for base, chosen in ((i * POOLED_VERSION_BASE, national), (i * POOLED_VERSION_BASE + POOLED_VERSION_BASE // 2,
                                                                   own)):
            for rank, r in enumerate(chosen, start=1):
                if end is not None and r.effective_from >= end:
                    continue
                out.append(PolicyFact(PolicyVersion(
                    region, max(r.effective_from, start), base + rank,
                    PolicyDocument.model_validate(json.loads(r.document)), r.event_id,
                    taken_from=(r.region, r.effective_from, r.version)), max(utc(r.recorded_at), moved_at)))
    return out


def pools_into(session: Session, region: str) -> set[str]:
    """The pools whose months are priced by `region`'s policy on some day (a version of it changes them)."""
    return {w.source for w in windows(region, _moves(session))} - {region}


def _horizons(session: Session, region: str) -> list[tuple[datetime, str]]:
    return [(utc(r.requested_at), r.period)
            for r in session.execute(select(horizons).where(horizons.c.region == region))]


def _taken(session: Session, lines: Sequence) -> set[str]:  # noqa: ANN001 - rows with payee and line_id
    """The ids of the lines a payout holds (open or settled): the payouts part's lock table, if it
    exists (keyed by payee, then line id)."""
    if not lines or not inspect(session.connection()).has_table("payout_lines"):
        return set()
    from services.payments.payouts.tables import payout_lines

    out: set[str] = set()
    keys = [(r.payee, r.line_id) for r in lines]
    for i in range(0, len(keys), 500):
        out |= set(session.execute(select(payout_lines.c.line_id).where(
            tuple_(payout_lines.c.payee, payout_lines.c.line_id).in_(keys[i:i + 500]))).scalars())
    return out


def _unbanked(session: Session, payees: Iterable[str]) -> set[str]:
    """Which of the payees have a line still without a bank account (`ix_entitlement_lines_unbanked`),
    in plain IN lists (`_rows_in`: an import's chunk names a thousand payees)."""
    return {payee for (payee,) in _rows_in(session, f"SELECT DISTINCT payee FROM {entitlement_lines.name} "
                                                    "WHERE bank_code IS NULL AND payee IN", sorted(payees))}


def _accounts(session: Session, payees: Iterable[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
    """_account for many payees in plain IN lists: every payee asked for is in the answer."""
    found = {payee: (None, None, None) for payee in payees}
    found.update({payee: (bank_code, account_no, holder) for payee, bank_code, account_no, holder in _rows_in(
        session, f"SELECT payee, bank_code, account_no, holder FROM {accounts.name} WHERE payee IN", sorted(found))})
    return found


def _account(session: Session, payee: str) -> tuple[str | None, str | None, str | None]:
    row = session.execute(select(accounts).where(accounts.c.payee == payee)).first()
    return (row.bank_code, row.account_no, row.holder) if row else (None, None, None)


def _row(line: Line, account: tuple[str | None, str | None, str | None]) -> dict:
    return dict(
        line_id=line.line_id, claim_id=line.claim_id, employer_id=line.employer_id, region=line.region,
        kind=line.kind, family=line.family, period=line.month, period_start=line.period_start,
        period_end=line.period_end, amount_fen=to_fen(line.amount), payer=line.payer, payee=line.payee,
        bank_code=account[0], account_no=account[1], holder=account[2], adjusts=json.dumps(list(line.adjusts)),
        reason=line.reason, known_at=line.known_at, explain_json=json.dumps(line.explain, ensure_ascii=False, sort_keys=True),
        policy_ref_json=json.dumps(line.policy_ref, sort_keys=True), source_event_ids_json=json.dumps(list(line.source_event_ids)),
        settled_outside=line.settled_outside, texts_id=None)


# ---- materializing ---------------------------------------------------------------------------

def materialize_claim(session: Session, claim_id: str, now: datetime | None = None,
                      policy_cache: dict[str, list[PolicyFact]] | None = None, *,
                      facts: tuple[list[Fact], dict | None] | None = None,
                      requested: list[tuple[datetime, str]] | None = None) -> int:
    """Bring the stored lines of one claim to what the facts say (see the module docstring).
    Returns how many lines were inserted. `policy_cache` (region -> its policy facts) lets a
    caller materializing many claims in one transaction read and validate the policies once;
    `facts` (the claim's and its employer's facts, and the application) and `requested` (the
    region's horizons) let it pass what it has read already in bulk."""
    now = utc(now or utc_now())
    facts, app = facts if facts is not None else _facts_of(session, claim_id)
    if app is None:
        return 0
    region = app["region"]
    if policy_cache is None:
        pfs = policy_facts(session, region)
    else:
        if region not in policy_cache:
            policy_cache[region] = policy_facts(session, region)
        pfs = policy_cache[region]
    requested = _horizons(session, region) if requested is None else requested
    el = entitlement_lines
    stored = session.execute(select(el.c.line_id, el.c.kind, el.c.payee, el.c.period, el.c.period_start, el.c.payer,
                                    el.c.amount_fen)
                             .where(in_months(el, session, "claim_id", [claim_id]), el.c.kind.in_(MY_KINDS))).all()
    have = {r.line_id for r in stored}
    derived = engine.ledger(facts, pfs, now, requested, held=have)  # the stored ones abridged: only inserted are new
    _set_states(session, [_state_of(claim_id, facts, pfs, region, now, requested)])
    by_id = {ln.line_id: ln for ln in derived}
    stale = [r for r in stored if r.line_id not in by_id]
    kept: list = []
    if stale:
        taken = _taken(session, stale)
        withdraw = [r.line_id for r in stale if r.line_id not in taken]
        kept = [r for r in stale if r.line_id in taken]
        if withdraw:
            log.info("claim %s: withdrawing %d unpaid lines superseded by earlier facts", claim_id, len(withdraw))
            session.execute(delete(el).where(el.c.period.in_({r.period for r in stale if r.line_id in withdraw}),
                                             el.c.line_id.in_(withdraw)))
    fresh = [ln for ln in derived if ln.line_id not in have]
    accounts_cache = _accounts(session, {ln.payee for ln in fresh})
    if fresh:
        _insert_derived(session, fresh, accounts_cache)
    if kept:  # the corrections copy the derived lines' explanations: derived in full
        _correct(session, claim_id, engine.ledger(facts, pfs, now, requested), kept, now, accounts_cache)
    return len(fresh)


def materialize_claims(session: Session, claim_ids: Sequence[str], now: datetime,
                       unseen: AbstractSet[str] = frozenset()) -> int:
    """`materialize_claim` for the claims a batch of events touched, their facts and stored line ids
    read together; a claim never materialized (a go-live's thousands) gets every line of its
    ledger, and one whose stored lines the ledger still makes all (a go-live's dependents
    registered on its claims) the lines it adds, in one insert with the others' — what
    `materialize_claim` does for them, with the batch's reads and writes. A claim with a stored
    line the ledger no longer makes goes through `materialize_claim` (which withdraws or corrects it).
    `unseen`: claims none of whose facts was stored before this batch (`_claim_facts`), so without
    a line of these kinds (lines come from stored facts only, and a reset empties both): their
    stored lines are not looked up (a go-live's batch: a descent a month and claim that finds none)."""
    facts = _facts_in(session, claim_ids)
    kinds = ", ".join(f"'{k}'" for k in MY_KINDS)  # the engine's own names, never input
    have: dict[str, set[str]] = defaultdict(set)
    seen = [c for c in claim_ids if c not in unseen]
    months = line_periods(session) if seen else []
    for claim_id, line_id in _rows_in(session, f"SELECT claim_id, line_id FROM {entitlement_lines.name} "
                                               f"WHERE kind IN ({kinds}) AND {_months_in(months)} AND claim_id IN",
                                      seen, tuple(months)):
        have[claim_id].add(line_id)
    cache: dict[str, list[PolicyFact]] = {}  # the batch's policies are all stored by now
    requested: dict[str, list[tuple[datetime, str]]] = {}
    fresh: list[Line] = []
    states: list[State] = []
    inserted = 0
    for claim_id in claim_ids:
        if claim_id not in facts or facts[claim_id][1] is None:
            continue
        region = facts[claim_id][1]["region"]
        if region not in cache:
            cache[region], requested[region] = policy_facts(session, region), _horizons(session, region)
        if claim_id in have:
            held = have[claim_id]
            derived = engine.ledger(facts[claim_id][0], cache[region], utc(now), requested[region], held=held)
            if held - {ln.line_id for ln in derived}:
                inserted += materialize_claim(session, claim_id, now, cache, facts=facts[claim_id],
                                              requested=requested[region])
                continue
            fresh += [ln for ln in derived if ln.line_id not in held]
        else:
            fresh += engine.ledger(facts[claim_id][0], cache[region], utc(now), requested[region])
        states.append(_state_of(claim_id, facts[claim_id][0], cache[region], region, utc(now), requested[region]))
    _set_states(session, states)
    if fresh:
        known_accounts = _accounts(session, {ln.payee for ln in fresh})
        with sqlite_page_cache(session, in_database.CACHE_KIB) if len(fresh) >= PAGE_CACHE_LINES else nullcontext():
            _insert_derived(session, fresh, known_accounts)
    return inserted + len(fresh)


# From this many lines of a batch, inserted with SQLite's page cache at in_database.CACHE_KIB (a
# go-live's claims: ~70 each, a batch of thousands): the line id's index and the claim's take each
# line at its own place; fewer lines fit the default cache.
PAGE_CACHE_LINES = 2_000


State = tuple[str, str | None, str | None, str | None]  # claim, through, knowledge, compact inputs


def _state_of(claim_id: str, facts: list[Fact], pfs: list[PolicyFact], region: str, now: datetime,
              requested: Sequence[tuple[datetime, str]]) -> State:
    """The claim's state after `ledger(facts, pfs, now, requested)` was materialized: the month
    through which its lines are, what they were derived from, and the claim's compact month
    inputs (from the same facts); (claim, None, None, None) — no state — while a fact is recorded
    after `now` (its lines will change when `now` passes it)."""
    fs = engine._sorted(facts)
    if not fs or fs[-1].key[0] > now:
        return claim_id, None, None, None
    known = sorted((p for p in pfs if p.version.region in (region, "000000") and p.key[0] <= now), key=lambda p: p.key)
    asked = sorted((utc(t), m) for t, m in requested)
    return claim_id, engine._horizon(now, asked), engine.knowledge(fs, known, asked), grouped.inputs_of(fs, known)


def _set_states(session: Session, states: Sequence[State]) -> None:
    """Replace the claims' states (one without a month: none)."""
    if not states:
        return
    for _ in _rows_in(session, f"DELETE FROM {claim_states.name} WHERE claim_id IN", [state[0] for state in states]):
        pass
    for table in (claim_input_texts, claim_inputs):
        for _ in _rows_in(session, f"DELETE FROM {table.name} WHERE claim_id IN", [state[0] for state in states]):
            pass
    rows = [state for state in states if state[1]]
    if rows:
        mark = driver_mark(session.get_bind().dialect.name)
        session.connection().exec_driver_sql(
            f"INSERT INTO {claim_states.name} (claim_id, through, knowledge) VALUES ({mark}, {mark}, {mark})",
            [state[:3] for state in rows])
        texts = [(state[0], state[3]) for state in rows if state[3] is not None]
        if texts:
            session.connection().exec_driver_sql(
                f"INSERT INTO {claim_input_texts.name} (claim_id, inputs) VALUES ({mark}, {mark})", texts)
    columns = [row for row in (in_database.row_of(inputs) for inputs in (grouped.parse(state[3]) for state in rows
                                                                           if state[3] is not None) if inputs) if row]
    if columns:
        session.execute(insert(claim_inputs), columns)


def _move_states(session: Session, claim_ids: Sequence[str], through: str) -> None:
    """The claims' states now reach `through`, from the same knowledge and inputs."""
    for _ in _rows_in(session, f"UPDATE {claim_states.name} SET through = ? WHERE claim_id IN", claim_ids, (through,)):
        pass


def _correct(session: Session, claim_id: str, derived: list[Line], kept: list, now: datetime,
             accounts_cache: dict) -> None:
    """Paid lines the facts no longer derive: one correction line per key settles the difference."""
    sums: dict[tuple, int] = defaultdict(int)
    ids: dict[tuple, list[str]] = defaultdict(list)
    template: dict[tuple, Line] = {}
    for ln in derived:
        key = ln.key
        sums[key] += to_fen(ln.amount)
        ids[key].append(ln.line_id)
        template[key] = ln
    for r in kept:
        period = r.period_start.isoformat() if r.kind not in engine.MONTHLY and r.period_start else r.period
        key = (r.kind, r.payee, period, r.payer)
        extra = -int(r.amount_fen)  # the paid line counts already: take it back out of the derived sum
        line = template.get(key)
        if line is None:
            continue
        lid = engine.line_id(claim_id, key, f"correction:{r.line_id}", extra)
        if session.execute(select(entitlement_lines.c.line_id).where(entitlement_lines.c.period == line.month,
                                                                     entitlement_lines.c.line_id == lid)).first():
            continue
        corr = Line(lid, claim_id, line.employer_id, line.region, line.kind, line.family, line.period, line.period_start,
                    line.period_end, from_fen(extra), line.payer, line.payee, (r.line_id, *ids[key]),
                    f"correction: paid line {r.line_id} was superseded by facts learned out of order",
                    now, {**line.explain, "correction": {"paid_line": r.line_id, "amount": yuan_str(-extra)}},
                    line.policy_ref, line.source_event_ids)
        _insert_lines(session, [_row(corr, accounts_cache.get(line.payee) or (None,) * 3)])


def _claims_in(session: Session, region: str | None, skip: str | None = None) -> Iterator[list[str]]:
    """The claims of `region` (every region: None) in batches of BATCH_CLAIMS, streamed; not
    those in the table `skip` (its column `claim_id`)."""
    q = select(claim_facts.c.claim_id).where(claim_facts.c.type == "InjuryApplied")
    if region is not None:
        q = q.where(claim_facts.c.region == region)
    if skip is not None:
        q = q.where(text(f"{claim_facts.name}.claim_id NOT IN (SELECT claim_id FROM {skip})"))
    result = session.execute(q.execution_options(stream_results=True, yield_per=BATCH_CLAIMS))
    for part in result.partitions(BATCH_CLAIMS):
        yield sorted({r[0] for r in part})


def _regions(session: Session) -> list[str]:
    return sorted(set(session.execute(select(claim_facts.c.region).distinct().where(
        claim_facts.c.type == "InjuryApplied", claim_facts.c.region.is_not(None))).scalars()))


def regions_falling_back(session: Session, effective_from: date) -> set[str]:
    """The regions with claims that fall back to the national default on some day from
    `effective_from` on (RULES.md: a new national default applies at once to each of them): those
    without a version of their own in force by that day. A region whose own policy covers every
    day since is untouched by the national version and is not derived again."""
    covered = set(session.execute(select(policies.c.region).distinct().where(
        policies.c.region != "000000", policies.c.effective_from <= effective_from)).scalars())
    return set(_regions(session)) - covered


ID_CHUNK = 2_000  # ids per IN list (SQLite allows 32,766 parameters, PostgreSQL 65,535)


def _rows_in(session: Session, sql: str, ids: Sequence[str], before: tuple = (), after: str = "") -> Iterator[tuple]:
    """`sql` ending in `IN` over `ids` (then `after`), in plain driver IN lists of ID_CHUNK:
    SQLAlchemy's expanding IN spent more rendering a batch's lists of ids than the database
    reading them."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    for i in range(0, len(ids), ID_CHUNK):
        part = tuple(ids[i:i + ID_CHUNK])
        result = conn.exec_driver_sql(f"{sql.replace('?', mark)} ({', '.join([mark] * len(part))}) {after}",
                                      before + part)
        if result.returns_rows:
            yield from result


def _months_in(months: Sequence[str]) -> str:
    """`period IN (...)` over `months` for `_rows_in` (their values go first in its `before`): the
    lines' keys lead with the month (`tables.in_months`)."""
    return f"period IN ({', '.join(['?'] * len(months))})" if months else "1 = 0"


def _result(session: Session, column):  # noqa: ANN001, ANN202 - what the dialect returns → the Python value
    dialect = session.get_bind().dialect
    return column.type.dialect_impl(dialect).result_processor(dialect, None) or (lambda v: v)


def _facts_in(session: Session, claim_ids: Sequence[str]) -> dict[str, tuple[list[Fact], dict | None]]:
    """`_facts_of` for a batch of claims, in two queries."""
    claims: dict[str, list[Fact]] = defaultdict(list)
    as_datetime = _result(session, claim_facts.c.recorded_at)
    for claim_id, event_id, type_, recorded_at, payload in _rows_in(
            session, f"SELECT claim_id, event_id, type, recorded_at, payload FROM {claim_facts.name} WHERE claim_id IN",
            claim_ids):
        claims[claim_id].append(Fact(event_id, type_, utc(as_datetime(recorded_at)), json.loads(payload)))
    apps = {c: next((f.payload for f in sorted(fs, key=lambda f: f.key) if f.type == "InjuryApplied"), None)
            for c, fs in claims.items()}
    employers: dict[str, list[Fact]] = defaultdict(list)
    wanted = sorted({a["employer_id"] for a in apps.values() if a is not None})
    for i in range(0, len(wanted), BATCH_CLAIMS):
        for r in session.execute(select(employer_facts).where(employer_facts.c.employer_id.in_(wanted[i:i + BATCH_CLAIMS]))):
            employers[r.employer_id].append(Fact(r.event_id, r.type, utc(r.recorded_at), json.loads(r.payload)))
    return {c: ([*fs, *employers.get(apps[c]["employer_id"], ())] if apps[c] is not None else fs, apps[c])
            for c, fs in claims.items()}


LINE_COLUMNS = tuple(c.name for c in entitlement_lines.columns)
DATE_COLUMNS = frozenset(i for i, c in enumerate(entitlement_lines.columns) if isinstance(c.type, (Date, DateTime)))


FACT_COLUMNS = ("claim_id", "event_id", "type", "region", "recorded_at", "occurred_on", "payload")
assert FACT_COLUMNS == tuple(c.name for c in claim_facts.columns)


def _any_injury(session: Session) -> bool:
    """Whether any claim's InjuryApplied is stored: without one no employer has a claim here, and
    the scan of the facts for an employer's claims (an OR of LIKEs) would find none (a go-live
    enrolls its employers before it imports a claim). One probe of the facts' index led by type."""
    return session.execute(select(claim_facts.c.claim_id).where(claim_facts.c.type == "InjuryApplied")
                           .limit(1)).first() is not None


def _processor(session: Session, column) -> Callable:  # noqa: ANN001 - a Column
    """The column's bind processor for the dialect (the value itself where it has none); None stays None."""
    dialect = session.connection().dialect
    processor = bind_processor(column, dialect)
    return (lambda value: value) if processor is None else (lambda value: None if value is None else processor(value))


def _line_processors(session: Session) -> list:
    dialect = session.connection().dialect
    return [bind_processor(c, dialect) for c in entitlement_lines.columns]


def _insert_lines(session: Session, rows: list[dict]) -> None:
    """Rows of `_row` in one executemany of plain tuples, each value through its column's bind
    processor (so a date is stored exactly as SQLAlchemy's own insert stores it): no
    bound-parameter object per value."""
    processors = _line_processors(session)
    _insert_tuples(session, [tuple(r[name] if p is None or r[name] is None else p(r[name])
                                   for name, p in zip(LINE_COLUMNS, processors)) for r in rows])


TEXTS_AT = tuple(LINE_COLUMNS.index(name) for name in TEXT_COLUMNS)
# A line pointing at its texts, without its three text columns (NULL, as the statement leaves them):
# sqlite3 binds a None at several times a value's cost (it looks for an adapter of None each time).
POINTING_COLUMNS = tuple(name for name in LINE_COLUMNS if name not in TEXT_COLUMNS)
KEPT_AT = tuple(i for i, name in enumerate(LINE_COLUMNS) if name not in TEXT_COLUMNS)
TEXTS_ID_AT = POINTING_COLUMNS.index("texts_id")


def _insert_derived(session: Session, lines: Sequence[Line],
                    accounts_of: Mapping[str, tuple[str | None, str | None, str | None]]) -> None:
    """`_insert_lines` of the lines' `_row`s (the payee's account from `accounts_of`), the same
    stored values, for many lines that share few: each explanation and policy reference encoded
    once by identity (the ledger hands a claim's months of one calculation the same objects; the
    memo keeps them alive), each list of sources and each date once by value, each line's three
    texts digested once — not once a line."""
    processors = _line_processors(session)
    assert not any(p for i, p in enumerate(processors) if p and LINE_COLUMNS[i] not in DATE_NAMES), \
        "a column with a bind processor _insert_derived does not apply"
    start_of, end_of, known_of = (_memoized(processors[LINE_COLUMNS.index(name)]) for name in DATE_NAMES)
    explains: dict[int, tuple[object, str]] = {}
    refs: dict[int, tuple[object, str]] = {}
    by_value: dict[tuple, str] = {}
    texts: dict[tuple[str, str, str], str] = {}

    def listed(values: tuple) -> str:
        found = by_value.get(values)
        if found is None:
            found = by_value[values] = json.dumps(list(values))
        return found

    fens: dict[int, tuple[object, int]] = {}  # by the amount's identity (a claim's months of a calculation share it)
    # A line's three texts' id, by its explanation's and policy reference's identity and its sources:
    # the months of one calculation look it up once a line, not encode and join three texts.
    keys: dict[tuple[int, int, tuple[str, ...]], tuple[object, object, str]] = {}
    # In the primary key's order (a go-live's claims: ~70 lines each over years of months): each
    # month's new lines go into its part of the key's index (and of the claim's) one after the
    # other, not every line to another month's page; a quarter less of the insert's time at 0.01.
    # Gathered by month, then each month's by line id: the same order as sorting the rows by
    # (period, line_id), without comparing a pair of tuples a step (that sort was a quarter of
    # this function's time for a go-live's batch).
    by_month: dict[str, list[tuple]] = defaultdict(list)
    for ln in lines:
        (line_id_, claim_id, employer_id, region, kind, family, period, period_start, period_end, amount, payer, payee,
         adjusts, reason, known_at, explain, policy_ref, sources, outside) = ln
        found = keys.get((id(explain), id(policy_ref), sources))
        if found is None or found[0] is not explain or found[1] is not policy_ref:
            three = (_encoded(explain, explains, ensure_ascii=False), _encoded(policy_ref, refs, ensure_ascii=True),
                     listed(sources))
            key = texts.get(three)
            if key is None:
                key = texts[three] = texts_id(*three)
            found = keys[(id(explain), id(policy_ref), sources)] = (explain, policy_ref, key)
        fen = fens.get(id(amount))
        if fen is None or fen[0] is not amount:
            fen = fens[id(amount)] = (amount, to_fen(amount))
        account = accounts_of[payee]
        month = period[:7]
        by_month[month].append((  # POINTING_COLUMNS
            line_id_, claim_id, employer_id, region, kind, family, month, start_of(period_start), end_of(period_end),
            fen[1], payer, payee, account[0], account[1], account[2], listed(adjusts), reason,
            known_of(known_at), outside, found[2]))
    rows = [row for month in sorted(by_month) for row in sorted(by_month[month], key=_LINE_ID)]
    _write_pointing(session, {key: three for three, key in texts.items()}, rows)


DATE_NAMES = ("period_start", "period_end", "known_at")
_LINE_ID = itemgetter(POINTING_COLUMNS.index("line_id"))


def _memoized(processor: Callable | None) -> Callable:
    """A column's bind processor (None: the value as it is) remembered by value (a claim's months
    share their days and moments); None stays None, as the processor is never asked about it."""
    if processor is None:
        return lambda value: value
    memo: dict = {None: None}

    def process(value: object) -> object:
        found = memo.get(value, memo)
        if found is memo:
            found = memo[value] = processor(value)
        return found
    return process


def _encoded(obj: object, memo: dict[int, tuple[object, str]], *, ensure_ascii: bool) -> str:
    """`json.dumps(obj, ensure_ascii=…, sort_keys=True)`, remembered by identity (the memo holds
    the object, so its id is not reused meanwhile). One memo serves one kind of text."""
    found = memo.get(id(obj))
    if found is None or found[0] is not obj:
        found = memo[id(obj)] = (obj, json.dumps(obj, ensure_ascii=ensure_ascii, sort_keys=True))
    return found[1]


def _insert_tuples(session: Session, rows: list[tuple]) -> None:
    """Processed rows in LINE_COLUMNS order, in one executemany; their texts stored once, in
    `entitlement_line_texts` (those already there left as they are), the lines pointing at them.
    A row missing one of its texts is stored as it is."""
    texts: dict[str, tuple] = {}
    pointing = []
    own = []
    for row in rows:
        three = tuple(row[i] for i in TEXTS_AT)
        if None in three:
            own.append(row)
            continue
        key = texts_id(*three)
        texts[key] = three
        values = [row[i] for i in KEPT_AT]
        values[TEXTS_ID_AT] = key
        pointing.append(tuple(values))
    _write_pointing(session, texts, pointing)
    _write_lines(session, LINE_COLUMNS, own)


def _write_pointing(session: Session, texts: Mapping[str, tuple], rows: list[tuple]) -> None:
    """The lines' texts (texts_id -> the three; those already stored left as they are) and the
    processed lines, in POINTING_COLUMNS order, pointing at them."""
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    if texts:
        names = ("texts_id", *TEXT_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO {line_texts.name} ({', '.join(names)}) VALUES ({', '.join([mark] * 4)}) "
                             "ON CONFLICT (texts_id) DO NOTHING", [(key, *three) for key, three in sorted(texts.items())])
    _write_lines(session, POINTING_COLUMNS, rows)


def _write_lines(session: Session, columns: Sequence[str], rows: list[tuple]) -> None:
    """Processed lines, their values in the order of `columns` (the table's others are NULL)."""
    if not rows:
        return
    conn = session.connection()
    mark = driver_mark(conn.dialect.name)
    conn.exec_driver_sql(f"INSERT INTO {entitlement_lines.name} ({', '.join(columns)}) "
                         f"VALUES ({', '.join([mark] * len(columns))})", rows)


def _fact_counts(session: Session, inputs: dict[str, grouped.Inputs]) -> dict[str, int]:
    """How many facts each claim has now (its own and its employer's). Facts are only ever added
    (a reset empties the states with them), so a count equal to the one its inputs were written
    with means the same facts."""
    own = dict(_rows_in(session, f"SELECT claim_id, count(*) FROM {claim_facts.name} WHERE claim_id IN",
                        sorted(inputs), after="GROUP BY claim_id"))
    employers = dict(_rows_in(session, f"SELECT employer_id, count(*) FROM {employer_facts.name} WHERE employer_id IN",
                              sorted({i.employer for i in inputs.values()}), after="GROUP BY employer_id"))
    return {c: int(own.get(c, 0)) + int(employers.get(i.employer, 0)) for c, i in inputs.items()}


def _grouped_part(session: Session, claim_ids: Sequence[str], states: dict[str, tuple], stored: dict,
                  month: grouped.MonthOfGroups) -> tuple[list[tuple], list[str], list[str]]:
    """The claims of the batch whose month comes from their compact inputs (`grouped`): untouched
    since the month before — the stored state through `ahead.previous`, its knowledge what the
    inputs and the region's policies and requests make now, the same facts — and covered by the
    inputs this month. Returns their rows, those claims (their states move on a month, the same
    knowledge and inputs), and the other claims."""
    ahead = month.ahead
    candidates: dict[str, grouped.Inputs] = {}
    for claim_id in claim_ids:
        state = states.get(claim_id)
        if state is not None and state[0] == ahead.previous and state[2] is not None:
            inputs = grouped.parse(state[2])
            if inputs is not None and month.knowledge(inputs) == state[1]:
                candidates[claim_id] = inputs
    if not candidates:
        return [], [], list(claim_ids)
    counts = _fact_counts(session, candidates)
    known_accounts = _accounts(session, {i.payee for i in candidates.values()})
    rows: list[tuple] = []
    done: list[str] = []
    rest: list[str] = []
    for claim_id in claim_ids:
        inputs = candidates.get(claim_id)
        made = None
        if inputs is not None and counts[claim_id] == int(inputs.facts):
            made = month.rows(inputs, known_accounts[inputs.payee])
        already = stored.get(claim_id, {}).get(ahead.month, set())
        if made is None or not already <= {r[0] for r in made}:
            rest.append(claim_id)
            continue
        rows += [r for r in made if r[0] not in already]
        done.append(claim_id)
    return rows, done, rest


def _materialize_batch(session: Session, claim_ids: Sequence[str], ahead: engine.MonthAhead,
                       pfs: list[PolicyFact], month: grouped.MonthOfGroups | None = None) -> int:
    """Materialize a batch of claims of `ahead.region`, each the cheapest way that is exact:

    * grouped — untouched, and its compact inputs cover the month (`_grouped_part`): the month's
      lines from the inputs, what a group of claims shares made once, its facts not read;

    * untouched — its stored state says its lines are through `ahead.previous`, derived from the
      knowledge it has now (no fact, policy version or horizon request since): the month's lines
      alone (`engine.month_alone`);
    * checked — its stored lines of the previous month are exactly the ones the ledger makes for
      that month (so it was materialized with what it knows: the projection materializes a claim
      whenever it stores one of its facts or a policy of its region): the month's lines
      (`engine.month_ahead`: two months derived, not the claim's history);
    * any other claim — never materialized, or without a line in the previous month to check —
      is derived in full: one without a stored line gets every line of the ledger, in the batch's
      bulk insert; one with stored lines goes through `materialize_claim` (which withdraws or
      corrects what the ledger no longer makes).
    In all three, stored lines of the month that the ledger does not make send the claim to the
    full derivation (which withdraws or corrects them)."""
    el = entitlement_lines
    texts = dict(_rows_in(session, f"SELECT claim_id, inputs FROM {claim_input_texts.name} WHERE claim_id IN",
                          claim_ids))
    states = {c: (through, known, texts.get(c)) for c, through, known in _rows_in(
        session, f"SELECT claim_id, through, knowledge FROM {claim_states.name} WHERE claim_id IN", claim_ids)}
    stored: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    kinds = ", ".join(f"'{k}'" for k in MY_KINDS)  # the engine's own names, never input
    for claim_id, period, line_id in _rows_in(
            session, f"SELECT claim_id, period, line_id FROM {el.name} WHERE period = ? AND kind IN ({kinds}) "
                     "AND claim_id IN", claim_ids, (ahead.month,)):
        stored[claim_id][period].add(line_id)
    rows, moved, rest = _grouped_part(session, claim_ids, states, stored, month) if month else ([], [], claim_ids)
    for claim_id, period, line_id in _rows_in(  # the month before: checked for the others only
            session, f"SELECT claim_id, period, line_id FROM {el.name} WHERE period = ? AND kind IN ({kinds}) "
                     "AND claim_id IN", rest, (ahead.previous,)):
        stored[claim_id][period].add(line_id)
    facts = _facts_in(session, rest)
    done: list[State] = []
    fresh: list[Line] = []
    full: list[str] = []
    for claim_id in rest:
        if claim_id not in facts or facts[claim_id][1] is None:
            continue
        fs = engine._sorted(facts[claim_id][0])
        mine = stored.get(claim_id, {})
        already = mine.get(ahead.month, set())
        state = states.get(claim_id)
        alone = engine.month_alone(fs, ahead) if state is not None and state[0] == ahead.previous else None
        if alone is not None and alone[0] == state[1]:
            known, lines = alone
        else:
            two = engine.month_ahead(fs, ahead)
            if two is None or not two.previous or mine.get(ahead.previous, set()) != {ln.line_id for ln in two.previous}:
                full.append(claim_id)
                continue
            known, lines = engine.knowledge(fs, ahead.policies, ahead.requested), two.month
        if not already <= {ln.line_id for ln in lines}:
            full.append(claim_id)
            continue
        fresh += [ln for ln in lines if ln.line_id not in already]
        done.append((claim_id, ahead.month, known, grouped.inputs_of(fs, ahead.policies)))
    # A claim without a stored line (never materialized, or nothing owed yet) gets every line the
    # ledger makes — what `materialize_claim` does for it, with the batch's reads and writes.
    months = line_periods(session) if full else []
    with_lines = {c for (c,) in _rows_in(
        session, f"SELECT DISTINCT claim_id FROM {el.name} WHERE kind IN ({kinds}) AND {_months_in(months)} "
                 "AND claim_id IN", full, tuple(months))}
    requested = list(ahead.requested)
    for claim_id in [c for c in full if c not in with_lines]:
        fresh += engine.ledger(facts[claim_id][0], pfs, ahead.now, requested)
        done.append(_state_of(claim_id, facts[claim_id][0], pfs, ahead.region, ahead.now, requested))
    if fresh:
        known_accounts = _accounts(session, {ln.payee for ln in fresh})
        _insert_derived(session, fresh, known_accounts)
    if rows:
        _insert_tuples(session, rows)
    _set_states(session, done)
    _move_states(session, moved, ahead.month)
    cache = {ahead.region: pfs}
    return len(fresh) + len(rows) + sum(materialize_claim(session, claim_id, ahead.now, cache, facts=facts[claim_id],
                                              requested=requested) for claim_id in full if claim_id in with_lines)


def materialize_region(session: Session, region: str, now: datetime) -> int:
    """Bring every claim of `region` to what its facts say at `now`: the month of its untouched
    claims made by the database from their compact inputs (`in_database`), the others in batches."""
    pfs = policy_facts(session, region)
    ahead = engine.MonthAhead.of(region, pfs, now, _horizons(session, region))
    month = grouped.MonthOfGroups(ahead, _line_processors(session), DATE_COLUMNS)
    if not IN_DATABASE:
        return sum(_materialize_batch(session, batch, ahead, pfs, month) for batch in _claims_in(session, region))
    with in_database.untouched_month(session, month) as (inserted, chosen):
        return inserted + sum(_materialize_batch(session, batch, ahead, pfs, month)
                              for batch in _claims_in(session, region, skip=chosen))


IN_DATABASE = True  # the untouched claims' month made by the database (`in_database`); else in Python


def materialize_through(session: Session, region: str, period: str, now: datetime | None = None) -> int:
    """Make sure every claim of `region` has its lines up to the month `period` (a payment run
    calls this first). A month beyond the current one is recorded as a horizon, so a replay
    materializes the same lines."""
    now = utc(now or utc_now())
    if period > engine.month_of(now.date()):
        exists = session.execute(select(horizons.c.period).where(horizons.c.region == region,
                                                                  horizons.c.period == period)).first()
        if exists is None:
            session.execute(insert(horizons).values(region=region, period=period, requested_at=now))
    return materialize_region(session, region, now)


# ---- the projection --------------------------------------------------------------------------

# The types handle_batch does anything with but the workers' enrollments (taken apart, in runs)
READ = frozenset({*CLAIM_TYPES, *EMPLOYER_TYPES, "PolicyPublished", "PoolsConsolidated", "BankAccountChanged"})


class EntitlementsProjection(Projection):
    name = "entitlements"
    sources = ("claims", "enrollment")
    # A go-live's claims (~6 events and ~72 lines each) in batches of ~850, not ~170: each month's
    # part of the lines' key takes a batch's lines at random places (the line id is a digest), and a
    # bigger batch writes each page of it once for more lines. 6,000 claims in a scratch table: the
    # commits 0.39-0.42 → 0.17-0.19 ms of CPU a claim; no gain at 2,000 (every page is written anyway).
    min_batch = 5_000

    def handle(self, session: Session, envelope: Envelope) -> None:
        self.handle_batch(session, [envelope])

    def handle_batch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        claims: set[str] = set()
        employers: set[str] = set()
        regions: set[str] = set()
        payees: set[str] = set()
        national_from: list[date] = []  # effective dates of national versions in this batch
        consolidated: list[str] = []  # regions pools were consolidated into in this batch
        enrolled: list[Envelope] = []  # a run of EmployeeEnrolled: their accounts written together
        dependents: list[Envelope] = []  # the batch's DependentRegistered: their accounts written together
        employer_events: dict[tuple[str, str], Envelope] = {}  # facts no other event here reads: stored together
        claim_events: dict[tuple[str, str], Envelope] = {}  # the same: no event here reads a claim's facts
        for e in envelopes:
            if e.type == IMPORTED_WORKERS:  # an import's chunk of workers: its accounts as columns
                payees |= self._set_accounts(session, enrolled)
                enrolled = []
                payees |= self._set_imported_accounts(session, ImportedWorkers.of(e))
                continue
            if REGISTRY.knows(e.type):
                e = REGISTRY.upcast(e)
            p = e.payload
            if e.type == "EmployeeEnrolled" and p.get("employee_id"):
                enrolled.append(e)
                continue
            if e.type not in READ:
                continue  # nothing here reads it (a worker's separation): the run of enrollments goes on
            payees |= self._set_accounts(session, enrolled)
            enrolled = []
            if e.type in CLAIM_TYPES and p.get("claim_id"):
                claim_events.setdefault((p["claim_id"], str(e.event_id)), e)  # stored together, below
                claims.add(p["claim_id"])
                if e.type == "DependentRegistered":  # no other event writes a dependent's account
                    dependents.append(e)
            elif e.type in EMPLOYER_TYPES and p.get("employer_id"):
                employer_events.setdefault((p["employer_id"], str(e.event_id)), e)  # the first one counts
                employers.add(p["employer_id"])
            elif e.type == "PolicyPublished":
                if session.execute(select(policies.c.version).where(
                        policies.c.region == p["region"], policies.c.version == p["version"])).first() is None:
                    session.execute(insert(policies).values(
                        region=p["region"], version=p["version"], effective_from=date.fromisoformat(p["effective_from"]),
                        document=json.dumps(p["document"], sort_keys=True, ensure_ascii=False),
                        event_id=str(e.event_id), recorded_at=e.recorded_at))
                regions.add(p["region"])
                if p["region"] == "000000":
                    national_from.append(date.fromisoformat(p["effective_from"]))
            elif e.type == "PoolsConsolidated":
                record_moves(session, region_moves, p, recorded_at=e.recorded_at)
                consolidated.append(p["into_region"])
            elif e.type == "BankAccountChanged" and p.get("employee_id"):
                payees.add(self._set_account(session, f"employee:{p['employee_id']}", p.get("bank_account"), e))
        payees |= self._set_accounts(session, enrolled)
        payees |= self._set_accounts(session, dependents, lambda e: f"dependent:{e.payload['dependent_id']}")
        self._employer_facts(session, employer_events)
        unseen = self._claim_facts(session, claim_events)
        now = utc_now()
        if national_from:
            regions |= regions_falling_back(session, min(national_from))
        for region in {*regions, *consolidated} - {"000000"}:  # pools priced by a region's policy from their date
            regions |= pools_into(session, region)
        ids = sorted(employers) if employers and _any_injury(session) else []
        for i in range(0, len(ids), EMPLOYERS_PER_SCAN):  # the claims of these employers: one scan of many
            claims |= set(session.execute(select(claim_facts.c.claim_id).where(
                claim_facts.c.type == "InjuryApplied", or_(*[claim_facts.c.payload.contains(
                    f'"employer_id": "{employer_id}"') for employer_id in ids[i:i + EMPLOYERS_PER_SCAN]]))
            ).scalars())
        lock_regions(session, regions | _regions_of(session, claims))
        for region in sorted(regions - {"000000"}):  # a new policy version: the whole region, in batches
            materialize_region(session, region, now)
        # a region's materialization has read the new claims' facts too: their lines may be stored now
        materialize_claims(session, sorted(claims), now, frozenset() if regions - {"000000"} else unseen)
        for payee in sorted(_unbanked(session, payees - {None})):  # lines to give it to
            bank_code, account_no, holder = _account(session, payee)
            if bank_code:
                session.execute(update(entitlement_lines).where(entitlement_lines.c.payee == payee,
                                                                entitlement_lines.c.bank_code.is_(None))
                                .values(bank_code=bank_code, account_no=account_no, holder=holder))

    @staticmethod
    def _claim_facts(session: Session, facts: dict[tuple[str, str], Envelope]) -> set[str]:
        """The claims' events not stored yet (a go-live's come in thousands), looked up a chunk of
        claims at a time and inserted together, before anything here reads the claims' facts.
        Returns the claims none of whose facts was stored before."""
        ids = sorted({claim_id for claim_id, _event_id in facts})
        known: set[tuple[str, str]] = set()
        for i in range(0, len(ids), ID_CHUNK):
            known.update(tuple(r) for r in session.execute(select(claim_facts.c.claim_id, claim_facts.c.event_id)
                                                           .where(claim_facts.c.claim_id.in_(ids[i:i + ID_CHUNK]))))
        # As SQLAlchemy's insert stores them (each value through its column's bind processor), in
        # `insert_rows`' statements of many rows: a go-live's batch is thousands of facts.
        moment, day = (_processor(session, claim_facts.c[name]) for name in ("recorded_at", "occurred_on"))
        new = [(key[0], key[1], e.type, e.payload.get("region") if e.type == "InjuryApplied" else None,
                moment(e.recorded_at), day(e.occurred_on), json.dumps(e.payload, sort_keys=True))
               for key, e in facts.items() if key not in known]
        insert_rows(session, claim_facts, FACT_COLUMNS, new)
        return set(ids) - {claim_id for claim_id, _event_id in known}

    @staticmethod
    def _employer_facts(session: Session, facts: dict[tuple[str, str], Envelope]) -> None:
        """The employers' events not stored yet, in one insert (a go-live's are thousands)."""
        ids = sorted({employer_id for employer_id, _event_id in facts})
        known: set[tuple[str, str]] = set()
        for i in range(0, len(ids), ID_CHUNK):
            known.update(tuple(r) for r in session.execute(select(employer_facts.c.employer_id, employer_facts.c.event_id)
                                                           .where(employer_facts.c.employer_id.in_(ids[i:i + ID_CHUNK]))))
        # as SQLAlchemy's insert stores them, in `insert_rows`' statements of many rows (`_claim_facts`)
        moment = _processor(session, employer_facts.c.recorded_at)
        insert_rows(session, employer_facts, ("employer_id", "event_id", "type", "recorded_at", "payload"), [
            (key[0], key[1], e.type, moment(e.recorded_at), json.dumps(e.payload, sort_keys=True))
            for key, e in facts.items() if key not in known])

    def _set_accounts(self, session: Session, run: list[Envelope],
                      payee_of: Callable[[Envelope], str] = lambda e: f"employee:{e.payload['employee_id']}",
                      ) -> set[str | None]:
        """_set_account for a run of EmployeeEnrolled (or of a batch's DependentRegistered): a
        payee with no account yet (and named once in the run) inserted with the others
        (libs.imports.bulk), the rest one by one, in order."""
        with_account = [e for e in run if e.payload.get("bank_account")]
        fresh, rest = fresh_and_rest(with_account, payee_of, lambda payees: stored(session, accounts.c.payee, payees))
        if fresh:
            moment = driver_moments(session)
            insert_rows(session, accounts, ("payee", "bank_code", "account_no", "holder", "recorded_at", "event_id"), [
                (payee_of(e), a.get("bank_code"), a.get("account_no"), a.get("holder"),
                 moment(e.recorded_at), str(e.event_id))
                for e in fresh for a in [e.payload["bank_account"]]])
        payees: set[str | None] = {payee_of(e) for e in fresh}
        for e in rest:
            payees.add(self._set_account(session, payee_of(e), e.payload["bank_account"], e))
        return payees

    def _set_imported_accounts(self, session: Session, chunk: ImportedWorkers) -> set[str | None]:
        """`_set_accounts` for an import's chunk of workers, as columns: those with an account."""
        banked = [i for i, code in enumerate(chunk.bank_codes) if code is not None]
        with_account = chunk if len(banked) == len(chunk) else chunk.only(banked)
        payees = ["employee:" + employee_id for employee_id in with_account.employee_ids]
        fresh, rest = with_account.fresh_and_rest(payees, lambda keys: stored(session, accounts.c.payee, keys))
        if fresh is not with_account:
            payees = ["employee:" + employee_id for employee_id in fresh.employee_ids]
        if fresh:
            recorded_at = driver_moments(session)(chunk.envelope.recorded_at)
            insert_rows(session, accounts, ("payee", "bank_code", "account_no", "holder", "recorded_at", "event_id"),
                        list(zip(payees, fresh.bank_codes, fresh.account_nos, fresh.holders, repeat(recorded_at),
                                 fresh.event_ids())))
        done: set[str | None] = set(payees)
        for e in rest:
            done.add(self._set_account(session, f"employee:{e.payload['employee_id']}", e.payload["bank_account"], e))
        return done

    def _set_account(self, session: Session, payee: str, account: dict | None, e: Envelope) -> str | None:
        if not account:
            return None
        row = session.execute(select(accounts.c.recorded_at).where(accounts.c.payee == payee)).first()
        values = dict(bank_code=account.get("bank_code"), account_no=account.get("account_no"),
                      holder=account.get("holder"), recorded_at=e.recorded_at, event_id=str(e.event_id))
        if row is None:
            session.execute(insert(accounts).values(payee=payee, **values))
        elif utc(row.recorded_at) <= utc(e.recorded_at):
            session.execute(update(accounts).where(accounts.c.payee == payee).values(**values))
        return payee

    def reset(self, session: Session) -> None:
        for table in PROJECTED:
            session.execute(delete(table))
        # The lines this part derives (not the medical lines the payouts part records itself).
        session.execute(delete(entitlement_lines).where(entitlement_lines.c.kind.in_(MY_KINDS)))

    def state_hash(self, session: Session) -> str:
        el = entitlement_lines
        return rows_hash(
            session,
            select(claim_facts).order_by(claim_facts.c.claim_id, claim_facts.c.event_id),
            select(employer_facts).order_by(employer_facts.c.employer_id, employer_facts.c.event_id),
            select(accounts).order_by(accounts.c.payee),
            select(policies).order_by(policies.c.region, policies.c.version),
            select(region_moves).order_by(region_moves.c.region),
            explained_lines().where(el.c.kind.in_(MY_KINDS)).order_by(el.c.line_id),  # with their texts
        )
