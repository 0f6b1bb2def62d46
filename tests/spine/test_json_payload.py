"""The append dumps a payload with `json_payload`, pydantic's `model_dump(mode="json")` without its
Python wrapper: the stored JSON must be the same bytes, for every registered event type. Instances
are drawn by hypothesis from each model's fields and their constraints (patterns, bounds)."""
from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from datetime import date
from decimal import Decimal

import annotated_types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import services
from libs.events.registry import REGISTRY, json_payload
from libs.events.store import dumps

for _module in pkgutil.walk_packages(services.__path__, "services."):
    if _module.name.endswith(".events"):
        importlib.import_module(_module.name)
import tests.spine.support  # noqa: E402,F401 - the spine's own test event

MODELS = sorted(((name, model) for name, (_version, model) in REGISTRY._models.items()), key=lambda m: m[0])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                      max_size=3), max_leaves=6)


def _bounded(annotation: typing.Any, metadata: list) -> st.SearchStrategy:
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
    if pattern:
        return st.from_regex(pattern, fullmatch=True)
    if annotation is int:
        return st.integers(min_value=low if low is not None else -10**6, max_value=high if high is not None else 10**6)
    if annotation is Decimal:
        return st.decimals(min_value=low if low is not None else -10**9, max_value=high if high is not None else 10**9,
                           places=2, allow_nan=False, allow_infinity=False)
    return _strategy(annotation)


def _strategy(annotation: typing.Any) -> st.SearchStrategy:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is typing.Any:
        return JSON_VALUES
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[_strategy(a) for a in args])
    if origin is typing.Annotated:
        return _bounded(args[0], list(args[1:]))
    if origin in (list, tuple, set, frozenset):
        inner = _strategy(args[0]) if args else JSON_VALUES
        return st.lists(inner, min_size=1, max_size=3).map(origin)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), _strategy(args[1]), max_size=3)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    if annotation is Decimal:
        return st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
    if annotation is date:
        return st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31))
    return st.from_type(annotation)


def _fields(model: type[BaseModel], size: int | None = None) -> dict[str, st.SearchStrategy]:
    """A strategy of each field; given `size`, every plain sequence field has that many items."""
    fields = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if field.metadata:
            optional = type(None) in args
            base = next((a for a in args if a is not type(None)), annotation) if optional else annotation
            fields[name] = _bounded(base, field.metadata) | (st.none() if optional else st.nothing())
        elif size is not None and origin in (list, tuple) and args:
            fields[name] = st.lists(_strategy(args[0]), min_size=size, max_size=size).map(origin)
        else:
            fields[name] = _strategy(annotation)
    return fields


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy:
    # Each sequence of its own length, or all of one length: a columnar event (EmployeesImported,
    # WageHistoryImported) asks one length of every column, which thirteen lengths drawn apart
    # almost never have, so hypothesis filtered for minutes (11-150 s) to find five.
    apart = st.fixed_dictionaries(_fields(model))
    one_length = st.integers(min_value=1, max_value=3).flatmap(lambda n: st.fixed_dictionaries(_fields(model, n)))
    # A model's own validators may refuse a draw (a rule across fields): those are not payloads.
    return (apart | one_length).map(lambda values: _valid(model, values)).filter(lambda m: m is not None)


def _valid(model: type[BaseModel], values: dict) -> BaseModel | None:
    try:
        return model.model_validate(values)
    except ValueError:
        return None


def test_every_registered_event_type_is_covered() -> None:
    assert len(MODELS) > 30 and "SpineDeposited" in dict(MODELS)


@pytest.mark.parametrize(("name", "model"), MODELS, ids=[name for name, _ in MODELS])
def test_the_stored_json_is_the_same_bytes_as_model_dump(name: str, model: type[BaseModel]) -> None:
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(model_strategy(model))
    def same_bytes(payload: BaseModel) -> None:
        assert json_payload(payload) == payload.model_dump(mode="json")
        assert dumps(json_payload(payload)).encode() == dumps(payload.model_dump(mode="json")).encode()

    same_bytes()
