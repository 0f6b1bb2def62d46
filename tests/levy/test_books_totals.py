"""The fund statement reads the books' daily totals (services/levy/books.py), not every posting:
on a varied book — three pools consolidated into a region mid-way with arrears, payments, late
fees and a benefit paid through a payment run (the pooling test's), and a paid claim whose
recognition was revoked, its overpayment recognized and written off (the recovery test's) — the
statements from the totals equal, to the fen and field by field, those from the scan of every
posting the statement made before (`scanned_sums` below, kept here as the reference), for every
region of the book and many ranges; and the totals kept row by row equal those rebuilt from the
postings, also after the benefit projection is reset and replayed."""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, or_, select

from services.levy import books, handlers
from services.levy.pooling import recorded_region
from services.levy.tables import levy_payment_runs, levy_region_moves, posting_totals, postings
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
        from_scan = {(r, a, b): handlers.fund_statement(ctx, r, a, b) for r in regions for a, b in ranges}
    assert any(s["expenditure"]["total"] != "0.00" for s in from_scan.values())
    assert any(s["overpayments"]["written_off"] != "0.00" for s in from_scan.values())
    assert any(s["carried_over"] for s in from_scan.values())
    for key, statement in from_scan.items():
        assert from_totals[key] == statement, key

    # Kept row by row as the postings changed = summed afresh; and again after a replay of the
    # benefit postings (their projection reset, then every event projected again).
    with ctx.session_factory() as session, session.begin():
        kept = totals(session)
        books.rebuild(session)
        assert totals(session) == kept
    for runner in runtime.services["levy"].runners:
        runner.replay()
        runner.run_until_idle()
    with ctx.session_factory() as session:
        assert totals(session) == kept
