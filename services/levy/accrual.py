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
from typing import Callable

from sqlalchemy import delete, func, insert, or_, select
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


__all__ = ["LateFees", "late_fees", "late_fees_by_windows", "record_spans"]
