"""The month made in the database takes its amounts' groups — each distinct (grade, care level,
wage's policy reference, R.62) of the region's compact inputs — from their index, a skip from one
to the next (`in_database._groups`): the same set as a DISTINCT over every claim's row, each once,
the claims without a grade and the other regions' as a DISTINCT has them, on SQLite and
PostgreSQL (which put NULLs at opposite ends of an index)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert, text

from libs.db import make_engine, migrate, session_factory
from services.payments.entitlements import in_database
from services.payments.entitlements.tables import claim_inputs

R, OTHER = "440300", "440400"
REFS = ('{"effective_from": "2020-01-01", "region": "440300", "version": 1}',
        '{"effective_from": "2027-01-01", "region": "440300", "version": 2}')


def _row(n: int, region: str, grade: int | None, care: str, ref: str, uninsured: str) -> dict:
    return dict(claim_id=f"c{n:04d}", region=region, employer_id="er", payee=f"employee:e{n}", facts=4,
                last_fact_at="2026-10-01T09:00:00+00:00", last_fact_id="f", point_at="2026-10-01T09:00:00+00:00",
                point_known_at=datetime(2026, 10, 1, 9, tzinfo=timezone.utc), point_id="p", point_label="GradeAssigned p",
                valid_from="2026-11", appraised=1 if grade else 0, grade=grade, care_level=care, wage_fen=600_000,
                wage_ref=ref, birth="1980-05-17", sex="male", closed="", uninsured_on=uninsured,
                sources_care='"a"', sources_allowance='"a"', sources_tail="")


def test_groups_are_the_distinct_of_the_region(db_url: str) -> None:
    db = make_engine(db_url)
    migrate(db, "payments")
    rows, n = [], 0
    for region in (R, OTHER):
        for grade in (None, 1, 2, 4, 10):
            for care in ("none", "full", ""):
                for ref in REFS:
                    for uninsured in ("", "2026-09-01"):
                        for _copy in range(3 if grade == 2 else 1):  # repeated groups come once
                            n += 1
                            if (n % 7) and not (grade is None and care == "full"):
                                rows.append(_row(n, region, grade, care, ref, uninsured))
    with session_factory(db)() as s, s.begin():
        s.execute(insert(claim_inputs), rows)
    with session_factory(db)() as s:
        groups = list(in_database._groups(s, R))
        distinct = {tuple(r) for r in s.execute(text(
            "SELECT DISTINCT grade, care_level, wage_ref, uninsured_on FROM entitlement_claim_inputs "
            "WHERE region = :r"), {"r": R})}
        assert list(in_database._groups(s, "000000")) == []
    assert len(groups) == len(set(groups))
    assert set(groups) == distinct
    assert any(g[0] is None for g in groups) and len(distinct) > 40
    db.dispose()
