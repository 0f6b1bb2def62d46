"""New worker and employer ids: "ee_"/"er_", a time-ordered head, 64 random bits; ascending in the
order they are made (so the tables keyed by them take new rows at their right edge) and unique
across processes."""
from __future__ import annotations

import re

from libs.events import envelope
from services.enrollment.handlers import new_employee_id, new_employee_ids, new_employer_id

SHAPE = re.compile(r"e[er]_[0-9a-f]{31}")  # 15 hex digits of milliseconds and counter, 16 of random bits


def test_an_id_is_its_prefix_and_31_hex_digits_within_every_column_it_goes_into() -> None:
    made = [new_employee_id(), *new_employee_ids(3)]
    assert all(SHAPE.fullmatch(i) and i.startswith("ee_") for i in made), made
    employer = new_employer_id()
    assert SHAPE.fullmatch(employer) and employer.startswith("er_"), employer
    # String(64) columns; a payee "employee:<id>" in String(80); never an EndToEndId (payout ids are)
    assert all(len(i) == 34 and len("employee:" + i) <= 80 for i in made)


def test_a_batchs_ids_ascend_and_the_next_batchs_follow() -> None:
    first, second = new_employee_ids(5_000), new_employee_ids(5_000)  # many in one millisecond
    one_by_one = [new_employee_id() for _ in range(100)]
    made = [*first, *second, *one_by_one, new_employee_ids(1)[0]]
    assert made == sorted(made) and len(set(made)) == len(made)
    employers = [new_employer_id() for _ in range(1_000)]  # an employers import makes them one by one
    assert employers == sorted(employers) and len(set(employers)) == len(employers)


def test_a_large_batch_is_unique_and_its_random_parts_are_random() -> None:
    made = new_employee_ids(200_000)
    assert len(set(made)) == len(made) == 200_000
    assert len({i[-16:] for i in made}) == len(made)  # 64 random bits each: no repeat among 200,000
    assert made == sorted(made)


def test_ids_with_the_same_head_differ_by_their_random_bits(monkeypatch) -> None:  # noqa: ANN001
    """Enrollment replicas draw their heads from their own clocks and counters, so two processes
    may draw the same head: here this process draws the same heads twice, as two would."""
    ahead = (envelope.next_heads(1) + (1 << 40)) & ~0xFFF  # a millisecond well after now: the counter runs
    monkeypatch.setattr(envelope, "_last_id", ahead)
    first = new_employee_ids(10_000)
    monkeypatch.setattr(envelope, "_last_id", ahead)
    second = new_employee_ids(10_000)
    assert [i[:18] for i in first] == [i[:18] for i in second]  # the same heads
    assert not set(first) & set(second) and first == sorted(first) and second == sorted(second)
