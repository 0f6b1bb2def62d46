"""Which policy is in force: every parameter is data of a region, effective from a date
(RULES.md). A region without a version of its own on a day falls back to the national default,
region `000000` (API.md)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from libs.identifiers import NATIONAL_REGION

from .document import PolicyDocument, load_national_default

__all__ = [
    "NATIONAL_REGION", "NoPolicyInForce", "PolicySegment", "PolicyVersion", "load_national_default", "resolve",
    "versions_in_force_between",
]


class NoPolicyInForce(LookupError):
    """Neither the region nor the national default has a version in force on that day."""


@dataclass(frozen=True)
class PolicyVersion:
    """One published version: `version` counts per region from 1; `event_id` is the
    PolicyPublished event that carried it (None for the shipped default before publication)."""

    region: str
    effective_from: date
    version: int
    document: PolicyDocument
    event_id: str | None = None
    # Pooling moves up: a version of the region a pool was consolidated into, standing in the
    # pool's own list from the date — (its region, its effective_from, its version), what a
    # computation that used it names. None for a region's own version.
    taken_from: tuple[str, date, int] | None = None


class PolicySegment(NamedTuple):
    """Days `start` to `end`, both included, during which `policy` is in force."""

    start: date
    end: date
    policy: PolicyVersion


def _latest(versions: Iterable[PolicyVersion], region: str, on: date) -> PolicyVersion | None:
    # Same effective date twice: the later publication (higher version) wins.
    candidates = [v for v in versions if v.region == region and v.effective_from <= on]
    return max(candidates, key=lambda v: (v.effective_from, v.version), default=None)


def resolve(versions: Iterable[PolicyVersion], region: str, on: date) -> PolicyVersion:
    """The version in force in `region` on `on`: the latest `effective_from <= on`, else the
    national default's; NoPolicyInForce if neither has one."""
    versions = tuple(versions)
    found = _latest(versions, region, on) or _latest(versions, NATIONAL_REGION, on)
    if found is None:
        raise NoPolicyInForce(f"no policy in force in {region} (nor {NATIONAL_REGION}) on {on.isoformat()}")
    return found


def versions_in_force_between(
    versions: Iterable[PolicyVersion], region: str, start: date, end: date
) -> list[PolicySegment]:
    """The consecutive segments of [start, end] (both days included) with the version in force
    in each (R.40: a new level re-indexes allowances from its effective date on). Adjacent days
    under the same version form one segment; NoPolicyInForce if any day has none."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    versions = tuple(versions)
    # Only a version's first day can change what is in force (the region's or the fallback's).
    changes = sorted({v.effective_from for v in versions
                      if v.region in (region, NATIONAL_REGION) and start < v.effective_from <= end})
    segments: list[PolicySegment] = []
    for day, next_change in zip([start, *changes], [*changes, end + timedelta(days=1)]):
        policy = resolve(versions, region, day)
        if segments and segments[-1].policy == policy:
            segments[-1] = segments[-1]._replace(end=next_change - timedelta(days=1))
        else:
            segments.append(PolicySegment(day, next_change - timedelta(days=1), policy))
    return segments
