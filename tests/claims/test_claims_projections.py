"""The claims service's projection of enrollment is order-insensitive and idempotent: the same
facts in any order (and twice) give the same rows, on the service's real database."""
from __future__ import annotations

import itertools
import uuid
from datetime import date

from libs.events.envelope import Envelope, utc_now
from services.claims.handlers import employed_on
from services.claims.projections import ClaimsEnrollmentProjection


def event(type_: str, aggregate_id: str, sequence: int, payload: dict) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), type=type_, schema_version=1, aggregate_type="x",
                    aggregate_id=aggregate_id, sequence=sequence, occurred_on=date(2026, 1, 1),
                    recorded_at=utc_now(), actor="t", payload=payload)


EVENTS = [
    event("EmployerEnrolled", "er_1", 1, {"employer_id": "er_1", "region": "440300", "name": "A",
                                          "enrolled_on": "2025-01-01"}),
    event("EmployerChanged", "er_1", 2, {"employer_id": "er_1", "region": "440304", "name": "A2",
                                         "status": "active", "changed_on": "2025-06-01"}),
    event("EmployeeEnrolled", "ee_1", 1, {"employee_id": "ee_1", "employer_id": "er_1", "birth_date": "1990-03-07",
                                          "sex": "male", "hired_on": "2025-02-01"}),
    event("EmployeeSeparated", "ee_1", 2, {"employee_id": "ee_1", "employer_id": "er_1",
                                           "separated_on": "2025-08-31"}),
    event("EmployeeEnrolled", "ee_1", 3, {"employee_id": "ee_1", "employer_id": "er_1", "birth_date": "1990-03-07",
                                          "sex": "male", "hired_on": "2025-10-01"}),
]


def test_any_order_twice_gives_the_same_rows(runtime) -> None:  # noqa: ANN001
    ctx = runtime.services["claims"].ctx
    projection = ClaimsEnrollmentProjection()
    hashes = set()
    for order in itertools.islice(itertools.permutations(EVENTS), 0, None, 17):  # 8 of the 120 orders
        with ctx.session_factory() as s, s.begin():
            projection.reset(s)
            for e in order + order:
                projection.handle(s, e)
            hashes.add(projection.state_hash(s))
            assert [employed_on(s, "ee_1", "er_1", date.fromisoformat(d)) for d in
                    ("2025-01-31", "2025-02-01", "2025-08-31", "2025-09-01", "2025-10-01")] == [
                False, True, True, False, True]
    assert len(hashes) == 1
