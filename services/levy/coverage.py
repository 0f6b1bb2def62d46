"""Insured workers by day, for the fund statement's coverage (RULES.md "The fund").

A worker is insured in a region on a day when one of their employments holds the day (hired on or
before it, separated on or after it) with an employer recorded in that region; counted once however
many such employments. The enrollment projection calls `recount` for the workers an event touched
(their employments, or their employer's region); each worker's covered days per recorded region
are kept merged as spans, and every change of a span moves the region's count by day
(`levy_coverage_changes`), so a count is a sum over the days that changed it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from libs.events.consumer import insert_rows
from libs.imports.bulk import stored_values

from .books import add_up
from .tables import coverage_changes, coverage_spans, levy_employers, levy_employments

Span = tuple[str, date, date | None]  # region, first day covered, first day not (None: open)


def _spans(rows: Iterable[tuple[str, date, date | None]]) -> set[Span]:
    """Merged covered days per region from (region, hired_on, separated_on) of employments."""
    by_region: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for region, hired_on, separated_on in rows:
        by_region[region].append((hired_on, separated_on + timedelta(days=1) if separated_on else None))
    out: set[Span] = set()
    for region, days in by_region.items():
        days.sort(key=lambda d: d[0])
        start, end = days[0]
        for a, b in days[1:]:
            if end is not None and a > end:  # a gap: the span before is done
                out.add((region, start, end))
                start, end = a, b
            elif end is not None:
                end = None if b is None else max(end, b)
        out.add((region, start, end))
    return out


CHUNK = 500  # ids in one IN list


def recount(session: Session, employee_ids: Iterable[str]) -> None:
    """Bring the spans of some workers, and the counts by day, up to their employments now
    (read and written a chunk of workers at a time: a go-live projects thousands at once)."""
    ids = sorted(set(employee_ids))
    change: dict[tuple[str, date], int] = defaultdict(int)
    for i in range(0, len(ids), CHUNK):
        _recount_chunk(session, ids[i:i + CHUNK], change)
    _add_changes(session, change)


def _add_changes(session: Session, change: dict[tuple[str, date | str], int]) -> None:
    """Each (region, day)'s change added to its row (made if there is none), and a day whose
    changes cancel out is no change: its row goes. Days as dates or ISO text."""
    by_day: Counter[tuple[str, date]] = Counter()
    for (region, day), n in change.items():
        by_day[(region, date.fromisoformat(day) if isinstance(day, str) else day)] += n
    add_up(session, coverage_changes, ("region", "day"), ("change",),
           sorted((region, day, n) for (region, day), n in by_day.items() if n), gone_when_zero="change")


def _recount_chunk(session: Session, ids: list[str], change: dict[tuple[str, date], int]) -> None:
    employments: dict[str, list[tuple[str, date, date | None]]] = defaultdict(list)
    for r in session.execute(
            select(levy_employments.c.employee_id, levy_employers.c.region, levy_employments.c.hired_on,
                   levy_employments.c.separated_on)
            .select_from(levy_employments.join(levy_employers,
                                               levy_employers.c.employer_id == levy_employments.c.employer_id))
            .where(levy_employments.c.employee_id.in_(ids))):
        employments[r.employee_id].append((r.region, r.hired_on, r.separated_on))
    kept: dict[str, set[Span]] = defaultdict(set)
    for r in session.execute(select(coverage_spans).where(coverage_spans.c.employee_id.in_(ids))):
        kept[r.employee_id].add((r.region, r.from_day, r.to_day))
    no_spans: set[Span] = set()
    moved: list[str] = []
    spans: list[dict] = []
    for employee_id in ids:
        held = employments.get(employee_id)
        now = _spans(held) if held else no_spans
        was = kept.get(employee_id, no_spans)
        if now == was:
            continue
        moved.append(employee_id)
        spans += [{"employee_id": employee_id, "region": r, "from_day": a, "to_day": b} for r, a, b in sorted(now)]
        for found, sign in ((was, -1), (now, 1)):
            for region, a, b in found:
                change[(region, a)] += sign
                if b is not None:
                    change[(region, b)] -= sign
    if moved:
        session.execute(delete(coverage_spans).where(coverage_spans.c.employee_id.in_(moved)))
    if spans:
        session.execute(insert(coverage_spans), spans)


def add_new_workers(session: Session, employments: list[tuple[str, str, str]]) -> None:
    """`recount` for workers known to have had no employment until these (employee_id,
    employer_id, hired_on as ISO text), one each (a go-live's new workers): each holds one open
    span from its hiring in its employer's recorded region (none while the employer is not
    recorded), so nothing is read back but the employers' regions."""
    regions = stored_values(session, levy_employers.c.employer_id, levy_employers.c.region,
                            [employer_id for _, employer_id, _ in employments])
    spans = [(employee_id, regions[employer_id], hired_on, None)
             for employee_id, employer_id, hired_on in employments if employer_id in regions]
    insert_rows(session, coverage_spans, ("employee_id", "region", "from_day", "to_day"), spans)
    _add_changes(session, Counter((region, hired_on) for _employee_id, region, hired_on, _to in spans))


def recount_employer(session: Session, employer_id: str) -> None:
    """Its workers, after the employer's recorded region was learned or changed."""
    recount_employers(session, [employer_id])


def recount_employers(session: Session, employer_ids: list[str]) -> None:
    """The workers of these employers (their recorded regions learned or changed)."""
    workers: set[str] = set()
    for i in range(0, len(employer_ids), CHUNK):
        workers.update(session.execute(select(levy_employments.c.employee_id).distinct().where(
            levy_employments.c.employer_id.in_(employer_ids[i:i + CHUNK]))).scalars())
    recount(session, workers)


def insured_on(session: Session, regions: list[str], day: date) -> int:
    """Workers insured on `day` under one recorded region (under several, one worker could be
    counted under each: the caller counts those from the employments)."""
    assert len(regions) <= 1, regions
    if not regions:
        return 0
    return int(session.execute(select(func.coalesce(func.sum(coverage_changes.c.change), 0)).where(
        coverage_changes.c.region == regions[0], coverage_changes.c.day <= day)).scalar_one())


def reset(session: Session) -> None:
    session.execute(delete(coverage_spans))
    session.execute(delete(coverage_changes))




def rebuild_changes(session: Session) -> None:
    """The counts by day afresh from the workers' spans (spans loaded around `recount`, as a
    bench does)."""
    change: dict[tuple[str, date], int] = defaultdict(int)
    for region, from_day, to_day in session.execute(
            select(coverage_spans.c.region, coverage_spans.c.from_day, coverage_spans.c.to_day)):
        change[(region, from_day)] += 1
        if to_day is not None:
            change[(region, to_day)] -= 1
    session.execute(delete(coverage_changes))
    rows = [{"region": r, "day": d, "change": n} for (r, d), n in sorted(change.items()) if n]
    if rows:
        session.execute(insert(coverage_changes), rows)


__all__ = ["recount", "recount_employer", "recount_employers", "insured_on", "reset", "rebuild_changes"]
