"""Events the levy service writes (payload models; the envelope is libs.events).

The field names are the contract of docs/events.md (topic `injuryledger.levy`): add fields
freely, never rename or drop one. Money is Decimal yuan (a two-place string on the wire), or an
integer count of fen where the name says so (`wages_fen`).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.events.registry import event_type, upcaster
from libs.events.source import Source
from libs.money import round_fen, to_fen


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class PolicyRef(_Payload):
    region: str
    effective_from: date
    version: int = Field(ge=1)


class WageLine(_Payload):
    employee_id: str
    wage: Decimal


class RateSegment(_Payload):
    """Part of a month charged at one class's rate (a class change within the month)."""

    start: date
    end: date
    days: int
    risk_class: int = Field(ge=1, le=8)
    rate: Decimal


@event_type("WageReported")
class WageReported(_Payload):
    report_id: str
    employer_id: str
    region: str
    period: str  # YYYY-MM
    lines: tuple[WageLine, ...]
    payroll: Decimal
    rate: Decimal
    contribution_due: Decimal
    due_date: date
    correction_of: str | None
    delta_due: Decimal  # what this report adds to the assessment (= contribution_due for a first report)
    policy_ref: PolicyRef
    # beyond the contract
    reported_on: date
    late_fee_daily: Decimal
    multiplier: Decimal
    # added: the parts of the month at each class's rate when the class changed within it
    # (contribution_due = payroll × Σ rate × days / days of the month; `rate` is the last part's)
    rate_segments: tuple[RateSegment, ...] = ()


@event_type("ContributionReassessed")
class ContributionReassessed(_Payload):
    """A month assessed again because the employer's class changed from a day in it or before
    (RULES.md: a class change is charged from its effective date). Replaces the report or
    reassessment in force (`reassesses`); the wages are those of that report."""

    report_id: str
    employer_id: str
    region: str
    period: str
    reassesses: str
    payroll: Decimal
    rate: Decimal
    rate_segments: tuple[RateSegment, ...]
    contribution_due: Decimal
    delta_due: Decimal
    due_date: date
    reason: str  # "class_changed", "pool_consolidated" or "policy_changed"
    cause_event_id: str
    policy_ref: PolicyRef
    reported_on: date
    late_fee_daily: Decimal
    multiplier: Decimal


class Allocation(_Payload):
    period: str
    late_fee: Decimal
    contribution: Decimal


@event_type("ContributionPaid")
class ContributionPaid(_Payload):
    payment_id: str
    employer_id: str
    amount: Decimal
    paid_on: date
    allocations: tuple[Allocation, ...]
    credit: Decimal  # what of this payment remained, kept as the employer's credit
    # beyond the contract
    region: str
    payment_allocation: str
    credit_balance: Decimal


class RateFigures(_Payload):
    contributions: Decimal
    claims_cost: Decimal
    loss_ratio: Decimal
    injuries: int
    workers: int
    frequency_per_mille: Decimal


@event_type("RateAdjusted")
class RateAdjusted(_Payload):
    employer_id: str
    year: int
    risk_class: int = Field(ge=1, le=8)
    base_rate: Decimal
    multiplier: Decimal
    rate: Decimal
    figures: RateFigures
    policy_ref: PolicyRef
    # beyond the contract
    wanted_multiplier: Decimal  # the step the experience chose, before the class's allowed steps
    lookback: tuple[int, int]  # first and last year of experience


@event_type("PreventionProjectApproved")
class PreventionProjectApproved(_Payload):
    """A prevention project of a year (training, publicity, inspections) with its budget, inside
    the year's cap: prevention_share × the previous year's contributions collected."""

    project_id: str
    region: str
    year: int
    name: str
    budget: Decimal
    cap: Decimal
    income: Decimal  # the contributions collected in year − 1, by payment date
    share: Decimal
    budgets: Decimal  # the year's budgets with this one
    approved_on: date
    policy_ref: PolicyRef


@event_type("PreventionSpent")
class PreventionSpent(_Payload):
    spending_id: str
    project_id: str
    region: str
    year: int
    amount: Decimal
    paid_on: date
    payee: str
    spent: Decimal  # the project's spending with this one
# ---- going live (MIGRATION.md): the old system's book, recorded as it was

class ImportedWage(_Payload):
    employee_id: str
    wage: Decimal
    row: int  # the row of the import file (its header is row 1)
    legacy_id: str


@event_type("WagesImported")
class WagesImported(_Payload):
    """Wage history an import brought for one employer and month: the insured wage of injuries
    to come is derived from it (R.64). It assesses nothing; what was owed is in `accounts`."""

    employer_id: str
    region: str
    period: str  # YYYY-MM
    lines: tuple[ImportedWage, ...]
    import_id: str


@event_type("WageHistoryImported", version=2)
class WageHistoryImported(_Payload):
    """Wage history an import brought, up to a thousand rows of one request, whatever their
    employers and months (a file ordered by worker spreads a request over as many employers as
    it has rows: one event per employer and month would be one per row). The insured wage of
    injuries to come is derived from it (R.64). It assesses nothing; what was owed is in
    `accounts`. Replaces WagesImported for new imports; a log's WagesImported stay valid.

    v2 carries the lines as columns, line i being the i-th of each, the wage in fen: a province's
    twelve million lines are written, relayed and read as lists, not an object each (v1 had
    `lines` [{employee_id, employer_id, period, wage, row, legacy_id}]; `_lines_to_columns`)."""

    import_id: str
    employee_ids: tuple[str, ...]
    employer_ids: tuple[str, ...]
    periods: tuple[str, ...]  # YYYY-MM
    wages_fen: tuple[int, ...]
    rows: tuple[int, ...]  # the row of the import file of each line (its header is row 1)
    legacy_ids: tuple[str, ...]

    @model_validator(mode="after")
    def _columns_of_one_length(self) -> "WageHistoryImported":
        n = len(self.employee_ids)
        assert all(len(c) == n for c in (self.employer_ids, self.periods, self.wages_fen, self.rows,
                                          self.legacy_ids)), "one value of each column a line"
        return self

    def lines(self) -> list[tuple[str, str, str, int, int, str]]:
        """(employee_id, employer_id, period, wage_fen, row, legacy_id) of each line."""
        return list(zip(self.employee_ids, self.employer_ids, self.periods, self.wages_fen, self.rows,
                        self.legacy_ids))


@upcaster("WageHistoryImported", from_version=1)
def _lines_to_columns(payload: dict) -> dict:
    """v1's lines as v2's columns, each wage (yuan at fen precision) as fen."""
    lines = payload["lines"]
    return {"import_id": payload["import_id"],
            **{f"{name}s": [ln[name] for ln in lines] for name in ("employee_id", "employer_id", "period", "row")},
            "wages_fen": [to_fen(round_fen(Decimal(str(ln["wage"])))) for ln in lines],
            "legacy_ids": [ln["legacy_id"] for ln in lines]}


@event_type("LegacyPeriodImported")
class LegacyPeriodImported(_Payload):
    """A contribution period as the old system assessed it (not re-assessed) and what it was
    paid. The period's report in force: a later wage report of the month corrects it. Late fees
    run on what is outstanding from `due_date`, under the region's policy."""

    report_id: str
    employer_id: str
    region: str
    period: str
    payroll: Decimal
    contribution_due: Decimal
    paid: Decimal
    paid_on: date | None
    due_date: date
    late_fee_daily: Decimal
    recorded_on: date  # the day the account assesses it: the due date, or the import's day if earlier
    policy_ref: PolicyRef
    source: Source
