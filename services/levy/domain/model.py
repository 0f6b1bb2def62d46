"""The levy's aggregates: a month's wage report of an employer, and the employer's account.

- `WageReport` (`wages-<employer_id>-<period>`): the reports of one employer and month. The first
  assesses its contribution; each later one is a correction that replaces the one before and
  assesses only the difference. A class change reaching the month reassesses it the same way
  (the wages of the report in force, the rates by day).
- `EmployerAccount` (`account-<employer_id>`): the employer's payments and its floating rate.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from libs.events.aggregate import Aggregate
from libs.money import FEN

from .events import (
    Allocation,
    ContributionPaid,
    ContributionReassessed,
    LegacyPeriodImported,
    PolicyRef,
    RateAdjusted,
    RateFigures,
    RateSegment,
    WageLine,
    WageHistoryImported,
    WageReported,
)
from .rules import contribution_by_days

ZERO = Decimal("0.00")


def wage_report_id(employer_id: str, period: str) -> str:
    return f"wages-{employer_id}-{period}"


def account_id(employer_id: str) -> str:
    return f"account-{employer_id}"


class WageReport(Aggregate):
    aggregate_type = "wage_report"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.current_report_id: str | None = None
        self.contribution_due = ZERO
        self.payroll = ZERO
        self.last_reported_on: date | None = None

    def report(self, *, report_id: str, employer_id: str, region: str, period: str, lines: tuple[WageLine, ...],
               payroll: Decimal, segments: tuple[RateSegment, ...], multiplier: Decimal, due_date: date,
               late_fee_daily: Decimal, policy_ref: PolicyRef, on: date) -> WageReported:
        """Assess a month: the contribution of this report (at the rate of each day's class), and
        what it adds to the one before."""
        due = _due(payroll, segments)
        event = WageReported(
            report_id=report_id, employer_id=employer_id, region=region, period=period, lines=lines,
            payroll=payroll.quantize(FEN), rate=segments[-1].rate, contribution_due=due, due_date=due_date,
            correction_of=self.current_report_id, delta_due=due - self.contribution_due, policy_ref=policy_ref,
            reported_on=on, late_fee_daily=late_fee_daily, multiplier=multiplier,
            rate_segments=segments if len(segments) > 1 else ())
        self.trigger(event, on)
        return event

    def reassess(self, *, report_id: str, employer_id: str, region: str, period: str,
                 segments: tuple[RateSegment, ...], multiplier: Decimal, due_date: date, late_fee_daily: Decimal,
                 policy_ref: PolicyRef, cause_event_id: str, on: date,
                 reason: str = "class_changed") -> ContributionReassessed | None:
        """The month again at the rates of its days' classes (`class_changed`), at the policy of
        the region its pool was consolidated into (`pool_consolidated`), or at a policy published
        for its date later (`policy_changed`), on the wages in force;
        None when the contribution stays the same (or nothing was reported)."""
        if self.current_report_id is None:
            return None
        due = _due(self.payroll, segments)
        if due == self.contribution_due:
            return None
        event = ContributionReassessed(
            report_id=report_id, employer_id=employer_id, region=region, period=period,
            reassesses=self.current_report_id, payroll=self.payroll, rate=segments[-1].rate, rate_segments=segments,
            contribution_due=due, delta_due=due - self.contribution_due, due_date=due_date, reason=reason,
            cause_event_id=cause_event_id, policy_ref=policy_ref, reported_on=on, late_fee_daily=late_fee_daily,
            multiplier=multiplier)
        self.trigger(event, on)
        return event

    def import_legacy(self, event: LegacyPeriodImported) -> None:
        """The old system's assessment of the month, once: it becomes the report in force."""
        assert self.current_report_id is None, "a month already assessed is not imported again"
        assert 0 <= event.paid <= event.contribution_due
        self.trigger(event, event.recorded_on)

    def apply_LegacyPeriodImported(self, e: LegacyPeriodImported) -> None:
        self.current_report_id = e.report_id
        self.contribution_due = e.contribution_due
        self.payroll = e.payroll
        self.last_reported_on = e.recorded_on

    def apply_WageReported(self, e: WageReported) -> None:
        assert e.correction_of == self.current_report_id, "a correction replaces the report in force"
        assert e.delta_due == e.contribution_due - self.contribution_due
        self.current_report_id = e.report_id
        self.contribution_due = e.contribution_due
        self.payroll = e.payroll
        self.last_reported_on = e.reported_on

    def apply_ContributionReassessed(self, e: ContributionReassessed) -> None:
        assert e.reassesses == self.current_report_id, "a reassessment replaces the assessment in force"
        assert e.delta_due == e.contribution_due - self.contribution_due
        self.current_report_id = e.report_id
        self.contribution_due = e.contribution_due


def _due(payroll: Decimal, segments: tuple[RateSegment, ...]) -> Decimal:
    assert segments, "a month has at least one rate"
    days = sum(s.days for s in segments)
    return contribution_by_days(payroll, [(s.days, s.rate) for s in segments], days)


def wage_history_id(import_id: str, first_row: int) -> str:
    return f"legacy-wages-{import_id}-{first_row}"


class WageHistory(Aggregate):
    """Some rows of one import's wage history (`legacy-wages-<import_id>-<first row>`), recorded
    once: the import's rows keyed by legacy_id (libs.imports) keep a row from being recorded
    twice, this keeps a worker's wage of an employer and month to one line of the batch."""

    aggregate_type = "wage_history"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.recorded = False

    def record(self, *, import_id: str, employee_ids: list[str], employer_ids: list[str], periods: list[str],
               wages_fen: list[int], rows: list[int], legacy_ids: list[str], on: date) -> None:
        """The lines as columns (line i the i-th of each)."""
        assert employee_ids and not self.recorded, "a batch of wage history is recorded once, with lines"
        assert len(set(employee_ids)) == len(employee_ids) \
            or len(set(zip(employee_ids, employer_ids, periods))) == len(employee_ids), \
            "one wage per worker, employer and month"  # each worker once: no tuple made a line
        assert min(wages_fen) >= 0, "a wage is not negative"
        self.trigger(WageHistoryImported(import_id=import_id, employee_ids=employee_ids, employer_ids=employer_ids,
                                         periods=periods, wages_fen=wages_fen, rows=rows, legacy_ids=legacy_ids), on)

    def apply_WageHistoryImported(self, e: WageHistoryImported) -> None:
        self.recorded = True


class EmployerAccount(Aggregate):
    aggregate_type = "employer_account"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.last_paid_on: date | None = None
        self.rates: dict[int, RateAdjusted] = {}  # year → the decision in force

    def pay(self, *, payment_id: str, employer_id: str, region: str, amount: Decimal, paid_on: date,
            allocations: tuple[Allocation, ...], credit: Decimal, credit_balance: Decimal,
            payment_allocation: str) -> ContributionPaid:
        assert amount > 0 and credit >= 0
        assert sum((a.late_fee + a.contribution for a in allocations), ZERO) + credit == amount
        assert self.last_paid_on is None or paid_on >= self.last_paid_on, "payments are recorded in date order"
        event = ContributionPaid(payment_id=payment_id, employer_id=employer_id, amount=amount, paid_on=paid_on,
                                 allocations=allocations, credit=credit, region=region,
                                 payment_allocation=payment_allocation, credit_balance=credit_balance)
        self.trigger(event, paid_on)
        return event

    def adjust_rate(self, *, employer_id: str, year: int, risk_class: int, base_rate: Decimal, multiplier: Decimal,
                    wanted_multiplier: Decimal, figures: RateFigures, policy_ref: PolicyRef, lookback: tuple[int, int],
                    on: date) -> RateAdjusted | None:
        """Record the year's floating step; None when the same decision is already recorded."""
        rate = base_rate * multiplier
        known = self.rates.get(year)
        if known is not None and known.multiplier == multiplier and known.rate == rate \
                and known.risk_class == risk_class:
            return None
        event = RateAdjusted(employer_id=employer_id, year=year, risk_class=risk_class, base_rate=base_rate,
                             multiplier=multiplier, rate=rate, figures=figures, policy_ref=policy_ref,
                             wanted_multiplier=wanted_multiplier, lookback=lookback)
        self.trigger(event, on)
        return event

    def multiplier_for(self, year: int) -> Decimal:
        known = self.rates.get(year)
        return known.multiplier if known is not None else Decimal("1.00")

    def apply_ContributionPaid(self, e: ContributionPaid) -> None:
        self.last_paid_on = e.paid_on

    def apply_RateAdjusted(self, e: RateAdjusted) -> None:
        self.rates[e.year] = e
