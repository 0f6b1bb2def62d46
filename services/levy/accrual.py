"""Late fees as they accrue (SIL.86), for the fund statement: every day's fee, booked or not.

The books post a late fee when it is settled (a payment, or a credit applied); between those
moments it accrues day by day in the account (account.py) without a posting. The statement shows
both: what the books hold, and what accrued. Folding every employer of a region would cost its
whole history; only some employers can hold fees not yet booked:

- fees accrue only on an overdue contribution, so an employer whose contributions receivable is
  zero on a day accrued nothing since its last movement; and
- a payment books every fee accrued, so what an assessment left unbooked is still unbooked only
  if the contribution stayed overdue, or a downward correction ended it without a payment.

Which employers owe on a day is kept as spans (`record_spans`, written with their postings); the
books of every other employer are the region's totals (books.py) less the folded employers' own.

So the employers with a receivable on either end of the range, or with a downward correction,
are folded (`fold(on=day)`); for every other employer the postings are exact.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable

from sqlalchemy import bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from libs.pooling import Window

from . import books
from .domain import ledger
from .domain.account import Account
from .tables import postings, receivable_spans, wage_reports

MAX_FOLDED_EMPLOYERS = 100_000


@dataclass(frozen=True)
class LateFees:
    accrued_fen: int  # every fee of the days from `start` to `end`, booked or not
    outstanding_fen: int  # accrued through `end` and not paid


def record_spans(session: Session, regions: dict[str, str], rows: list[dict]) -> None:
    """The receivable spans of employers whose levy postings were just replaced by `rows`
    (employer → its postings' region)."""
    session.execute(delete(receivable_spans).where(receivable_spans.c.employer_id.in_(list(regions))))
    moves: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r["account"] == ledger.CONTRIBUTIONS_RECEIVABLE:
            moves[r["employer_id"]][r["posted_on"]] += r["debit_fen"] - r["credit_fen"]
    spans = []
    for employer_id, by_day in moves.items():
        balance, opened = 0, None
        for day in sorted(by_day):
            balance += by_day[day]
            if balance > 0 and opened is None:
                opened = day
            elif balance <= 0 and opened is not None:
                spans.append({"employer_id": employer_id, "from_day": opened, "region": regions[employer_id],
                              "to_day": day})
                opened = None
        if opened is not None:
            spans.append({"employer_id": employer_id, "from_day": opened, "region": regions[employer_id],
                          "to_day": None})
    if spans:
        session.execute(insert(receivable_spans), spans)


def _owing_on(session: Session, region: str, day: date) -> set[str]:
    """The employers of a region whose contributions receivable is above zero on `day`."""
    s = receivable_spans.c
    return set(session.execute(select(s.employer_id).where(
        s.region == region, or_(s.to_day.is_(None), s.to_day > day), s.from_day <= day)).scalars())


def _net(session: Session, region: str, account: str, through: date, since: date | None = None,
         employer_ids: list[str] | None = None) -> int:
    """Debit − credit of one account from the levy's own postings of a region: from the books'
    totals, or summed over some employers' postings."""
    if employer_ids is None:
        book = books.sums(session, [Window(region, None, None)], since, through, accounts=(account,),
                          sources=("levy",))
        return sum(d - c for d, c in book.values())
    total = 0
    for i in range(0, len(employer_ids), 500):
        where = [postings.c.source == "levy", postings.c.ref.in_(employer_ids[i:i + 500]),
                 postings.c.region == region, postings.c.account == account, postings.c.posted_on <= through]
        if since is not None:
            where.append(postings.c.posted_on >= since)
        total += int(session.execute(select(func.coalesce(func.sum(postings.c.debit_fen - postings.c.credit_fen), 0))
                                     .where(*where)).scalar_one())
    return total


def late_fees(session: Session, region: str, start: date, end: date,
              fold_on: Callable[[str, date], Account]) -> LateFees:
    """The region's late fees accrued from `start` to `end` and outstanding at `end`.
    `fold_on(employer_id, day)` is the employer's account as of a day."""
    before = start - timedelta(days=1)
    corrected_down = set(session.execute(select(wage_reports.c.employer_id).distinct().where(
        wage_reports.c.region == region, wage_reports.c.delta_fen < 0, wage_reports.c.reported_on <= end)).scalars())
    folded = sorted(_owing_on(session, region, end) | _owing_on(session, region, before) | corrected_down)
    assert len(folded) <= MAX_FOLDED_EMPLOYERS, f"{len(folded)} employers to fold for one statement"
    # The books for every employer not folded: fee income booked in the range (credit-normal) and
    # the fee receivable at the end, the region's less the folded employers'.
    accrued = -(_net(session, region, ledger.LATE_FEE_INCOME, end, start)
                - _net(session, region, ledger.LATE_FEE_INCOME, end, start, folded))
    outstanding = (_net(session, region, ledger.LATE_FEE_RECEIVABLE, end)
                   - _net(session, region, ledger.LATE_FEE_RECEIVABLE, end, None, folded))
    for employer_id in folded:
        at_end = fold_on(employer_id, end)
        accrued += at_end.late_fees_fen - fold_on(employer_id, before).late_fees_fen
        outstanding += at_end.late_fees_owed_fen
    return LateFees(accrued, outstanding)


def late_fees_by_windows(session: Session, region: str, known: dict, start: date, end: date,
                         fold_on: Callable[[str, date], Account]) -> LateFees:
    """`late_fees` of a region that pools were consolidated into or out of: each recorded region
    for the days it belongs here (libs.pooling windows); what is outstanding only from the
    windows still open at `end`."""
    from libs.pooling import windows

    accrued = outstanding = 0
    for w in windows(region, known):
        first = max(start, w.start) if w.start else start
        last = min(end, w.end - timedelta(days=1)) if w.end else end
        if first > last:
            continue
        part = late_fees(session, w.source, first, last, fold_on)
        accrued += part.accrued_fen
        outstanding += part.outstanding_fen if last == end else 0
    return LateFees(accrued, outstanding)


def late_fees_in_ranges(session: Session, region: str, known: dict, ranges: list[tuple[date, date]],
                        fold_on: Callable[[str, date], Account]) -> list[LateFees]:
    """`late_fees_by_windows` of each of `ranges` (from, to), read together: the same figures
    with a few queries for them all (fold_on had best remember what it folded)."""
    from libs.pooling import windows

    out = [[0, 0] for _ in ranges]
    for w in windows(region, known):
        parts = []  # (which range, its days in the window, whether the window is open at its end)
        for i, (start, end) in enumerate(ranges):
            first = max(start, w.start) if w.start else start
            last = min(end, w.end - timedelta(days=1)) if w.end else end
            if first <= last:
                parts.append((i, (first, last), last == end))
        fees = _late_fees_of_ranges(session, w.source, [days for _i, days, _open in parts], fold_on)
        for (i, _days, still_open), part in zip(parts, fees):
            out[i][0] += part.accrued_fen
            out[i][1] += part.outstanding_fen if still_open else 0
    return [LateFees(accrued, outstanding) for accrued, outstanding in out]


def _late_fees_of_ranges(session: Session, region: str, ranges: list[tuple[date, date]],
                         fold_on: Callable[[str, date], Account]) -> list[LateFees]:
    """`late_fees` of one recorded region for each range, as it finds them."""
    if not ranges:
        return []
    befores = [start - timedelta(days=1) for start, _end in ranges]
    last_day = max(end for _start, end in ranges)
    corrected_first = dict(session.execute(
        select(wage_reports.c.employer_id, func.min(wage_reports.c.reported_on))
        .where(wage_reports.c.region == region, wage_reports.c.delta_fen < 0, wage_reports.c.reported_on <= last_day)
        .group_by(wage_reports.c.employer_id)).all())
    owing = _owing_on_days(session, region, sorted({*befores, *(end for _start, end in ranges)}))
    folded_of = []
    for (_start, end), before in zip(ranges, befores):
        folded = sorted(owing[end] | owing[before] | {e for e, first in corrected_first.items() if first <= end})
        assert len(folded) <= MAX_FOLDED_EMPLOYERS, f"{len(folded)} employers to fold for one statement"
        folded_of.append(folded)
    cuts = sorted({*(start for start, _end in ranges), *(end + timedelta(days=1) for _start, end in ranges)})
    accounts = (ledger.LATE_FEE_INCOME, ledger.LATE_FEE_RECEIVABLE)
    region_books = books.sums_by_days(session, [Window(region, None, None)], cuts, last_day, accounts=accounts,
                                      sources=("levy",))
    employer_books = _books_of_employers(session, region, sorted({e for f in folded_of for e in f}), cuts, last_day)
    no_book = books.Buckets(cuts, [{} for _ in range(len(cuts) + 1)])

    def net(book: books.Book, account: str) -> int:
        return sum(d - c for (_kind, a), (d, c) in book.items() if a == account)

    out = []
    for (start, end), before, folded in zip(ranges, befores, folded_of):
        accrued = -(net(region_books.between(start, end), ledger.LATE_FEE_INCOME)
                    - sum(net(employer_books.get(e, no_book).between(start, end), ledger.LATE_FEE_INCOME)
                          for e in folded))
        outstanding = (net(region_books.between(None, end), ledger.LATE_FEE_RECEIVABLE)
                       - sum(net(employer_books.get(e, no_book).between(None, end), ledger.LATE_FEE_RECEIVABLE)
                             for e in folded))
        for employer_id in folded:
            at_end = fold_on(employer_id, end)
            accrued += at_end.late_fees_fen - fold_on(employer_id, before).late_fees_fen
            outstanding += at_end.late_fees_owed_fen
        out.append(LateFees(accrued, outstanding))
    return out


_s = receivable_spans.c
# The spans of a region that end in (after, until] and began by `after`: they hold `after` (and
# any earlier day from their first): an index range each, every span read once over the days.
_ENDING_BETWEEN = select(_s.employer_id, _s.from_day).where(
    _s.region == bindparam("region"), _s.to_day > bindparam("after"), _s.to_day <= bindparam("until"),
    _s.from_day <= bindparam("after"))
_STILL_OPEN = select(_s.employer_id, _s.from_day).where(
    _s.region == bindparam("region"), _s.to_day.is_(None), _s.from_day <= bindparam("after"))
LAST_DAY = date(9999, 12, 31)


def _owing_on_days(session: Session, region: str, days: list[date]) -> dict[date, set[str]]:
    """`_owing_on` of each of `days` (ascending)."""
    out: dict[date, set[str]] = {day: set() for day in days}

    def holding(rows: Iterable, last: date) -> None:  # spans holding `last` and the days since their first
        for employer_id, from_day in rows:
            for day in days:
                if from_day <= day <= last:
                    out[day].add(employer_id)

    for after, until in zip(days, [*days[1:], LAST_DAY]):
        holding(session.execute(_ENDING_BETWEEN, {"region": region, "after": after, "until": until}), after)
    holding(session.execute(_STILL_OPEN, {"region": region, "after": days[-1]}), days[-1])
    return out


def _books_of_employers(session: Session, region: str, employer_ids: list[str], cuts: list[date],
                        through: date) -> dict[str, books.Buckets]:
    """Each employer's own levy postings of the late-fee accounts in a region, by the parts of the days cut at `cuts`."""
    out: dict[str, list[books.Book]] = {}
    p = postings.c
    for i in range(0, len(employer_ids), 500):
        rows = select(p.ref, books.part_of(p.posted_on, cuts).label("part"), p.kind, p.account, p.debit_fen,
                      p.credit_fen).where(
            p.source == "levy", p.ref.in_(employer_ids[i:i + 500]), p.region == region,
            p.account.in_((ledger.LATE_FEE_INCOME, ledger.LATE_FEE_RECEIVABLE)), p.posted_on <= through).subquery()
        for ref, part, kind, account, d, c in session.execute(
                select(rows.c.ref, rows.c.part, rows.c.kind, rows.c.account, func.sum(rows.c.debit_fen),
                       func.sum(rows.c.credit_fen)).group_by(rows.c.ref, rows.c.part, rows.c.kind, rows.c.account)):
            parts = out.setdefault(ref, [{} for _ in range(len(cuts) + 1)])
            parts[part][(kind, account)] = (int(d), int(c))
    return {ref: books.Buckets(cuts, parts) for ref, parts in out.items()}


__all__ = ["LateFees", "late_fees", "late_fees_by_windows", "late_fees_in_ranges", "record_spans"]
