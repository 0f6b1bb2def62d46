"""The fund statement reads the books' daily totals (services/levy/books.py), the employers'
receivable spans (accrual.py) and the insured workers' changes by day (coverage.py), not every
posting and employment: on a varied book — three pools consolidated into a region mid-way with arrears, payments, late
fees and a benefit paid through a payment run (the pooling test's), and a paid claim whose
recognition was revoked, its overpayment recognized and written off (the recovery test's) — the
statements from the totals equal, to the fen and field by field, those from the scan of every
posting and employment the statement made before (the `scanned_*` functions below, kept here as
the reference), for every region of the book and many ranges; and the totals kept row by row
equal those rebuilt from the postings, and they and the coverage by day stay the same after the
levy's projections are reset and replayed."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select

from services.levy import accrual, books, coverage, handlers
from services.levy.domain import ledger
from services.levy.pooling import recorded_region
from services.levy.tables import (
    coverage_changes,
    levy_employers,
    levy_employments,
    levy_payment_runs,
    levy_region_moves,
    posting_totals,
    postings,
    wage_reports,
)
from tests.levy.test_pooling import test_three_pools_consolidated_with_arrears_and_a_claim as pooled_book
from tests.payments.payouts.test_recovery import \
    test_a_write_off_ends_the_receivable_and_shows_in_the_statement as written_off_book

DAYS = [date(2025, 7, 1), date(2025, 11, 30), date(2025, 12, 15), date(2025, 12, 31), date(2026, 1, 1),
        date(2026, 1, 10), date(2026, 2, 28), date(2026, 6, 30), date(2026, 12, 31)]


def scanned_sums(session, windows, start, end, accounts=None, kinds=None, sources=None):  # noqa: ANN001, ANN201
    """The reference: the statement's sums as it made them before the totals, from every posting
    (its recorded region, pooling.recorded_region, in each window)."""
    p = postings.c

    def days(w):  # noqa: ANN001, ANN202
        return [c for c in (p.posted_on >= w.start if w.start else None, p.posted_on < w.end if w.end else None,
                            p.posted_on >= start if start else None, p.posted_on <= end if end else None)
                if c is not None]

    windows = list(windows)
    if not windows:
        return {}
    narrow = [c for c in (p.account.in_(accounts) if accounts else None, p.kind.in_(kinds) if kinds else None,
                          p.source.in_(sources) if sources else None) if c is not None]
    rows = session.execute(select(p.kind, p.account, func.sum(p.debit_fen), func.sum(p.credit_fen))
                           .where(or_(*[and_(recorded_region() == w.source, *days(w)) for w in windows]), *narrow)
                           .group_by(p.kind, p.account)).all()
    return {(k, a): (int(d), int(c)) for k, a, d, c in rows}


def scanned_whole_book(session):  # noqa: ANN001, ANN201
    d, c = session.execute(select(func.coalesce(func.sum(postings.c.debit_fen), 0),
                                  func.coalesce(func.sum(postings.c.credit_fen), 0))).one()
    return int(d), int(c)


def scanned_insured_on(session, regions, day):  # noqa: ANN001, ANN201
    """The reference: workers insured on a day, counted from every employment."""
    e, r = levy_employments.c, levy_employers.c
    return session.execute(select(func.count(func.distinct(e.employee_id)))
                           .select_from(levy_employments.join(levy_employers, r.employer_id == e.employer_id))
                           .where(r.region.in_(regions), e.hired_on <= day,
                                  or_(e.separated_on.is_(None), e.separated_on >= day))).scalar_one()


def scanned_late_fees(session, region, start, end, fold_on):  # noqa: ANN001, ANN201
    """The reference: late fees as the statement found them before the receivable spans, each
    employer's books summed from its postings."""
    def net_by_employer(account, through, since=None):  # noqa: ANN001, ANN202
        p = postings.c
        where = [p.source == "levy", p.region == region, p.account == account, p.posted_on <= through]
        if since is not None:
            where.append(p.posted_on >= since)
        return {e: int(n) for e, n in session.execute(select(p.employer_id, func.sum(p.debit_fen - p.credit_fen))
                                                      .where(*where).group_by(p.employer_id))}

    before = start - timedelta(days=1)
    receivable_end = net_by_employer(ledger.CONTRIBUTIONS_RECEIVABLE, end)
    receivable_before = net_by_employer(ledger.CONTRIBUTIONS_RECEIVABLE, before)
    corrected_down = set(session.execute(select(wage_reports.c.employer_id).distinct().where(
        wage_reports.c.region == region, wage_reports.c.delta_fen < 0, wage_reports.c.reported_on <= end)).scalars())
    folded = sorted({e for e, fen in receivable_end.items() if fen > 0}
                    | {e for e, fen in receivable_before.items() if fen > 0} | corrected_down)
    booked = {e: -fen for e, fen in net_by_employer(ledger.LATE_FEE_INCOME, end, start).items()}
    owed = net_by_employer(ledger.LATE_FEE_RECEIVABLE, end)
    accrued = sum(fen for e, fen in booked.items() if e not in folded)
    outstanding = sum(fen for e, fen in owed.items() if e not in folded)
    for employer_id in folded:
        at_end = fold_on(employer_id, end)
        accrued += at_end.late_fees_fen - fold_on(employer_id, before).late_fees_fen
        outstanding += at_end.late_fees_owed_fen
    return accrual.LateFees(accrued, outstanding)


def totals(session) -> list[tuple]:  # noqa: ANN001
    return [tuple(r) for r in session.execute(select(posting_totals).order_by(*posting_totals.primary_key.columns))]


def test_statements_from_the_totals_equal_those_from_every_posting(api, runtime, unique, monkeypatch) -> None:  # noqa: ANN001
    pooled_book(api, unique)
    written_off_book(api)
    api.settle()
    ctx = runtime.services["levy"].ctx
    with ctx.session_factory() as session:
        regions = sorted({*session.execute(select(posting_totals.c.region).distinct()).scalars(),
                          *session.execute(select(levy_payment_runs.c.region).distinct()).scalars(),
                          *session.execute(select(levy_region_moves.c.into_region)).scalars()} - {""})
        assert session.execute(select(func.count()).select_from(postings).where(postings.c.region.is_(None))).scalar()
    assert len(regions) >= 5, regions  # three pools, the region they went into, the recovery test's
    ranges = [(a, b) for a in DAYS for b in DAYS if a <= b]
    from_totals = {(r, a, b): handlers.fund_statement(ctx, r, a, b) for r in regions for a, b in ranges}
    with monkeypatch.context() as patched:
        patched.setattr(books, "sums", scanned_sums)
        patched.setattr(books, "whole_book", scanned_whole_book)
        patched.setattr(coverage, "insured_on", scanned_insured_on)
        patched.setattr(accrual, "late_fees", scanned_late_fees)
        from_scan = {(r, a, b): handlers.fund_statement(ctx, r, a, b) for r in regions for a, b in ranges}
    assert any(s["expenditure"]["total"] != "0.00" for s in from_scan.values())
    assert any(s["overpayments"]["written_off"] != "0.00" for s in from_scan.values())
    assert any(s["carried_over"] for s in from_scan.values())
    assert any(s["income"]["late_fees_accrued"] != "0.00" for s in from_scan.values())
    assert any(s["coverage"]["insured_workers"] for s in from_scan.values())
    for key, statement in from_scan.items():
        assert from_totals[key] == statement, key

    # Kept row by row as the postings changed = summed afresh; and again after a replay of the
    # benefit postings (their projection reset, then every event projected again).
    with ctx.session_factory() as session, session.begin():
        kept = totals(session)
        counted = session.execute(select(coverage_changes).order_by(coverage_changes.c.region,
                                                                     coverage_changes.c.day)).all()
        assert counted
        books.rebuild(session)
        assert totals(session) == kept
    for runner in runtime.services["levy"].runners:
        runner.replay()
        runner.run_until_idle()
    with ctx.session_factory() as session:
        assert totals(session) == kept
        assert session.execute(select(coverage_changes).order_by(coverage_changes.c.region,
                                                                  coverage_changes.c.day)).all() == counted
