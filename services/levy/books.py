"""The fund's books: every write of `postings` and the daily totals kept beside them.

Every path that writes postings (the levy's commands and bulk routes, imports, prevention, the
benefit and overpayment projection and its reset) goes through `post` and `unpost`, which change
`levy_posting_totals` in the same transaction by the same rows. A statement reads the totals:
days × kinds × accounts rows, however many postings there are.

A posting's recorded region (pooling.recorded_region) is its own, else its payment run's, else its
employer's. The totals key a posting without a region by its run, whose region is read when the
totals are: so a run learned after its payouts moves nothing here. The rare posting whose region
cannot be read that way (no run, or a run not yet projected) is summed from the postings
themselves, exactly as before.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from libs.db import bind_processor, driver_cursor, driver_mark
from libs.events.consumer import values_by_statements
from libs.pooling import Window

from .tables import levy_payment_runs, posting_totals, postings

Key = tuple[str, str, str, date, str, str]  # region, run_id, source, posted_on, kind, account
Book = dict[tuple[str, str], tuple[int, int]]  # (kind, account) → (debit, credit)


def _key(row: Any) -> Key:  # noqa: ANN401 - a posting as a mapping or a row
    get = row.get if isinstance(row, dict) else lambda c: getattr(row, c)
    region = get("region")
    return (region or "", "" if region else (get("run_id") or ""), get("source"), get("posted_on"), get("kind"),
            get("account"))


def post(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert postings, and add them to the totals."""
    replace(session, None, rows)


def replace(session: Session, where: Sequence[Any] | None, rows: Sequence[dict[str, Any]]) -> None:
    """Delete the postings matching `where` (None: none) and insert `rows`, the totals changed
    by the difference in one go (a rebuilt account mostly rewrites the totals it had)."""
    change = _summed(session.execute(_grouped(*where)), -1) if where is not None else defaultdict(lambda: [0, 0, 0])
    if where is not None and change:
        session.execute(delete(postings).where(*where))
    if rows:
        session.execute(insert(postings), list(rows))
    for row in rows:
        c = change[_key(row)]
        c[0] += row["debit_fen"]
        c[1] += row["credit_fen"]
        c[2] += 1
    _apply(session, change)


def _grouped(*where: Any) -> Any:  # noqa: ANN401 - SQL conditions and a select
    """The postings matching `where` summed by their totals' key (its parts, as grouped)."""
    p = postings.c
    region, run = func.coalesce(p.region, ""), func.coalesce(p.run_id, "")
    return (select(region, run, p.source, p.posted_on, p.kind, p.account, func.sum(p.debit_fen),
                   func.sum(p.credit_fen), func.count())
            .where(*where).group_by(region, run, p.source, p.posted_on, p.kind, p.account))


def _summed(rows: Iterable[Any], sign: int) -> dict[Key, list[int]]:  # noqa: ANN401
    change: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    for region, run, source, day, kind, account, d, c, n in rows:
        k = (region, "" if region else run, source, day, kind, account)
        change[k][0] += sign * int(d)
        change[k][1] += sign * int(c)
        change[k][2] += sign * int(n)
    return change


def unpost(session: Session, *where: Any) -> None:  # noqa: ANN401 - SQL conditions
    """Delete the postings matching `where`, and take them out of the totals."""
    replace(session, where, ())


def _apply(session: Session, change: dict[Key, list[int]]) -> None:
    """Add each key's change to its total; a total of no postings goes."""
    add_up(session, posting_totals, ("region", "run_id", "source", "posted_on", "kind", "account"),
           ("debit_fen", "credit_fen", "postings"),
           [(*k, d, c, n) for k, (d, c, n) in sorted(change.items()) if d or c or n], gone_when_zero="postings")


def add_up(session: Session, table: Any, key: Sequence[str], added: Sequence[str],  # noqa: ANN401
           rows: Sequence[tuple], *, gone_when_zero: str | None = None) -> None:
    """Add each row's `added` values to the row of `table` with its `key` (made if there is none);
    a row is its key's values, then its added ones, one row a key. On the driver, many rows a
    statement (a go-live's chunk adds to hundreds of keys), in one statement a row on both
    databases: two transactions adding to one total (or making it) wait for each other instead of
    failing. Rows in key order, so they lock in one order. With `gone_when_zero`, a row whose that
    column it changed comes to 0 goes (no postings, no change of a day: not kept)."""
    if not rows:
        return
    width = len(key) + len(added)
    assert all(len(row) == width for row in rows), (width, rows[0])
    assert len({row[:len(key)] for row in rows}) == len(rows), "one row a key"
    conn = session.connection()
    process = [bind_processor(table.c[c], conn.dialect) for c in (*key, *added)]
    values = [[p(v) if p else v for p, v in zip(process, row)] for row in rows]
    head = f"INSERT INTO {table.name} ({', '.join((*key, *added))}) VALUES "
    tail = (f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in added))
    values_by_statements(conn, head, [v for row in values for v in row], width, tail=tail)
    if gone_when_zero is None:
        return
    at = len(key) + list(added).index(gone_when_zero)
    mark = driver_mark(conn.dialect.name)
    statement = (f"DELETE FROM {table.name} WHERE " + " AND ".join(f"{c} = {mark}" for c in key)
                 + f" AND {gone_when_zero} = 0")
    checked = [row[:len(key)] for row, given in zip(values, rows) if given[at]]
    if checked:
        with driver_cursor(conn, statement) as cursor:
            cursor.executemany(statement, checked)


def rebuild(session: Session) -> None:
    """The totals afresh from the postings (rows loaded around `post`, as a bench does)."""
    session.execute(delete(posting_totals))
    cols = ("region", "run_id", "source", "posted_on", "kind", "account")
    new = [dict(zip(cols, k), debit_fen=d, credit_fen=c, postings=n)
           for k, (d, c, n) in _summed(session.execute(_grouped()), 1).items()]
    if new:
        session.execute(insert(posting_totals), new)


# ------------------------------------------------------------------------------------ reading

def _days(column: Any, w: Window, start: date | None, end: date | None) -> list:  # noqa: ANN401
    return [c for c in (column >= w.start if w.start else None, column < w.end if w.end else None,
                        column >= start if start else None, column <= end if end else None) if c is not None]


def sums(session: Session, windows: Iterable[Window], start: date | None, end: date | None,
         accounts: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
         sources: Sequence[str] | None = None) -> Book:
    """(kind, account) → (debit, credit) of the postings recorded under each window's source on
    the days it holds, from `start` to `end` (both included, None: open)."""
    cuts = ([start] if start else []) + ([end + timedelta(days=1)] if end else [])
    return sums_by_days(session, windows, cuts, end, accounts, kinds, sources).between(start, end)


class Buckets:
    """Sums of the days cut at `cuts` (ascending): part 0 the days before cuts[0], part k those
    from cuts[k - 1] to the day before cuts[k], the last those from cuts[-1] on. The sum over a
    range whose ends are cuts is a sum of parts: integers, so exact."""

    def __init__(self, cuts: Sequence[date], parts: list[Book]) -> None:
        self.cuts, self.parts = list(cuts), parts

    def between(self, start: date | None, end: date | None) -> Book:
        """The sums from `start` to `end` (both included, None: open); each a cut (end: the day after)."""
        lo = 0 if start is None else self.cuts.index(start) + 1
        hi = len(self.cuts) if end is None else self.cuts.index(end + timedelta(days=1))
        return added(self.parts[lo:hi + 1])


def added(parts: Iterable[Book]) -> Book:
    """Books added key by key (a key any of them holds is held)."""
    out: Book = {}
    for part in parts:
        for key, (d, c) in part.items():
            d0, c0 = out.get(key, (0, 0))
            out[key] = (d0 + d, c0 + c)
    return out


def part_of(column: Any, cuts: Sequence[date]) -> Any:  # noqa: ANN401 - SQL expressions
    """The part of `cuts` a day falls in (Buckets)."""
    if not cuts:
        return literal(0)
    return case(*[(column < day, k) for k, day in enumerate(cuts)], else_=len(cuts))


def sums_by_days(session: Session, windows: Iterable[Window], cuts: Sequence[date], through: date | None,
                 accounts: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
                 sources: Sequence[str] | None = None) -> Buckets:
    """`sums` of every part of the days cut at `cuts` up to `through` (None: open), in one query
    (two more for postings whose region is read from elsewhere)."""
    from .pooling import recorded_region

    cuts = sorted(set(cuts))
    parts: list[Book] = [{} for _ in range(len(cuts) + 1)]
    windows = list(windows)
    if not windows:
        return Buckets(cuts, parts)
    t = posting_totals.c
    runs = levy_payment_runs.c
    where = []
    for w in windows:
        where.append(and_(t.region == w.source, *_days(t.posted_on, w, None, through)))
        where.append(and_(t.region == "", t.run_id.in_(select(runs.run_id).where(runs.region == w.source)),
                          *_days(t.posted_on, w, None, through)))
    narrow = [c for c in (t.account.in_(accounts) if accounts else None, t.kind.in_(kinds) if kinds else None,
                          t.source.in_(sources) if sources else None) if c is not None]
    rows = select(part_of(t.posted_on, cuts).label("part"), t.kind, t.account, t.debit_fen, t.credit_fen) \
        .where(or_(*where), *narrow).subquery()  # grouped outside: PostgreSQL matches no CASE of parameters
    _add(parts, session.execute(select(rows.c.part, rows.c.kind, rows.c.account, func.sum(rows.c.debit_fen),
                                       func.sum(rows.c.credit_fen)).group_by(rows.c.part, rows.c.kind, rows.c.account)))
    # Postings without a region whose run is not known (yet): their employer's region, from the postings.
    unknown_run = or_(t.run_id == "", t.run_id.not_in(select(runs.run_id)))
    if session.execute(select(t.run_id).where(t.region == "", unknown_run, *narrow).limit(1)).first() is None:
        return Buckets(cuts, parts)
    p = postings.c
    pnarrow = [c for c in (p.account.in_(accounts) if accounts else None, p.kind.in_(kinds) if kinds else None,
                           p.source.in_(sources) if sources else None) if c is not None]
    stray = or_(*[and_(recorded_region() == w.source, *_days(p.posted_on, w, None, through)) for w in windows])
    rows = select(part_of(p.posted_on, cuts).label("part"), p.kind, p.account, p.debit_fen, p.credit_fen).where(
        p.region.is_(None), or_(p.run_id.is_(None), p.run_id.not_in(select(runs.run_id))), stray, *pnarrow).subquery()
    _add(parts, session.execute(select(rows.c.part, rows.c.kind, rows.c.account, func.sum(rows.c.debit_fen),
                                       func.sum(rows.c.credit_fen)).group_by(rows.c.part, rows.c.kind, rows.c.account)))
    return Buckets(cuts, parts)


def _add(parts: list[Book], rows: Iterable[Any]) -> None:  # noqa: ANN401
    for part, kind, account, d, c in rows:
        d0, c0 = parts[part].get((kind, account), (0, 0))
        parts[part][(kind, account)] = (d0 + int(d), c0 + int(c))


def whole_book(session: Session) -> tuple[int, int]:
    """Debits and credits of every posting (they must be equal)."""
    t = posting_totals.c
    d, c = session.execute(select(func.coalesce(func.sum(t.debit_fen), 0),
                                  func.coalesce(func.sum(t.credit_fen), 0))).one()
    return int(d), int(c)


__all__ = ["post", "replace", "unpost", "rebuild", "sums", "sums_by_days", "Buckets", "added", "part_of", "whole_book"]
