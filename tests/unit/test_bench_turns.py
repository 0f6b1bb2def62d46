"""bench/spine_rounds.py's `take_turns`: the sides of a round run in processes of their own and take
turns a slice at a time, so the machine's load falls on all alike; each side's figure is what its
slices counted over their own time, and a side that fails fails the round with its traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.spine_rounds import Slices, take_turns


def _side(name: str, log: Path, slices: int, fail_at: int | None = None):  # noqa: ANN202 - a side
    def side(r: int) -> Slices:
        yield None  # set up
        for k in range(slices):
            if k == fail_at:
                raise ValueError(f"{name} broke at slice {k}")
            with log.open("a") as f:
                f.write(f"{r}:{name}:{k}\n")
            yield "things_per_s", 10
    return side


def test_sides_alternate_slice_by_slice_and_count_their_own_work(tmp_path: Path) -> None:
    log = tmp_path / "turns.log"
    runs = take_turns({"ours": _side("ours", log, 3), "peer": _side("peer", log, 3)}, rounds=2)
    order = log.read_text().split()
    assert order == [f"{r}:{name}:{k}" for r in range(2) for k in range(3) for name in ("ours", "peer")]
    for name in ("ours", "peer"):
        assert len(runs[name]) == 2
        for out in runs[name]:
            assert out["things_per_s"] > 0 and out["cpu_s"] >= 0 and out["peak_rss_mib"] > 0


def test_a_side_that_fails_fails_the_round_with_its_traceback(tmp_path: Path) -> None:
    log = tmp_path / "turns.log"
    with pytest.raises(RuntimeError, match="peer broke at slice 1"):
        take_turns({"ours": _side("ours", log, 3), "peer": _side("peer", log, 3, fail_at=1)}, rounds=1)
