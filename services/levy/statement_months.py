"""The fund statement by month in one pass (`GET /v1/funds/{region}/statement?by=month`): the
whole range's statement and each calendar month's within it, each equal to the statement of its
own range (handlers.fund_statement), from a handful of queries for them all: the books' totals,
the insured workers' changes, the employers, the payrolls and the late-fee accounts are each read
once, summed by month in the database (books.sums_by_days), and each range's figures are sums of
its months (integers: exact)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from libs.policy.projection import policies_in_force
from libs.pooling import Move, windows

from . import accrual, books, pooling
from .domain.account import Account, fold
from .domain.rules import period_of
from .handlers import Invalid, StatementFigures, _facts, _plus, insured_under_several, statement_view
from .prevention import statement_years_in_ranges
from .tables import coverage_changes, levy_employers, wage_reports

MAX_MONTHS = 120  # ten years of months in one answer


def month_ranges(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar months from `start` to `end`, each (first day, last day) cut to the range."""
    out = []
    first = start
    while first <= end:
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        out.append((first, min(end, following - timedelta(days=1))))
        first = following
    return out


def fund_statement_by_month(ctx, region: str, start: date, end: date) -> dict[str, Any]:  # noqa: ANN001
    """The statement from `start` to `end` and `months`: the statement of each month in it."""
    if end < start:
        raise Invalid.one("to", f"is before from ({start.isoformat()})")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise Invalid.one("to", f"is more than {MAX_MONTHS} months from from ({start.isoformat()}) by month")
    whole, *months = fund_statements(ctx, region, [(start, end), *month_ranges(start, end)])
    return {**whole, "months": months}


def fund_statements(ctx, region: str, ranges: list[tuple[date, date]]) -> list[dict[str, Any]]:  # noqa: ANN001
    """handlers.fund_statement of each of `ranges` (from, to), read together."""
    cuts = sorted({*(a for a, _b in ranges), *(b + timedelta(days=1) for _a, b in ranges)})
    ends = sorted({b for _a, b in ranges})
    with ctx.session_factory() as session:
        total_debit, total_credit = books.whole_book(session)
        assert total_debit == total_credit, "the fund's books do not balance"
        known = pooling.moves(session)
        book = books.sums_by_days(session, windows(region, known), cuts, ends[-1])
        overs = pooling.carry_overs(session, region, known)
        versions = policies_in_force(session, region, ends)
        employers = _employers_by_end(session, region, known, cuts, ends)
        insured = _insured_by_end(session, region, known, cuts, ends)
        payrolls = _payrolls(session, region, known, ranges)
        fees = accrual.late_fees_in_ranges(session, region, known, ranges, _folding(session))
        years = statement_years_in_ranges(session, region, ranges)
        out = []
        for (start, end), (payroll_fen, assessed_fen), fee, prevention_years in zip(ranges, payrolls, fees, years):
            within = _plus(book.between(start, end), pooling.carried_lines(session, region, known, start, end, overs))
            to_date = _plus(book.between(None, end), pooling.carried_lines(session, region, known, None, end, overs))
            out.append(statement_view(region, start, end, StatementFigures(
                int(total_debit), int(total_credit), within, to_date, overs, versions[end], insured[end],
                employers[end], payroll_fen, assessed_fen, fee, prevention_years)))
    return out


def _folding(session: Session):  # noqa: ANN202 - (employer_id, day) → Account
    """An employer's account as of a day, its facts read once and each day folded once."""
    facts: dict[str, Any] = {}
    folded: dict[tuple[str, date], Account] = {}

    def fold_on(employer_id: str, day: date) -> Account:
        if (employer_id, day) not in folded:
            if employer_id not in facts:
                facts[employer_id] = _facts(session, employer_id)
            folded[(employer_id, day)] = fold(*facts[employer_id], on=day)
        return folded[(employer_id, day)]
    return fold_on


def _employers_by_end(session: Session, region: str, known: dict[str, Move], cuts: list[date],
                      ends: list[date]) -> dict[date, int]:
    """The active employers that belong to `region` on each end and were enrolled by then."""
    e = levy_employers.c
    enrolled = case((e.enrolled_on.is_(None), 0), *[(e.enrolled_on < day, k) for k, day in enumerate(cuts)],
                    else_=len(cuts))
    rows = select(e.region, enrolled.label("part")).where(
        e.region.in_(sorted({w.source for w in windows(region, known)})), e.status == "active").subquery()
    counts = session.execute(select(rows.c.region, rows.c.part, func.count()).group_by(rows.c.region, rows.c.part)).all()
    out = {}
    for end in ends:
        sources, last = pooling.pools_on(region, end, known), cuts.index(end + timedelta(days=1))
        out[end] = sum(int(n) for source, part, n in counts if source in sources and part <= last)
    return out


def _insured_by_end(session: Session, region: str, known: dict[str, Move], cuts: list[date],
                    ends: list[date]) -> dict[date, int]:
    """Workers insured in `region` on each end: one recorded region's count by day, summed by
    month; under several, a worker under two counted once (each end apart: a rare case)."""
    c = coverage_changes.c
    rows = select(c.region, books.part_of(c.day, cuts).label("part"), c.change).where(
        c.region.in_(sorted({w.source for w in windows(region, known)})), c.day < cuts[-1]).subquery()
    changes = session.execute(select(rows.c.region, rows.c.part, func.sum(rows.c.change))
                              .group_by(rows.c.region, rows.c.part)).all()
    out = {}
    for end in ends:
        sources, last = pooling.pools_on(region, end, known), cuts.index(end + timedelta(days=1))
        if len(sources) <= 1:
            out[end] = sum(int(n) for source, part, n in changes if source in sources and part <= last)
        else:
            out[end] = insured_under_several(session, pooling.employers_of(region, end, known), end)
    return out


def _payrolls(session: Session, region: str, known: dict[str, Move],
              ranges: list[tuple[date, date]]) -> list[tuple[int, int]]:
    """(payroll, contributions assessed) in fen of the current reports of the periods each range touches."""
    w = wage_reports.c
    by_period = session.execute(
        select(w.period, func.sum(w.payroll_fen), func.sum(w.contribution_fen))
        .where(pooling.reports_in(region, known), w.superseded_by.is_(None),
               w.period >= period_of(min(a for a, _b in ranges)), w.period <= period_of(max(b for _a, b in ranges)))
        .group_by(w.period)).all()
    return [(sum(int(p) for period, p, _c in by_period if period_of(a) <= period <= period_of(b)),
             sum(int(c) for period, _p, c in by_period if period_of(a) <= period <= period_of(b)))
            for a, b in ranges]


__all__ = ["MAX_MONTHS", "month_ranges", "fund_statement_by_month", "fund_statements"]
