"""The policy fields of the seed's wider programme (issue 15): the rehabilitation catalog, the
assistive-device catalog and the out-of-region rates, with national defaults; a document
published before these fields existed takes the national default's values."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from libs.policy import PolicyDocument, load_national_default


def national_json() -> dict[str, Any]:
    raw = json.loads(resources.files("libs.policy").joinpath("national_default.json").read_text(encoding="utf-8"))
    del raw["_sources"]
    return raw


def test_the_national_default_ships_the_three_fields() -> None:
    doc = load_national_default()
    assert doc.out_of_region.transport_cap == Decimal("3000.00")
    assert doc.out_of_region.lodging_daily + doc.out_of_region.food_daily == Decimal("400.00")
    assert doc.rehabilitation_item("KF-PT").max_unit_price == Decimal("60.00")
    assert doc.rehabilitation_item("NO-SUCH") is None
    wheelchair = doc.device("FZ-WHEEL-M")
    assert (wheelchair.standard_price, wheelchair.service_life_months) == (Decimal("1200.00"), 36)
    assert doc.device("NO-SUCH") is None
    assert [doc.payer(k) for k in ("out_of_region", "rehabilitation", "assistive_device")] == ["fund"] * 3


def test_a_document_without_the_new_fields_takes_the_national_defaults() -> None:
    # A region's version published before issue 15 (as stored in its PolicyPublished event).
    old = national_json()
    for name in ("rehabilitation_catalog", "device_catalog", "out_of_region"):
        del old[name]
    for kind in ("out_of_region", "rehabilitation", "assistive_device"):
        del old["payers"][kind]
    old["average_monthly_wage"] = "9100.00"
    doc = PolicyDocument.model_validate(old)
    national = load_national_default()
    assert doc.average_monthly_wage == Decimal("9100.00")  # its own figures stay its own
    assert (doc.rehabilitation_catalog, doc.device_catalog, doc.out_of_region) == \
        (national.rehabilitation_catalog, national.device_catalog, national.out_of_region)
    assert doc.payer("rehabilitation") == "fund"


def test_a_region_sets_its_own_levels() -> None:
    raw = national_json()
    raw["out_of_region"] = {"transport_cap": "1500.00", "lodging_daily": "180.00", "food_daily": "60.00"}
    raw["payers"]["assistive_device"] = "employer"
    doc = PolicyDocument.model_validate(raw)
    assert doc.out_of_region.transport_cap == Decimal("1500.00")
    assert doc.payer("assistive_device") == "employer"
    assert PolicyDocument.model_validate(doc.model_dump(mode="json")) == doc


def _refusal(path: tuple[Any, ...], value: Any) -> list[tuple[Any, ...]]:
    raw = copy.deepcopy(national_json())
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as caught:
        PolicyDocument.model_validate(raw)
    return [e["loc"] for e in caught.value.errors()]


@pytest.mark.parametrize("path, value", [
    (("out_of_region", "transport_cap"), "0.00"),
    (("out_of_region", "lodging_daily"), "300.001"),
    (("out_of_region", "food_daily"), 100.0),
    (("device_catalog", "FZ-HEAR", "standard_price"), "-1.00"),
    (("device_catalog", "FZ-HEAR", "service_life_months"), 0),
    (("rehabilitation_catalog", "KF-PT", "reimbursable_share"), "1.20"),
    (("rehabilitation_catalog",), {}),
    (("device_catalog",), {}),
    (("payers", "rehabilitation"), "hospital"),
])
def test_a_bad_value_is_refused_naming_the_field(path: tuple[Any, ...], value: Any) -> None:
    assert _refusal(path, value) == [path]
