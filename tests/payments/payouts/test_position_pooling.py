"""Pooling moves up (RULES.md "Prevention and pooling"): a region's fund position counts the lines
of the pools that belong to it in each line's month; a pool's lines before the date stay its own.
Figures in fen, by hand."""
from __future__ import annotations

from services.payments.payouts.runs import position

from .support import REGION, add_line, payments
from .test_runs import run

POOL = "440304"  # a district pool of the test's region, consolidated into it from March 2026


def test_the_position_of_a_region_counts_its_pools_lines_from_the_date(pay, runtime) -> None:  # noqa: ANN001
    r = pay.post("/v1/pooling/consolidations", json={"into_region": REGION, "from_regions": [POOL],
                                                     "effective_from": "2026-03-01"})
    assert r.status_code == 201, r.text
    pay.settle()
    add_line(runtime, "pool-feb", 10_000, payee="employee:a", region=POOL, period="2026-02")  # the pool's
    add_line(runtime, "pool-mar", 20_000, payee="employee:a", region=POOL, period="2026-03")  # the region's
    add_line(runtime, "home-feb", 40_000, payee="employee:b", period="2026-02")               # the region's
    add_line(runtime, "elsewhere", 80_000, payee="employee:c", region="510100", period="2026-03")

    def of(region: str | None) -> dict[str, int]:
        with payments(runtime).session_factory() as s:
            return position(s, region)

    # the region: 20,000 + 40,000 = 60,000; the pool: its February, 10,000; all: 150,000
    assert of(REGION) == {"settled": 0, "open": 0, "payable": 60_000, "settled_outside": 0, "total": 60_000}
    assert of(POOL) == {"settled": 0, "open": 0, "payable": 10_000, "settled_outside": 0, "total": 10_000}
    assert of(None)["total"] == 150_000

    # The region's run of March pays every line of both up to March (the pool ran no February):
    # 10,000 + 20,000 + 40,000 = 70,000, open until the bank answers; each stays in its own position.
    assert run(pay, period="2026-03")["total"] == "700.00"
    assert of(REGION) == {"settled": 0, "open": 60_000, "payable": 0, "settled_outside": 0, "total": 60_000}
    assert of(POOL) == {"settled": 0, "open": 10_000, "payable": 0, "settled_outside": 0, "total": 10_000}
