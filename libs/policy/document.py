"""The policy document of a pooling region: every parameter the rules look up, as one flat,
validated, immutable value (RULES.md "A policy document").

Money is Decimal yuan (at most two places, > 0) and ratios are Decimal, both written as decimal
strings in JSON; `model_dump(mode="json")` gives back exactly the strings that came in. A bad
document raises pydantic's ValidationError whose `loc` names the field, e.g.
`("base_rates", "3")`, so the API can answer 422 naming it.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from libs.identifiers import (
    DIVISIONS,
    IndustryCode,
    InvalidIdentifier,
    check_account_no,
    check_cnaps,
    check_industry_code,
)
from libs.money import parse_yuan

RISK_CLASSES = tuple(range(1, 9))  # 人社部发〔2015〕71号: classes I–VIII
GRADES = tuple(range(1, 11))  # GB/T 16180: grade 1 most severe … 10
ALLOWANCE_GRADES = tuple(range(1, 7))  # R.35 (1–4, fund) and R.36 (5–6, employer)
TERMINATION_GRADES = tuple(range(5, 11))  # R.36–37
PAYER_KINDS = (
    "medical", "meal_subsidy", "treatment_leave_wage", "treatment_leave_care", "disability_grant",
    "disability_allowance", "disability_allowance_5_6", "care_allowance", "termination_medical_grant",
    "termination_employment_grant", "funeral_grant", "survivor_pension", "death_grant",
    "out_of_region", "rehabilitation", "assistive_device",
)
# Fields (and payer kinds) added after regions had published documents: a document without them
# takes the shipped national default's, so every stored version still validates (issue 15).
LATER_FIELDS = ("rehabilitation_catalog", "device_catalog", "out_of_region", "recovery_max_share")
LATER_PAYER_KINDS = ("out_of_region", "rehabilitation", "assistive_device")
MAX_BASE_RATE = Decimal("0.1")  # a base rate of 10% of payroll or more is a typo, not a policy
MAX_PREVENTION_SHARE = Decimal("0.03")  # 人社部规〔2017〕13号
RATE_FIGURE = Decimal("0.000001")  # the average rate is shown to a millionth of payroll


# --- value types ----------------------------------------------------------------------------


def _decimal_text(value: object) -> object:
    # Binary fractions never enter the ledger: only decimal strings, Decimals or integers.
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise ValueError('must be a decimal string such as "0.40"')
    return value


def _money(value: object) -> Decimal:
    amount = parse_yuan(value)  # NotMoney is a ValueError: pydantic reports it on the field
    if amount <= 0:
        raise ValueError("must be greater than 0")
    return amount


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _ratio(value: Decimal) -> Decimal:
    if not 0 < value <= 1:
        raise ValueError("must be in (0, 1]")
    return value


def _base_rate(value: Decimal) -> Decimal:
    if not 0 < value < MAX_BASE_RATE:
        raise ValueError("must be in (0, 0.1)")
    return value


def _prevention_share(value: Decimal) -> Decimal:
    if not 0 <= value <= MAX_PREVENTION_SHARE:
        raise ValueError("must be in [0, 0.03] (人社部规〔2017〕13号)")
    return value


DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text)]
Money = Annotated[Decimal, BeforeValidator(_money)]
Ratio = Annotated[DecimalText, AfterValidator(_ratio)]
BaseRate = Annotated[DecimalText, AfterValidator(_base_rate)]
Multiplier = Annotated[DecimalText, AfterValidator(_positive)]
Limit = Annotated[DecimalText, AfterValidator(_not_negative)]
Months = Annotated[int, Field(strict=True, gt=0)]
Days = Annotated[int, Field(strict=True, gt=0)]
RiskClass = Annotated[int, Field(strict=True, ge=1, le=8)]
Payer = Literal["fund", "employer"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _errors(title: str, problems: list[tuple[tuple[str | int, ...], str]], value: object) -> None:
    """Raise one ValidationError listing every (loc, message); nothing if there are none."""
    if problems:
        raise ValidationError.from_exception_data(title, [
            InitErrorDetails(type=PydanticCustomError("policy", message), loc=loc, input=value)
            for loc, message in problems
        ])


# --- parts ----------------------------------------------------------------------------------


class CareRatios(_Part):
    """R.34: share of the region's average monthly wage by care level."""

    full: Ratio
    mostly: Ratio
    partial: Ratio


class SurvivorRatios(_Part):
    """R.39: shares of the deceased's insured wage, together capped."""

    spouse: Ratio
    other: Ratio
    orphan_or_lone_elder_bonus: Ratio
    cap: Ratio

    @model_validator(mode="after")
    def _cap_holds_each(self) -> SurvivorRatios:
        _errors("SurvivorRatios", [
            (("cap",), f"must be at least {name} ({getattr(self, name)})")
            for name in ("spouse", "other", "orphan_or_lone_elder_bonus") if self.cap < getattr(self, name)
        ], self.cap)
        return self


class TreatmentLeaveMaxMonths(_Part):
    """R.33: usually at most 12 months, extended by at most 12 more."""

    standard: Months
    extension: Annotated[int, Field(strict=True, ge=0)]


class CatalogItem(_Part):
    """R.30: an approved item of the region's catalog (unit price ceiling, share the fund pays)."""

    name: Annotated[str, Field(min_length=1)]
    max_unit_price: Money
    reimbursable_share: Ratio


class DeviceItem(_Part):
    """R.32: an assistive device of the region's catalog: the standard price the fund pays the
    supplier, and how long one serves before a replacement may be configured."""

    name: Annotated[str, Field(min_length=1)]
    standard_price: Money
    service_life_months: Months


class OutOfRegion(_Part):
    """R.30: treatment outside the region on an approved referral: transport as billed up to a
    cap (per referral), lodging and food at a daily rate."""

    transport_cap: Money
    lodging_daily: Money
    food_daily: Money


class RetirementAge(_Part):
    male: Annotated[int, Field(strict=True, gt=0, le=100)]
    female: Annotated[int, Field(strict=True, gt=0, le=100)]


class Deadlines(_Part):
    """R.17 (applications), R.20 (decisions), R.25 (appraisal conclusions), in days."""

    employer_application_days: Days
    worker_application_days: Days
    decision_days: Days
    decision_days_clear: Days
    appraisal_days: Days


class AppealDays(_Part):
    """R.55 (a recognition: administrative reconsideration within 60 days of receiving it,
    litigation within 6 months) and R.26 (an appraisal: the provincial committee within 15 days),
    in days from the day the disputed decision or conclusion was received."""

    reconsideration: Days = 60
    litigation: Days = 180
    appraisal_committee: Days = 15


class RateReviewStep(_Part):
    """A floating step: applies when the loss ratio and the injury frequency (per mille of
    workers) are both within their limits; a null limit is no limit."""

    max_loss_ratio: Limit | None
    max_frequency_per_mille: Limit | None
    multiplier: Multiplier

    def holds(self, loss_ratio: Decimal, frequency_per_mille: Decimal) -> bool:
        return (self.max_loss_ratio is None or loss_ratio <= self.max_loss_ratio) and (
            self.max_frequency_per_mille is None or frequency_per_mille <= self.max_frequency_per_mille)


class RateReview(_Part):
    """人社部发〔2015〕71号: the floating rate, reviewed from one to three years of experience."""

    lookback_years: Annotated[int, Field(strict=True, ge=1, le=3)]
    steps: Annotated[tuple[RateReviewStep, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _last_step_catches_all(self) -> RateReview:
        last = self.steps[-1]
        if last.max_loss_ratio is not None or last.max_frequency_per_mille is not None:
            _errors("RateReview", [(("steps", len(self.steps) - 1),
                                    "the last step must have no limits, so every employer gets a step")], last)
        return self

    def step_for(self, loss_ratio: Decimal, frequency_per_mille: Decimal) -> RateReviewStep:
        """The first step whose both limits hold (the last one always does)."""
        return next(s for s in self.steps if s.holds(loss_ratio, frequency_per_mille))


class FundAccount(_Part):
    """The fund's own account: the debtor of every payout file."""

    name: Annotated[str, Field(min_length=1)]
    bank_code: Annotated[str, AfterValidator(check_cnaps)]
    account_no: Annotated[str, AfterValidator(check_account_no)]
    bic: Annotated[str, Field(pattern=r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")]


# --- the document ---------------------------------------------------------------------------


class PolicyDocument(BaseModel):
    """The parameters of a pooling region in force from a date (RULES.md). Unknown top-level
    keys (`_sources`, or `region`/`version` of a fetched copy) are ignored, never kept."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    average_monthly_wage: Money
    minimum_monthly_wage: Money
    national_disposable_income: Money
    # R.64: the insured wage's floor and cap, shares of the average monthly wage. A document
    # published before these fields existed takes R.64's national values.
    insured_wage_floor_ratio: Ratio = Decimal("0.60")
    insured_wage_cap_ratio: Multiplier = Decimal("3.00")
    risk_classes: dict[str, RiskClass]
    base_rates: dict[str, BaseRate]
    floating_steps: dict[str, Annotated[tuple[Multiplier, ...], Field(min_length=1)]]
    due_day: Annotated[int, Field(strict=True, ge=1, le=28)]
    late_fee_daily: Ratio
    meal_subsidy_daily: Money
    disability_grant_months: dict[str, Months]
    disability_allowance_ratios: dict[str, Ratio]
    care_ratios: CareRatios
    survivor_ratios: SurvivorRatios
    funeral_months: Months
    death_grant_multiple: Months
    termination_medical_grant_months: dict[str, Months]
    termination_employment_grant_months: dict[str, Months]
    treatment_leave_max_months: TreatmentLeaveMaxMonths
    payers: dict[str, Payer]
    medical_catalog: Annotated[dict[str, CatalogItem], Field(min_length=1)]
    retirement_age: RetirementAge
    dependent_child_age_limit: Annotated[int, Field(strict=True, gt=0)]
    reappraisal_min_months: Annotated[int, Field(strict=True, ge=0)]
    deadlines: Deadlines
    appeal_days: AppealDays = AppealDays()  # a document published before appeals takes R.55 / R.26
    rate_review: RateReview
    average_rate_control: Ratio
    prevention_share: Annotated[DecimalText, AfterValidator(_prevention_share)]
    fund_account: FundAccount
    payment_allocation: Literal["oldest_first_fees_then_contribution", "oldest_first_contribution_then_fees"]
    rehabilitation_catalog: Annotated[dict[str, CatalogItem], Field(min_length=1)]
    device_catalog: Annotated[dict[str, DeviceItem], Field(min_length=1)]
    out_of_region: OutOfRegion
    # RULES.md "Appeals, reversals and recovery": the most of each later payout an overpayment takes back
    recovery_max_share: Ratio

    @model_validator(mode="before")
    @classmethod
    def _later_fields_from_the_national_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        shipped = _shipped_json()
        missing = [name for name in LATER_FIELDS if name not in data]
        payers = data.get("payers")
        missing_payers = [k for k in LATER_PAYER_KINDS if isinstance(payers, dict) and k not in payers]
        if not missing and not missing_payers:
            return data
        data = {**data, **{name: shipped[name] for name in missing}}
        if missing_payers:
            data["payers"] = {**payers, **{k: shipped["payers"][k] for k in missing_payers}}
        return data

    @model_validator(mode="after")
    def _complete_and_consistent(self) -> PolicyDocument:
        problems = [
            *_exact_keys("base_rates", self.base_rates, RISK_CLASSES),
            *_exact_keys("floating_steps", self.floating_steps, RISK_CLASSES),
            *_exact_keys("disability_grant_months", self.disability_grant_months, GRADES),
            *_exact_keys("disability_allowance_ratios", self.disability_allowance_ratios, ALLOWANCE_GRADES),
            *_exact_keys("termination_medical_grant_months", self.termination_medical_grant_months, TERMINATION_GRADES),
            *_exact_keys("termination_employment_grant_months", self.termination_employment_grant_months,
                         TERMINATION_GRADES),
            *_exact_keys("payers", self.payers, PAYER_KINDS),
            *_floating_steps_problems(self.floating_steps),
            *_risk_class_problems(self.risk_classes),
        ]
        if self.insured_wage_cap_ratio < self.insured_wage_floor_ratio:
            problems.append((("insured_wage_cap_ratio",),
                             f"must be at least insured_wage_floor_ratio ({self.insured_wage_floor_ratio})"))
        _errors("PolicyDocument", problems, None)
        return self

    # -- accessors used by the rules --

    def risk_class_for(self, industry: IndustryCode | str) -> int:
        """The risk class of an industry (人社部发〔2015〕71号): the longest key of `risk_classes`
        that prefixes the code, so a region may class a group or class apart from its division."""
        code = industry.code if isinstance(industry, IndustryCode) else check_industry_code(industry).code
        for length in range(len(code), 2, -1):
            if code[:length] in self.risk_classes:
                return self.risk_classes[code[:length]]
        raise AssertionError(f"{code}: every division is covered by validation")

    def base_rate(self, risk_class: int) -> Decimal:
        return self.base_rates[str(risk_class)]

    def allowed_multipliers(self, risk_class: int) -> tuple[Decimal, ...]:
        """The floating steps a class may take (1.00 = the base rate)."""
        return self.floating_steps[str(risk_class)]

    def payer(self, kind: str) -> Payer:
        """Who bears a benefit kind: `fund` (paid out) or `employer` (tracked and notified)."""
        return self.payers[kind]

    def catalog_item(self, code: str) -> CatalogItem | None:
        return self.medical_catalog.get(code)

    def rehabilitation_item(self, code: str) -> CatalogItem | None:
        return self.rehabilitation_catalog.get(code)

    def device(self, code: str) -> DeviceItem | None:
        return self.device_catalog.get(code)


def _exact_keys(field: str, mapping: Mapping[str, Any], expected: tuple[int | str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    wanted = [str(k) for k in expected]
    for key in wanted:
        if key not in mapping:
            yield (field, key), "is missing"
    for key in mapping:
        if key not in wanted:
            yield (field, key), f"is not one of {', '.join(wanted)}"


def _floating_steps_problems(steps: Mapping[str, tuple[Decimal, ...]]) -> Iterator[tuple[tuple[str, ...], str]]:
    # 人社部发〔2015〕71号: class I may only go up; every class may stay at its base rate.
    for cls, multipliers in steps.items():
        if cls == "1" and any(m < 1 for m in multipliers):
            yield ("floating_steps", cls), "class 1 may only go up: no step below 1.00"
        if Decimal(1) not in multipliers:
            yield ("floating_steps", cls), "must include 1.00, the base rate itself"


def _risk_class_problems(risk_classes: Mapping[str, int]) -> Iterator[tuple[tuple[str, ...], str]]:
    for key in risk_classes:
        try:
            check_industry_code(key)
        except InvalidIdentifier as exc:
            yield ("risk_classes", key), exc.message
    for division in DIVISIONS:
        if division not in risk_classes:
            yield ("risk_classes", division), "is missing: every GB/T 4754-2011 division needs a class"


# --- the average-rate control ---------------------------------------------------------------


class AverageRateCheck(NamedTuple):
    average_rate: Decimal  # to a millionth of payroll
    control_rate: Decimal
    exceeds: bool  # True: the policy's average rate passes the control level and is flagged


def average_rate_flag(doc: PolicyDocument, payroll_by_class: Mapping[int, Decimal] | None = None) -> AverageRateCheck:
    """人社部发〔2015〕71号: the region keeps its average rate near the national control level.
    The average of the base rates weighted by the payroll of each class, or the plain average
    of the eight base rates when no (or an empty) payroll mix is given."""
    weights = {cls: Decimal(1) for cls in RISK_CLASSES}
    if payroll_by_class and sum(payroll_by_class.values()) > 0:
        unknown = set(payroll_by_class) - set(RISK_CLASSES)
        if unknown:
            raise ValueError(f"no such risk class: {sorted(unknown)}")
        if any(amount < 0 for amount in payroll_by_class.values()):
            raise ValueError("a payroll cannot be negative")
        weights = {cls: Decimal(payroll_by_class.get(cls, 0)) for cls in RISK_CLASSES}
    average = sum(doc.base_rate(cls) * w for cls, w in weights.items()) / sum(weights.values())
    return AverageRateCheck(
        average_rate=average.quantize(RATE_FIGURE, rounding=ROUND_HALF_UP),
        control_rate=doc.average_rate_control,
        exceeds=average > doc.average_rate_control,
    )


# --- the shipped national default -----------------------------------------------------------


@lru_cache(maxsize=1)
def _shipped_json() -> dict[str, Any]:
    text = resources.files("libs.policy").joinpath("national_default.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def load_national_default() -> PolicyDocument:
    """The shipped national defaults (national_default.json, package data). Its `_sources` key,
    the provenance of each figure, is documentation and is not part of the document."""
    return PolicyDocument.model_validate(_shipped_json())
