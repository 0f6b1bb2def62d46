"""Late fees as they accrue (SIL.86), for the fund statement: every day's fee, booked or not.

The books post a late fee when it is settled (a payment, or a credit applied); between those
moments it accrues day by day in the account (account.py) without a posting. The statement shows
both: what the books hold, and what accrued. Folding every employer of a region would cost its
whole history; only some employers can hold fees not yet booked:

- fees accrue only on an overdue contribution, so an employer whose contributions receivable is
  zero on a day accrued nothing since its last movement; and
- a payment books every fee accrued, so what an assessment left unbooked is still unbooked only
  if the contribution stayed overdue, or a downward correction ended it without a payment.

So the employers with a receivable on either end of the range, or with a downward correction,
are folded (`fold(on=day)`); for every other employer the postings are exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .domain import ledger
from .domain.account import Account
from .tables import postings, wage_reports

MAX_FOLDED_EMPLOYERS = 100_000


@dataclass(frozen=True)
class LateFees:
    accrued_fen: int  # every fee of the days from `start` to `end`, booked or not
    outstanding_fen: int  # accrued through `end` and not paid


def _net_by_employer(session: Session, region: str, account: str, through: date,
                     since: date | None = None) -> dict[str, int]:
    """Debit − credit of one account per employer, from the levy's own postings of a region."""
    where = [postings.c.source == "levy", postings.c.region == region, postings.c.account == account,
             postings.c.posted_on <= through]
    if since is not None:
        where.append(postings.c.posted_on >= since)
    rows = session.execute(select(postings.c.employer_id, func.sum(postings.c.debit_fen - postings.c.credit_fen))
                           .where(*where).group_by(postings.c.employer_id)).all()
    return {employer_id: int(net) for employer_id, net in rows}


def late_fees(session: Session, region: str, start: date, end: date,
              fold_on: Callable[[str, date], Account]) -> LateFees:
    """The region's late fees accrued from `start` to `end` and outstanding at `end`.
    `fold_on(employer_id, day)` is the employer's account as of a day."""
    before = start - timedelta(days=1)
    receivable_end = _net_by_employer(session, region, ledger.CONTRIBUTIONS_RECEIVABLE, end)
    receivable_before = _net_by_employer(session, region, ledger.CONTRIBUTIONS_RECEIVABLE, before)
    corrected_down = set(session.execute(select(wage_reports.c.employer_id).distinct().where(
        wage_reports.c.region == region, wage_reports.c.delta_fen < 0, wage_reports.c.reported_on <= end)).scalars())
    folded = sorted({e for e, fen in receivable_end.items() if fen > 0}
                    | {e for e, fen in receivable_before.items() if fen > 0} | corrected_down)
    assert len(folded) <= MAX_FOLDED_EMPLOYERS, f"{len(folded)} employers to fold for one statement"
    # The books: fee income booked in the range (credit-normal) and the fee receivable at the end.
    booked = {e: -fen for e, fen in _net_by_employer(session, region, ledger.LATE_FEE_INCOME, end, start).items()}
    owed = _net_by_employer(session, region, ledger.LATE_FEE_RECEIVABLE, end)
    accrued = sum(fen for e, fen in booked.items() if e not in folded)
    outstanding = sum(fen for e, fen in owed.items() if e not in folded)
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


__all__ = ["LateFees", "late_fees", "late_fees_by_windows"]
