"""Pooling moves up, in the levy (RULES.md "Prevention and pooling").

The levy projects enrollment's PoolsConsolidated into `levy_consolidations` and
`levy_region_moves` and reads every region *by date* through them (libs.pooling):

- a month is assessed at the policy of the region its employer belongs to on the month's first
  day, and its report is recorded under that region;
- the books keep each posting as recorded (its employer's enrolled region, or its payment run's);
  a region's postings are those of the recorded regions whose windows hold the posting's day;
- the fund balance moves by balanced entries on the effective date, derived from the postings
  whenever they are read (so a fact recorded later about a day before the date moves the carried
  balance with it, and nothing is ever rewritten): the old region's balance-sheet accounts are
  closed against `pool_transfer`, the new region opens them against the same account. The two
  entries mirror each other, so the whole book still balances and so does each region's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from libs.money import yuan_str
from libs.pooling import Move, Window, moved_into, region_on, windows
from libs.pooling_tables import read_moves, record_moves

from .domain import ledger
from .domain.rules import period_of
from .tables import (
    levy_consolidations,
    levy_employers,
    levy_employments,
    levy_injuries,
    levy_payment_runs,
    levy_region_moves,
    postings,
    wage_reports,
)

MAX_LISTED = 100  # open periods listed per pool (all are counted)


def moves(session: Session) -> dict[str, Move]:
    return read_moves(session, levy_region_moves)


def region_of(session: Session, region: str, day: date) -> str:
    """Where facts of `day` of an employer enrolled in `region` belong."""
    return region_on(region, day, moves(session))


def record_consolidation(session: Session, payload: dict[str, Any], event_id: str) -> None:
    """The projection's half: the consolidation and each pool's move, once."""
    ident = payload["consolidation_id"]
    if session.execute(select(levy_consolidations.c.consolidation_id).where(
            levy_consolidations.c.consolidation_id == ident)).first() is not None:
        return
    effective_from = date.fromisoformat(payload["effective_from"])
    session.execute(insert(levy_consolidations).values(
        consolidation_id=ident, into_region=payload["into_region"], from_regions=",".join(payload["from_regions"]),
        effective_from=effective_from, recorded_on=date.fromisoformat(payload["recorded_on"]), event_id=event_id))
    record_moves(session, levy_region_moves, payload)


def reset(session: Session) -> None:
    session.execute(delete(levy_consolidations))
    session.execute(delete(levy_region_moves))


# ------------------------------------------------------------------------------------ books

def recorded_region():  # noqa: ANN201 - a SQL expression
    """A posting's recorded region: its own, else its payment run's, else its employer's."""
    run_region = select(levy_payment_runs.c.region).where(
        levy_payment_runs.c.run_id == postings.c.run_id).scalar_subquery()
    employer_region = select(levy_employers.c.region).where(
        levy_employers.c.employer_id == postings.c.employer_id).scalar_subquery()
    return func.coalesce(postings.c.region, run_region, employer_region)


def _days(w: Window):  # noqa: ANN202 - SQL conditions
    return [c for c in (postings.c.posted_on >= w.start if w.start else None,
                        postings.c.posted_on < w.end if w.end else None) if c is not None]


def in_region(region: str, known: dict[str, Move]):  # noqa: ANN201 - a SQL condition
    """The postings of `region`: those recorded under a region whose window holds their day."""
    parts = []
    for w in windows(region, known):
        parts.append(and_(postings.c.region == w.source, *_days(w)))  # the indexed, common case
        parts.append(and_(postings.c.region.is_(None), recorded_region() == w.source, *_days(w)))
    return or_(*parts)


def recorded_in(sources: list[str]):  # noqa: ANN201 - a SQL condition
    """The postings recorded under any of `sources`, whatever their day."""
    return or_(postings.c.region.in_(sources), and_(postings.c.region.is_(None), recorded_region().in_(sources)))


def pools_on(region: str, day: date, known: dict[str, Move]) -> list[str]:
    """The recorded regions that belong to `region` on `day` (none if it is gone by then)."""
    return [w.source for w in windows(region, known) if w.holds(day)]


def balances(session: Session, region: str, through: date, known: dict[str, Move]) -> dict[str, int]:
    """Net debit of each balance-sheet account of `region` through a day: its postings, the
    balances carried in by then, less what it carried out by then."""
    from . import books  # the books read the recorded region from here

    out: dict[str, int] = {}
    for (_kind, account), (d, c) in books.sums(session, windows(region, known), None, through,
                                               accounts=ledger.BALANCE_ACCOUNTS).items():
        out[account] = out.get(account, 0) + d - c
    for move in moved_into(region, known):
        if move.effective_from <= through:
            for account, net in carried(session, move, known).items():
                out[account] = out.get(account, 0) + net
    own = known.get(region)
    if own is not None and own.effective_from <= through:
        out = {}  # closed on the date: everything went to the new region
    return {a: n for a, n in out.items() if n}


def carried(session: Session, move: Move, known: dict[str, Move]) -> dict[str, int]:
    """What a pool carries over: its balance-sheet accounts on the day before the move."""
    return balances(session, move.region, move.effective_from - timedelta(days=1), known)


@dataclass(frozen=True)
class CarryOver:
    move: Move
    balances: dict[str, int]
    out_entry: ledger.Entry | None
    in_entry: ledger.Entry | None


def carry_overs(session: Session, region: str, known: dict[str, Move]) -> list[CarryOver]:
    """The carry-over entries a region's books hold: out on its own move, in on each move into it."""
    relevant = moved_into(region, known)
    if region in known:
        relevant.append(known[region])
    out = []
    for move in relevant:
        amounts = carried(session, move, known)
        pair = ledger.carry_over_entries(f"{move.consolidation_id}:{move.region}", move.effective_from, amounts)
        out.append(CarryOver(move, amounts, *(pair if pair else (None, None))))
    return out


def carried_lines(session: Session, region: str, known: dict[str, Move], start: date | None,
                  end: date, overs: list[CarryOver] | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """(kind, account) → (debit, credit) of the carry-over entries of `region` dated in [start, end]
    (of `overs`, its carry_overs if read already)."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for c in carry_overs(session, region, known) if overs is None else overs:
        entry = c.out_entry if c.move.region == region else c.in_entry
        if entry is None or entry.posted_on > end or (start is not None and entry.posted_on < start):
            continue
        for line in entry.lines:
            d, cr = out.get((entry.kind, line.account), (0, 0))
            out[(entry.kind, line.account)] = (d + line.debit_fen, cr + line.credit_fen)
    return out


def reports_in(region: str, known: dict[str, Move]):  # noqa: ANN201 - a SQL condition
    """The wage reports of `region`: recorded under a region whose window holds their month (a
    month reported before its pool's consolidation was learned keeps the region it was recorded
    under until it is reassessed)."""
    parts = []
    for w in windows(region, known):
        months = [c for c in (wage_reports.c.period >= period_of(w.start) if w.start else None,
                              wage_reports.c.period < period_of(w.end) if w.end else None) if c is not None]
        parts.append(and_(wage_reports.c.region == w.source, *months))
    return or_(*parts)


# --------------------------------------------------------------------------------- the view

def employers_of(region: str, day: date, known: dict[str, Move]):  # noqa: ANN201 - a SQL condition
    """Employers that belong to `region` on `day` (their enrolled region resolves to it)."""
    return levy_employers.c.region.in_(pools_on(region, day, known))


def consolidation_view(session: Session, consolidation_id: str,
                       fold_on: Any) -> dict[str, Any] | None:  # noqa: ANN401
    """GET /v1/pooling/consolidations/{id}: what moved (employers, workers, claims, open periods)
    and the balances carried over, as the books stand now. `fold_on(employer_id, day)` is an
    employer's account as of a day."""
    row = session.execute(select(levy_consolidations).where(
        levy_consolidations.c.consolidation_id == consolidation_id)).first()
    if row is None:
        return None
    known = moves(session)
    day = row.effective_from
    eve = day - timedelta(days=1)
    pools = []
    totals = {"employers": 0, "workers": 0, "claims": 0, "open_periods": 0}
    for region in row.from_regions.split(","):
        move = known[region]
        # the employers of the pool on the eve of the move (its own, and what it had taken over)
        who = employers_of(region, eve, known)
        employer_ids = list(session.execute(select(levy_employers.c.employer_id).where(who)
                                            .order_by(levy_employers.c.employer_id)).scalars())
        workers = session.execute(
            select(func.count(func.distinct(levy_employments.c.employee_id)))
            .select_from(levy_employments.join(levy_employers,
                                               levy_employers.c.employer_id == levy_employments.c.employer_id))
            .where(who, levy_employments.c.hired_on < day,
                   or_(levy_employments.c.separated_on.is_(None), levy_employments.c.separated_on >= day))
        ).scalar_one()
        claims = session.execute(
            select(func.count()).select_from(levy_injuries.join(
                levy_employers, levy_employers.c.employer_id == levy_injuries.c.employer_id))
            .where(who, levy_injuries.c.occurred_on < day)).scalar_one()
        open_periods, arrears_fen, fees_owed_fen = _open_periods(session, employer_ids, eve, fold_on)
        amounts = carried(session, move, known)
        view = {"region": region, "employers": len(employer_ids), "workers": int(workers), "claims": int(claims),
                "open_periods": len(open_periods), "open_period_list": open_periods[:MAX_LISTED],
                "arrears": yuan_str(arrears_fen),
                "late_fees_outstanding": yuan_str(fees_owed_fen),
                "balances_carried": {a: yuan_str(n) for a, n in sorted(amounts.items())},
                "net_assets_carried": yuan_str(sum(amounts.values()))}
        for key in totals:
            totals[key] += view[key]
        pools.append(view)
    return {"consolidation_id": row.consolidation_id, "into_region": row.into_region,
            "from_regions": row.from_regions.split(","), "effective_from": day.isoformat(),
            "recorded_on": row.recorded_on.isoformat(), "moved": totals, "pools": pools}


def _open_periods(session: Session, employer_ids: list[str], eve: date,
                  fold_on: Any) -> tuple[list[dict[str, Any]], int, int]:  # noqa: ANN401
    """The contribution periods still owed on the eve of the move: only employers with something
    receivable then are folded (the others owe nothing)."""
    if not employer_ids:
        return [], 0, 0
    receivable = (ledger.CONTRIBUTIONS_RECEIVABLE, ledger.LATE_FEE_RECEIVABLE)
    owing: set[str] = set()
    for chunk in range(0, len(employer_ids), 1000):
        owing |= set(session.execute(
            select(postings.c.employer_id).where(
                postings.c.source == "levy", postings.c.employer_id.in_(employer_ids[chunk:chunk + 1000]),
                postings.c.account.in_(receivable), postings.c.posted_on <= eve)
            .group_by(postings.c.employer_id)
            .having(func.sum(postings.c.debit_fen - postings.c.credit_fen) != 0)).scalars())
    periods, arrears, fees = [], 0, 0
    for employer_id in sorted(owing):
        account = fold_on(employer_id, eve)
        for key in sorted(account.periods):
            p = account.periods[key]
            if p.contribution_owed_fen > 0 or p.fee_owed_fen > 0:
                periods.append({"employer_id": employer_id, "period": key,
                                "outstanding": yuan_str(p.contribution_owed_fen),
                                "late_fee_outstanding": yuan_str(p.fee_owed_fen)})
                arrears += p.contribution_owed_fen
                fees += p.fee_owed_fen
    return periods, arrears, fees


__all__ = ["moves", "region_of", "record_consolidation", "in_region", "recorded_in", "pools_on", "reports_in",
           "balances", "carry_overs", "carried_lines", "employers_of", "consolidation_view"]
