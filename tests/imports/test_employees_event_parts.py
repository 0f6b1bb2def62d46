"""A request's new workers go to EmployeesImported events of at most WORKERS_PER_EVENT workers and
EVENT_TEXT_BYTES of text: short names are cut by count alone (`_event_sized`'s shortcut), long
multi-byte ones by their UTF-8 bytes, each part as full as the limits let it be."""
from __future__ import annotations

from datetime import date

from services.enrollment.domain.model import NewHire
from services.enrollment.imports import EVENT_TEXT_BYTES, WORKER_FIXED_BYTES, WORKERS_PER_EVENT, _event_sized


def hires(n: int, name: str, holder: str | None) -> list[NewHire]:
    return [NewHire(f"ee_{i:016d}", "er_1", "440300198001020011", name, date(1980, 1, 2), "male",
                    date(2016, 2, 1), "102584000001" if holder else None, "62220202000000000001" if holder else None,
                    holder, i + 2, f"W{i}") for i in range(n)]


def text_bytes(hire: NewHire) -> int:
    return WORKER_FIXED_BYTES + len(hire.name.encode()) + (len(hire.holder.encode()) if hire.holder else 0)


def test_short_names_go_a_thousand_to_an_event() -> None:
    workers = hires(2 * WORKERS_PER_EVENT + 7, "王小明", "Wang Xiaoming")
    parts = _event_sized(workers)
    assert [len(p) for p in parts] == [WORKERS_PER_EVENT, WORKERS_PER_EVENT, 7]
    assert [h for p in parts for h in p] == workers


def test_long_names_go_by_their_bytes_each_part_full() -> None:
    workers = hires(1_500, "王" * 150, "李" * 60) + hires(300, "Li Lei", None)  # 930 bytes, then 306
    parts = _event_sized(workers)
    assert [h for p in parts for h in p] == workers
    for part, following in zip(parts, parts[1:] + [None]):
        size = sum(map(text_bytes, part))
        assert len(part) <= WORKERS_PER_EVENT and size <= EVENT_TEXT_BYTES
        if following:  # the next worker did not fit (by bytes or by count)
            assert len(part) == WORKERS_PER_EVENT or size + text_bytes(following[0]) > EVENT_TEXT_BYTES
    assert len(parts[0]) == EVENT_TEXT_BYTES // 930
