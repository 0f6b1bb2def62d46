"""An employer's risk class by date: a class change is charged from its effective date, not
from the next report (RULES.md "Clarifications").

A month's contribution takes the class in force on each of its days (rules.class_segments). A
report sees the classes the levy knows when it is recorded; a class change learned later (or
back-dated) reassesses every month it reaches that already has a report: the levy's own
`ContributionReassessed`, written in the projection's transaction, once (`levy_reactions`).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.events.store import Context, EventStore, NewEvent
from libs.money import to_fen
from libs.events.tables import policy_versions
from libs.policy.projection import NATIONAL, policy_in_force, stored_document
from libs.pooling import region_on, windows
from libs.runtime.service import ServiceContext

from .domain.events import RateSegment
from .domain.model import WageReport, wage_report_id
from .domain.rules import class_segments, period_bounds, period_of, rate_in_force
from .tables import levy_employer_classes, levy_employers, levy_reactions, wage_history, wage_reports

SYSTEM_ACTOR = "system"
CHINA = timezone(timedelta(hours=8))
MAX_CLASS_CHANGES = 1_000
MAX_REASSESSED_MONTHS = 5_000_000  # a region's employers × the months a policy reaches back


def classes_of(session: Session, employer_id: str, current_class: int) -> list[tuple[date, int]]:
    """(effective_from, class) of an employer; an employer projected before the history was
    kept has its current class throughout."""
    rows = session.execute(select(levy_employer_classes.c.effective_from, levy_employer_classes.c.risk_class)
                           .where(levy_employer_classes.c.employer_id == employer_id)
                           .limit(MAX_CLASS_CHANGES)).all()
    return [(r.effective_from, r.risk_class) for r in rows] or [(date.min, current_class)]


def rate_segments(session: Session, employer_id: str, current_class: int, period: str, doc: Any,  # noqa: ANN401
                  multiplier: Decimal) -> tuple[RateSegment, ...]:
    """The parts of a month at each class's rate: the base rate of the policy in force on the
    month's first day × the year's floating step."""
    return segments_of(classes_of(session, employer_id, current_class), current_class, period, doc, multiplier)


def segments_of(classes: list[tuple[date, int]], current_class: int, period: str, doc: Any,  # noqa: ANN401
                multiplier: Decimal) -> tuple[RateSegment, ...]:
    """rate_segments from the employer's classes already read (classes_of)."""
    return tuple(
        RateSegment(start=start, end=end, days=(end - start).days + 1, risk_class=risk_class,
                    rate=rate_in_force(doc.base_rate(risk_class), multiplier))
        for start, end, risk_class in class_segments(classes or [(date.min, current_class)], period))


def record_class(session: Session, employer_id: str, effective_from: date, risk_class: int, event_id: str) -> bool:
    """Keep the class in force from a day; returns whether the history changed."""
    key = (levy_employer_classes.c.employer_id == employer_id, levy_employer_classes.c.effective_from == effective_from)
    row = session.execute(select(levy_employer_classes.c.risk_class).where(*key)).first()
    if row is None:
        session.execute(insert(levy_employer_classes).values(employer_id=employer_id, effective_from=effective_from,
                                                             risk_class=risk_class, event_id=event_id))
        return True
    if row.risk_class != risk_class:  # a later change of the same day (the topic keeps their order)
        session.execute(update(levy_employer_classes).where(*key).values(risk_class=risk_class, event_id=event_id))
        return True
    return False


def reassess_after_class_change(ctx: ServiceContext, session: Session, employer_id: str, changed_on: date,
                                cause: Envelope) -> int:
    """Every month from `changed_on` on that has a report: assessed again at the classes by day
    (a `ContributionReassessed` where the contribution moved). Returns how many."""
    cause_id = str(cause.event_id)
    if _reacted(session, cause_id):
        return 0  # reacted to already (a replay of the projection): never assess twice
    emitted = reassess_months(ctx, session, employer_id, period_of(changed_on), cause, "class_changed")
    session.execute(insert(levy_reactions).values(event_id=cause_id, emitted=emitted))
    return emitted


def _reacted(session: Session, cause_id: str) -> bool:
    return session.execute(select(levy_reactions.c.event_id).where(levy_reactions.c.event_id == cause_id)).first() \
        is not None


def reassess_months(ctx: ServiceContext, session: Session, employer_id: str, from_period: str, cause: Envelope,
                    reason: str, only: frozenset[str] | None = None) -> int:
    """Each month of an employer from `from_period` on that has a report (of those in `only`,
    when given), assessed again by the classes of its days at the policy of the region it belongs
    to on its first day (pooling.py): a `ContributionReassessed` where the contribution moved.
    The caller records the reaction."""
    from .handlers import _multiplier, _ref, rebuild_postings  # the command side's helpers
    from .pooling import region_of

    cause_id = str(cause.event_id)
    employer = session.execute(select(levy_employers).where(levy_employers.c.employer_id == employer_id)).first()
    periods = sorted(set(session.execute(select(wage_reports.c.period).where(
        wage_reports.c.employer_id == employer_id, wage_reports.c.superseded_by.is_(None),
        wage_reports.c.period >= from_period)).scalars())) if employer is not None else []
    periods = [p for p in periods if only is None or p in only]
    store = EventStore(session, ctx.topic)
    cause_day = _china_day(cause.recorded_at)
    emitted = 0
    for period in periods:
        first, _last = period_bounds(period)
        region = region_of(session, employer.region, first)
        version = policy_in_force(session, region, first)
        history = store.read_aggregate(wage_report_id(employer_id, period))
        if version is None or not history:
            continue
        report = WageReport.rehydrate(wage_report_id(employer_id, period), history)
        current = session.execute(select(wage_reports).where(wage_reports.c.report_id == report.current_report_id)).one()
        multiplier = _multiplier(session, employer_id, first.year)
        on = max(cause_day, report.last_reported_on or cause_day)
        event = report.reassess(
            report_id="ra_" + uuid.uuid4().hex[:16], employer_id=employer_id, region=region, period=period,
            segments=rate_segments(session, employer_id, employer.risk_class, period, version.document, multiplier),
            multiplier=multiplier, due_date=current.due_date, late_fee_daily=Decimal(current.late_fee_daily),
            policy_ref=_ref(version), cause_event_id=cause_id, on=on, reason=reason)
        if event is None:
            continue
        new = [NewEvent(p.type, REGISTRY.latest_version(p.type), p.payload.model_dump(mode="json"), p.occurred_on)
               for p in report.pending]
        [envelope] = store.append(report.aggregate_type, report.id, report.persisted_version, new,
                                  Context(actor=SYSTEM_ACTOR, correlation_id=cause.correlation_id,
                                          causation_id=cause.event_id))
        report.pending.clear()
        _record(session, current, event, envelope, version)
        emitted += 1
    if emitted:
        rebuild_postings(session, employer_id, employer.region)
    return emitted


def reassess_after_consolidation(ctx: ServiceContext, session: Session, from_regions: list[str],
                                 effective_from: date, cause: Envelope) -> int:
    """A consolidation learned after months from its date were reported under the old pools'
    policies: each is assessed again at the new region's (arrears or recovery, SIL.86 fees on an
    increase from the month's due date, as for any reassessment). Once per consolidation."""
    cause_id = str(cause.event_id)
    if _reacted(session, cause_id):
        return 0
    from .pooling import moves  # pooling.py reads the command side's tables too

    known = moves(session)
    # the recorded regions whose employers now belong to a pool moved here (its own, and what it took over)
    sources = sorted({w.source for r in from_regions for w in windows(r, known)} | set(from_regions))
    employer_ids = sorted(set(session.execute(
        select(wage_reports.c.employer_id).join(levy_employers, levy_employers.c.employer_id == wage_reports.c.employer_id)
        .where(levy_employers.c.region.in_(sources), wage_reports.c.superseded_by.is_(None),
               wage_reports.c.period >= period_of(effective_from))).scalars()))
    emitted = sum(reassess_months(ctx, session, e, period_of(effective_from), cause, "pool_consolidated")
                  for e in employer_ids)
    session.execute(insert(levy_reactions).values(event_id=cause_id, emitted=emitted))
    return emitted


def reassess_after_policy(ctx: ServiceContext, session: Session, region: str, effective_from: date,
                          cause: Envelope) -> int:
    """A policy published for a date already assessed (API.md: a policy whose date lies in the
    past is recalculated as arrears or recovery, never an edit of history): each month from its
    date whose base rates now differ from those it was assessed under is assessed again
    (`policy_changed`), once per publication. A version that leaves the rates alone (benefit
    levels only) reassesses nothing: an imported month keeps the old system's assessment."""
    cause_id = str(cause.event_id)
    if _reacted(session, cause_id):
        return 0
    from .pooling import moves

    query = (select(wage_reports.c.employer_id, wage_reports.c.period, wage_reports.c.policy_region,
                    wage_reports.c.policy_version, levy_employers.c.region)
             .join(levy_employers, levy_employers.c.employer_id == wage_reports.c.employer_id)
             .where(wage_reports.c.superseded_by.is_(None), wage_reports.c.period >= period_of(effective_from)))
    known = moves(session)
    if region != NATIONAL:  # the national default reaches every region that falls back to it
        query = query.where(levy_employers.c.region.in_(sorted({w.source for w in windows(region, known)} | {region})))
    in_force = {}  # (region, first day) → the version in force: a region's months share a handful
    rates = {}  # (region, version) → base rates
    changed: dict[str, set[str]] = {}
    rows = session.execute(query.limit(MAX_REASSESSED_MONTHS + 1)).all()
    assert len(rows) <= MAX_REASSESSED_MONTHS, "a policy reaching more months than the limit"
    for row in rows:
        first, _last = period_bounds(row.period)
        key = (region_on(row.region, first, known), first)
        now = in_force[key] if key in in_force else in_force.setdefault(key, policy_in_force(session, *key))
        was = (row.policy_region, row.policy_version)
        if now is None or (now.region, now.version) == was:
            continue
        if was not in rates:
            rates[was] = _base_rates(session, *was)
        if rates[was] != now.document.base_rates:
            changed.setdefault(row.employer_id, set()).add(row.period)
    emitted = sum(reassess_months(ctx, session, employer_id, min(periods), cause, "policy_changed", frozenset(periods))
                  for employer_id, periods in sorted(changed.items()))
    session.execute(insert(levy_reactions).values(event_id=cause_id, emitted=emitted))
    return emitted


def _base_rates(session: Session, region: str, version: int) -> dict[str, Decimal] | None:
    """The base rates of a stored version (None if it is not known here)."""
    text = session.execute(select(policy_versions.c.document).where(
        policy_versions.c.region == region, policy_versions.c.version == version)).scalar()
    return None if text is None else stored_document(text).base_rates


def _record(session: Session, current: Any, event: Any, envelope: Envelope, version: Any) -> None:  # noqa: ANN401
    """The reassessment as the month's report in force: its wages are the replaced report's."""
    session.execute(update(wage_reports).where(wage_reports.c.report_id == current.report_id)
                    .values(superseded_by=event.report_id))
    session.execute(insert(wage_reports).values(
        report_id=event.report_id, employer_id=current.employer_id, period=current.period, region=event.region,
        payroll_fen=current.payroll_fen, rate=str(event.rate), multiplier=str(event.multiplier),
        contribution_fen=to_fen(event.contribution_due), delta_fen=to_fen(event.delta_due), due_date=current.due_date,
        late_fee_daily=current.late_fee_daily, correction_of=current.report_id, superseded_by=None,
        line_count=current.line_count, reported_on=event.reported_on, recorded_at=envelope.recorded_at,
        policy_region=version.region, policy_version=version.version))
    session.execute(insert(wage_history).from_select(
        ["report_id", "employee_id", "period", "employer_id", "wage_fen"],
        select(literal(event.report_id), wage_history.c.employee_id, wage_history.c.period, wage_history.c.employer_id,
               wage_history.c.wage_fen).where(wage_history.c.report_id == current.report_id)))


def _china_day(moment: datetime) -> date:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CHINA).date()
