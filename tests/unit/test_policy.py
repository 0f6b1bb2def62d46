"""The policy document (RULES.md "A policy document"), the national default, and resolution of
the version in force by region and date."""
from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.identifiers import DIVISIONS, check_industry_code
from libs.policy import (
    NATIONAL_REGION,
    NoPolicyInForce,
    PolicyDocument,
    PolicySegment,
    PolicyVersion,
    average_rate_flag,
    load_national_default,
    resolve,
    versions_in_force_between,
)


def shipped_json() -> dict[str, Any]:
    text = resources.files("libs.policy").joinpath("national_default.json").read_text(encoding="utf-8")
    return json.loads(text)


def national_document_json() -> dict[str, Any]:
    raw = shipped_json()
    del raw["_sources"]
    return raw


def locs_of_refusal(change: Callable[[dict[str, Any]], object]) -> list[tuple[Any, ...]]:
    """Apply `change` to a copy of the national default and return the locs of the refusal."""
    raw = copy.deepcopy(national_document_json())
    change(raw)
    with pytest.raises(ValidationError) as caught:
        PolicyDocument.model_validate(raw)
    return [error["loc"] for error in caught.value.errors()]


# --- the national default -------------------------------------------------------------------

def test_the_national_default_validates_and_round_trips_exactly() -> None:
    doc = load_national_default()
    assert doc.model_dump(mode="json") == national_document_json()
    assert PolicyDocument.model_validate(doc.model_dump(mode="json")) == doc


def test_a_document_published_before_the_insured_wage_shares_takes_r64s_values() -> None:
    raw = copy.deepcopy(national_document_json())
    del raw["insured_wage_floor_ratio"], raw["insured_wage_cap_ratio"], raw["appeal_days"]
    doc = PolicyDocument.model_validate(raw)
    assert (doc.insured_wage_floor_ratio, doc.insured_wage_cap_ratio) == (Decimal("0.60"), Decimal("3.00"))
    assert doc.appeal_days.model_dump() == {"reconsideration": 60, "litigation": 180, "appraisal_committee": 15}


def test_the_json_form_keeps_money_and_ratios_as_the_exact_strings() -> None:
    dumped = load_national_default().model_dump(mode="json")
    assert dumped["average_monthly_wage"] == "8000.00"
    assert dumped["base_rates"]["1"] == "0.0020"
    assert dumped["floating_steps"]["1"] == ["1.00", "1.20", "1.50"]
    assert dumped["survivor_ratios"]["cap"] == "1.00"
    assert (dumped["insured_wage_floor_ratio"], dumped["insured_wage_cap_ratio"]) == ("0.60", "3.00")  # R.64
    assert dumped["rate_review"]["steps"][-1] == {"max_loss_ratio": None, "max_frequency_per_mille": None,
                                                  "multiplier": "1.50"}
    assert load_national_default().average_monthly_wage == Decimal("8000.00")


def test_the_national_default_cites_its_sources_and_names_the_illustrative_figures() -> None:
    sources = shipped_json()["_sources"]
    for cited in ("R.", "SIL.", "人社部发〔2015〕71号", "GB/T 4754-2011", "人社部规〔2017〕13号"):
        assert cited in sources["documents"]
    for field in ("average_monthly_wage", "minimum_monthly_wage", "termination_medical_grant_months",
                  "termination_employment_grant_months", "rate_review", "medical_catalog"):
        assert field in sources["illustrative"]
    assert "71号" in sources["fields"]["risk_classes"]


def test_the_shipped_figures_are_the_rules_figures() -> None:
    doc = load_national_default()
    assert [doc.base_rate(c) for c in range(1, 9)] == [Decimal(r) for r in (
        "0.002", "0.004", "0.007", "0.009", "0.011", "0.013", "0.016", "0.019")]
    assert doc.disability_grant_months == {"1": 27, "2": 25, "3": 23, "4": 21, "5": 18, "6": 16, "7": 13,
                                           "8": 11, "9": 9, "10": 7}
    assert doc.funeral_months == 6 and doc.death_grant_multiple == 20
    assert doc.late_fee_daily == Decimal("0.0005") and doc.due_day == 15


def test_every_division_has_a_class_following_the_2015_table() -> None:
    risk_classes = load_national_default().risk_classes
    assert sorted(risk_classes) == sorted(DIVISIONS)
    # 人社部发〔2015〕71号 lists 15, 19, 16, 23, 9, 7, 3 and 4 divisions in classes I–VIII
    assert Counter(risk_classes.values()) == {1: 15, 2: 19, 3: 16, 4: 23, 5: 9, 6: 7, 7: 3, 8: 4}
    expected = {"I65": 1, "J66": 1, "J69": 1, "M75": 1, "S91": 1, "T96": 1, "I63": 2, "I64": 2, "F51": 2,
                "P82": 2, "Q83": 2, "C39": 3, "O80": 3, "A01": 4, "C33": 4, "E49": 5, "G58": 5,
                "E47": 6, "C31": 6, "B07": 7, "C25": 7, "B06": 8, "B08": 8, "B09": 8, "B10": 8}
    assert {k: risk_classes[k] for k in expected} == expected


# --- accessors ------------------------------------------------------------------------------

def test_risk_class_for_an_industry_code_at_any_depth() -> None:
    doc = load_national_default()
    assert doc.risk_class_for(check_industry_code("I6510")) == 1
    assert doc.risk_class_for("B0610") == 8
    assert doc.risk_class_for("C33") == 4


def test_a_finer_key_classes_a_group_apart_from_its_division() -> None:
    raw = national_document_json()
    raw["risk_classes"]["C331"] = 6
    doc = PolicyDocument.model_validate(raw)
    assert doc.risk_class_for("C3311") == 6
    assert doc.risk_class_for("C3320") == 4


def test_payers_multipliers_and_catalog() -> None:
    doc = load_national_default()
    assert doc.payer("treatment_leave_wage") == "employer"
    assert doc.payer("disability_allowance_5_6") == "employer"
    assert doc.payer("death_grant") == "fund"
    assert doc.allowed_multipliers(1) == (Decimal("1.00"), Decimal("1.20"), Decimal("1.50"))
    assert Decimal("0.50") in doc.allowed_multipliers(8)
    some_code = next(iter(doc.medical_catalog))
    assert doc.catalog_item(some_code) is doc.medical_catalog[some_code]
    assert doc.catalog_item("NO-SUCH-ITEM") is None
    assert {item.reimbursable_share for item in doc.medical_catalog.values()} == {Decimal("1.00"), Decimal("0.80")}


@pytest.mark.parametrize("loss_ratio, frequency, multiplier", [
    ("0.10", "0.5", "0.50"), ("0.20", "1.0", "0.50"),  # both limits hold, on the limit itself
    ("0.10", "2.0", "0.80"),  # the loss ratio alone is not enough
    ("0.90", "0.0", "1.00"), ("1.20", "15", "1.20"), ("3.00", "0", "1.50"), ("0", "50", "1.50"),
])
def test_the_first_rate_review_step_whose_both_limits_hold(loss_ratio: str, frequency: str, multiplier: str) -> None:
    step = load_national_default().rate_review.step_for(Decimal(loss_ratio), Decimal(frequency))
    assert step.multiplier == Decimal(multiplier)


def test_the_document_is_immutable() -> None:
    doc = load_national_default()
    with pytest.raises(ValidationError):
        doc.due_day = 20  # type: ignore[misc]


def test_unknown_top_level_keys_are_dropped() -> None:
    raw = national_document_json() | {"region": "440300", "version": 3, "_sources": {}}
    assert PolicyDocument.model_validate(raw).model_dump(mode="json") == national_document_json()


# --- validation: each rule refuses with the field's loc -------------------------------------

def set_(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


@pytest.mark.parametrize("change, loc", [
    # every class 1..8 has a base rate in (0, 0.1)
    (set_(("base_rates", "3"), "0.10"), ("base_rates", "3")),
    (set_(("base_rates", "3"), "0"), ("base_rates", "3")),
    (set_(("base_rates", "3"), "-0.007"), ("base_rates", "3")),
    (drop(("base_rates", "3")), ("base_rates", "3")),
    (set_(("base_rates", "9"), "0.02"), ("base_rates", "9")),
    # floating steps > 0, class 1 never below 1.00, the base itself allowed
    (set_(("floating_steps", "1"), ["0.80", "1.00", "1.20"]), ("floating_steps", "1")),
    (set_(("floating_steps", "2"), ["0", "1.00"]), ("floating_steps", "2", 0)),
    (set_(("floating_steps", "4"), ["0.80", "1.20"]), ("floating_steps", "4")),
    (set_(("floating_steps", "5"), []), ("floating_steps", "5")),
    (drop(("floating_steps", "8")), ("floating_steps", "8")),
    # every grade 1..10 has grant months > 0
    (set_(("disability_grant_months", "7"), 0), ("disability_grant_months", "7")),
    (drop(("disability_grant_months", "10")), ("disability_grant_months", "10")),
    (set_(("disability_grant_months", "11"), 5), ("disability_grant_months", "11")),
    (drop(("termination_medical_grant_months", "5")), ("termination_medical_grant_months", "5")),
    (set_(("termination_employment_grant_months", "9"), -4), ("termination_employment_grant_months", "9")),
    # ratios in (0, 1]
    (set_(("care_ratios", "full"), "1.10"), ("care_ratios", "full")),
    (set_(("care_ratios", "partial"), "0"), ("care_ratios", "partial")),
    (drop(("care_ratios", "mostly")), ("care_ratios", "mostly")),
    (set_(("disability_allowance_ratios", "1"), "0.00"), ("disability_allowance_ratios", "1")),
    (drop(("disability_allowance_ratios", "6")), ("disability_allowance_ratios", "6")),
    (set_(("survivor_ratios", "spouse"), "1.01"), ("survivor_ratios", "spouse")),
    (set_(("late_fee_daily",), "0"), ("late_fee_daily",)),
    # the survivors' cap is at least each ratio
    (set_(("survivor_ratios", "cap"), "0.35"), ("survivor_ratios", "cap")),
    # R.64's floor a share in (0, 1], the cap above it
    (set_(("insured_wage_floor_ratio",), "1.20"), ("insured_wage_floor_ratio",)),
    (set_(("insured_wage_floor_ratio",), "0"), ("insured_wage_floor_ratio",)),
    (set_(("insured_wage_cap_ratio",), "0.50"), ("insured_wage_cap_ratio",)),
    (set_(("insured_wage_cap_ratio",), 3.0), ("insured_wage_cap_ratio",)),
    # appeal deadlines are whole days > 0 (R.55, R.26)
    (set_(("appeal_days", "reconsideration"), 0), ("appeal_days", "reconsideration")),
    (set_(("appeal_days", "appraisal_committee"), "15"), ("appeal_days", "appraisal_committee")),
    # prevention share within [0, 0.03]
    (set_(("prevention_share",), "0.04"), ("prevention_share",)),
    (set_(("prevention_share",), "-0.01"), ("prevention_share",)),
    # due day 1..28
    (set_(("due_day",), 29), ("due_day",)),
    (set_(("due_day",), 0), ("due_day",)),
    (set_(("due_day",), "15"), ("due_day",)),
    # payers are fund or employer, for every benefit kind and no other
    (set_(("payers", "medical"), "hospital"), ("payers", "medical")),
    (drop(("payers", "death_grant")), ("payers", "death_grant")),
    (set_(("payers", "lottery"), "fund"), ("payers", "lottery")),
    # risk classes: valid divisions, classes 1..8, every division covered
    (set_(("risk_classes", "I66"), 1), ("risk_classes", "I66")),
    (set_(("risk_classes", "Z01"), 1), ("risk_classes", "Z01")),
    (set_(("risk_classes", "I65"), 9), ("risk_classes", "I65")),
    (set_(("risk_classes", "I65"), 0), ("risk_classes", "I65")),
    (drop(("risk_classes", "C33")), ("risk_classes", "C33")),
    # catalog items: price > 0, share in (0, 1]
    (set_(("medical_catalog", "110200001", "max_unit_price"), "0.00"),
     ("medical_catalog", "110200001", "max_unit_price")),
    (set_(("medical_catalog", "110200001", "reimbursable_share"), "1.50"),
     ("medical_catalog", "110200001", "reimbursable_share")),
    (set_(("medical_catalog", "110200001", "reimbursable_share"), "0"),
     ("medical_catalog", "110200001", "reimbursable_share")),
    (set_(("medical_catalog",), {}), ("medical_catalog",)),
    # money: at most two places, > 0, never a binary fraction
    (set_(("average_monthly_wage",), "8000.001"), ("average_monthly_wage",)),
    (set_(("minimum_monthly_wage",), "0.00"), ("minimum_monthly_wage",)),
    (set_(("national_disposable_income",), "-51821.00"), ("national_disposable_income",)),
    (set_(("meal_subsidy_daily",), 30.5), ("meal_subsidy_daily",)),
    (set_(("average_monthly_wage",), "lots"), ("average_monthly_wage",)),
    (set_(("care_ratios", "full"), 0.5), ("care_ratios", "full")),
    # the rest of the shape
    (set_(("rate_review", "steps", 4, "max_loss_ratio"), "3.00"), ("rate_review", "steps", 4)),
    (set_(("rate_review", "lookback_years"), 4), ("rate_review", "lookback_years")),
    (set_(("rate_review", "steps", 0, "multiplier"), "0"), ("rate_review", "steps", 0, "multiplier")),
    (set_(("fund_account", "bank_code"), "1021"), ("fund_account", "bank_code")),
    (set_(("fund_account", "account_no"), "02-00"), ("fund_account", "account_no")),
    (set_(("fund_account", "bic"), "icbkcnbj"), ("fund_account", "bic")),
    (set_(("payment_allocation",), "newest_first"), ("payment_allocation",)),
    (set_(("treatment_leave_max_months", "standard"), 0), ("treatment_leave_max_months", "standard")),
    (set_(("deadlines", "decision_days"), 0), ("deadlines", "decision_days")),
    (set_(("care_ratios", "some"), "0.20"), ("care_ratios", "some")),
    (drop(("average_rate_control",)), ("average_rate_control",)),
])
def test_a_bad_document_is_refused_naming_the_field(change: Callable[[dict[str, Any]], None],
                                                     loc: tuple[Any, ...]) -> None:
    assert locs_of_refusal(change) == [loc]


def test_every_problem_is_reported_at_once() -> None:
    def two_faults(raw: dict[str, Any]) -> None:
        del raw["base_rates"]["2"]
        raw["payers"]["funeral_grant"] = "state"

    def two_missing(raw: dict[str, Any]) -> None:
        del raw["base_rates"]["2"]
        del raw["payers"]["funeral_grant"]

    assert locs_of_refusal(two_faults) == [("payers", "funeral_grant")]  # field errors come first
    assert locs_of_refusal(two_missing) == [("base_rates", "2"), ("payers", "funeral_grant")]


def test_the_boundaries_themselves_are_allowed() -> None:
    raw = national_document_json()
    raw["prevention_share"] = "0"
    raw["due_day"] = 28
    raw["care_ratios"]["full"] = "1"
    raw["base_rates"]["8"] = "0.0999"
    doc = PolicyDocument.model_validate(raw)
    assert doc.prevention_share == 0 and doc.model_dump(mode="json")["care_ratios"]["full"] == "1"


def test_a_nested_document_names_the_field_under_its_parent() -> None:
    from pydantic import BaseModel

    class PublishBody(BaseModel):
        document: PolicyDocument

    raw = national_document_json()
    del raw["base_rates"]["3"]
    with pytest.raises(ValidationError) as caught:
        PublishBody.model_validate({"document": raw})
    assert [e["loc"] for e in caught.value.errors()] == [("document", "base_rates", "3")]


# --- the average-rate control ---------------------------------------------------------------

def test_the_plain_average_of_the_eight_base_rates_passes_the_control_level() -> None:
    check = average_rate_flag(load_national_default())
    assert check.average_rate == Decimal("0.010125")  # 8.1% / 8
    assert check.control_rate == Decimal("0.0100")
    assert check.exceeds


def test_a_payroll_mix_weights_the_average() -> None:
    doc = load_national_default()
    check = average_rate_flag(doc, {1: Decimal("600000.00"), 8: Decimal("400000.00")})
    assert check.average_rate == Decimal("0.008800")  # (0.002×6 + 0.019×4) / 10
    assert not check.exceeds
    assert average_rate_flag(doc, {8: Decimal("1.00")}).exceeds
    assert average_rate_flag(doc, {}).average_rate == Decimal("0.010125")  # no mix: plain average


def test_a_mix_with_an_unknown_class_or_negative_payroll_is_an_error() -> None:
    doc = load_national_default()
    with pytest.raises(ValueError):
        average_rate_flag(doc, {9: Decimal("100")})
    with pytest.raises(ValueError):
        average_rate_flag(doc, {1: Decimal("200"), 2: Decimal("-100")})


# --- resolution -----------------------------------------------------------------------------

DOC = load_national_default()


def v(region: str, effective_from: str, version: int) -> PolicyVersion:
    return PolicyVersion(region=region, effective_from=date.fromisoformat(effective_from), version=version,
                         document=DOC, event_id=f"ev-{region}-{version}")


NATIONAL_1 = v(NATIONAL_REGION, "2020-01-01", 1)
NATIONAL_2 = v(NATIONAL_REGION, "2025-07-01", 2)
SZ_1 = v("440300", "2024-01-01", 1)
SZ_2 = v("440300", "2026-01-01", 2)
SZ_3 = v("440300", "2026-01-01", 3)  # republished for the same date: the later one wins
SZ_4 = v("440300", "2026-04-15", 4)
VERSIONS = (SZ_4, NATIONAL_1, SZ_2, SZ_1, SZ_3, NATIONAL_2, v("510100", "2019-01-01", 1))


@pytest.mark.parametrize("region, on, expected", [
    ("440300", "2024-01-01", SZ_1),  # the effective date itself
    ("440300", "2023-12-31", NATIONAL_1),  # the day before: the region has none, the national one
    ("440300", "2025-12-31", SZ_1),
    ("440300", "2026-01-01", SZ_3),
    ("440300", "2026-04-14", SZ_3),
    ("440300", "2026-04-15", SZ_4),
    ("440300", "2099-01-01", SZ_4),
    ("110105", "2025-06-30", NATIONAL_1),  # a region with no policy of its own
    ("110105", "2025-07-01", NATIONAL_2),
    (NATIONAL_REGION, "2025-07-01", NATIONAL_2),
])
def test_resolve_picks_the_latest_version_in_force(region: str, on: str, expected: PolicyVersion) -> None:
    assert resolve(VERSIONS, region, date.fromisoformat(on)) == expected


def test_resolve_accepts_any_iterable_once() -> None:
    assert resolve(iter(VERSIONS), "440300", date(2026, 5, 1)) == SZ_4


def test_no_policy_in_force_before_the_first_one() -> None:
    with pytest.raises(NoPolicyInForce):
        resolve(VERSIONS, "440300", date(2019, 12, 31))
    with pytest.raises(NoPolicyInForce):
        resolve([], "440300", date(2026, 1, 1))
    assert resolve(VERSIONS, "510100", date(2019, 6, 1)).region == "510100"  # its own, before the national


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_segments_split_where_a_new_version_takes_effect() -> None:
    assert versions_in_force_between(VERSIONS, "440300", d("2025-12-01"), d("2026-04-30")) == [
        PolicySegment(d("2025-12-01"), d("2025-12-31"), SZ_1),
        PolicySegment(d("2026-01-01"), d("2026-04-14"), SZ_3),
        PolicySegment(d("2026-04-15"), d("2026-04-30"), SZ_4),
    ]


def test_segments_pass_from_the_national_fallback_to_the_regions_own() -> None:
    assert versions_in_force_between(VERSIONS, "440300", d("2023-12-15"), d("2024-01-15")) == [
        PolicySegment(d("2023-12-15"), d("2023-12-31"), NATIONAL_1),
        PolicySegment(d("2024-01-01"), d("2024-01-15"), SZ_1),
    ]


def test_a_national_change_does_not_split_a_region_with_its_own_policy() -> None:
    assert versions_in_force_between(VERSIONS, "440300", d("2025-06-01"), d("2025-07-31")) == [
        PolicySegment(d("2025-06-01"), d("2025-07-31"), SZ_1)]
    assert versions_in_force_between(VERSIONS, "110105", d("2025-06-01"), d("2025-07-31")) == [
        PolicySegment(d("2025-06-01"), d("2025-06-30"), NATIONAL_1),
        PolicySegment(d("2025-07-01"), d("2025-07-31"), NATIONAL_2),
    ]


def test_a_change_on_the_first_or_a_single_day() -> None:
    assert versions_in_force_between(VERSIONS, "440300", d("2026-04-15"), d("2026-04-15")) == [
        PolicySegment(d("2026-04-15"), d("2026-04-15"), SZ_4)]
    assert versions_in_force_between(VERSIONS, "440300", d("2026-04-14"), d("2026-04-15")) == [
        PolicySegment(d("2026-04-14"), d("2026-04-14"), SZ_3),
        PolicySegment(d("2026-04-15"), d("2026-04-15"), SZ_4),
    ]


def test_segments_refuse_an_inverted_range_or_an_uncovered_day() -> None:
    with pytest.raises(ValueError):
        versions_in_force_between(VERSIONS, "440300", d("2026-02-01"), d("2026-01-31"))
    with pytest.raises(NoPolicyInForce):
        versions_in_force_between(VERSIONS, "440300", d("2019-12-01"), d("2020-01-31"))


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2027, 12, 31)), st.integers(0, 900),
       st.sampled_from(["440300", "110105", "510100", NATIONAL_REGION]))
def test_segments_tile_the_range_and_agree_with_resolve_on_every_day(start: date, length_days: int,
                                                                   region: str) -> None:
    end = start + timedelta(days=length_days)
    segments = versions_in_force_between(VERSIONS, region, start, end)
    assert segments[0].start == start and segments[-1].end == end
    for before, after in zip(segments, segments[1:]):
        assert after.start == before.end + timedelta(days=1)
        assert after.policy != before.policy
    for segment in segments:
        assert segment.start <= segment.end
        for day in (segment.start, segment.end):
            assert resolve(VERSIONS, region, day) == segment.policy
