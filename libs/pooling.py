"""Pooling moves up (RULES.md "Prevention and pooling"): a region by date.

A consolidation moves the pools named into one region from an effective date. Nothing recorded
is edited: an employer keeps the region it was enrolled in, and every service resolves the
region *as of a day* from the consolidation facts it projected (enrollment's PoolsConsolidated).
A region is consolidated away at most once, and along a chain (A into B, later B into C) the
dates never go back, so following the moves in force on a day is enough.

Pure: no I/O. `Move` is one region's move; `region_on` follows them; `windows` says which
recorded regions' facts belong to a region on which days (what a statement of it reads).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Mapping

MAX_CHAIN = 64  # consolidations of one pool in a row; more is a cycle, which the writer refuses


@dataclass(frozen=True)
class Move:
    """`region` belongs to `into_region` from `effective_from` on."""

    region: str
    into_region: str
    effective_from: date
    consolidation_id: str = ""

    @classmethod
    def of(cls, row: Any) -> "Move":  # noqa: ANN401 - a row of any service's table of moves
        """The move a projected row holds (its columns named as the fields)."""
        return cls(row.region, row.into_region, row.effective_from, row.consolidation_id)


@dataclass(frozen=True)
class Window:
    """Facts recorded under `source` on days `start` ≤ day < `end` (None: open) belong here."""

    source: str
    start: date | None
    end: date | None

    def holds(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)


def moves_by_region(moves: Iterable[Move]) -> dict[str, Move]:
    out: dict[str, Move] = {}
    for move in moves:
        assert move.region not in out, f"region {move.region} is consolidated away twice"
        out[move.region] = move
    return out


def region_on(region: str, day: date, moves: Mapping[str, Move]) -> str:
    """The region that `region`'s facts of `day` belong to."""
    for _ in range(MAX_CHAIN):
        move = moves.get(region)
        if move is None or day < move.effective_from:
            return region
        region = move.into_region
    raise AssertionError(f"a chain of consolidations longer than {MAX_CHAIN} from {region}")


def segments(region: str, moves: Mapping[str, Move]) -> list[tuple[str, date | None, date | None]]:
    """(region, start, end) that a recorded `region` belongs to, in order of time."""
    out: list[tuple[str, date | None, date | None]] = []
    start: date | None = None
    for _ in range(MAX_CHAIN):
        move = moves.get(region)
        if move is None:
            out.append((region, start, None))
            return out
        end = move.effective_from if start is None else max(start, move.effective_from)
        if start is None or end > start:
            out.append((region, start, end))
        region, start = move.into_region, end
    raise AssertionError(f"a chain of consolidations longer than {MAX_CHAIN}")


def windows(region: str, moves: Mapping[str, Move]) -> list[Window]:
    """Every recorded region whose facts belong to `region` on some days, and which days."""
    sources = {region} | set(moves) | {m.into_region for m in moves.values()}
    out = [Window(source, start, end)
           for source in sorted(sources)
           for target, start, end in segments(source, moves) if target == region]
    return out


def sources_on(region: str, day: date, moves: Mapping[str, Move]) -> list[str]:
    """The recorded regions whose facts of `day` belong to `region`: itself until it is
    consolidated away, and every pool consolidated into it by then."""
    return [w.source for w in windows(region, moves) if w.holds(day)]


def moved_into(region: str, moves: Mapping[str, Move]) -> list[Move]:
    """The moves straight into `region` (whose balances it takes over), by date."""
    return sorted((m for m in moves.values() if m.into_region == region), key=lambda m: (m.effective_from, m.region))
