"""The documents projection issues the same documents, with the same bytes, whatever order its
three topics arrive in (each topic's own order kept), and once however often they are redelivered."""
from __future__ import annotations

import itertools
import uuid
from datetime import date

from sqlalchemy import select

from libs.events.envelope import Envelope, utc_now
from services.claims.documents.projection import DocumentsProjection
from services.claims.documents.tables import claim_documents


def event(type_: str, aggregate_id: str, sequence: int, payload: dict) -> Envelope:
    return Envelope(event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{type_}/{aggregate_id}/{sequence}"), type=type_,
                    schema_version=1, aggregate_type="x", aggregate_id=aggregate_id, sequence=sequence,
                    occurred_on=date(2026, 1, 1), recorded_at=utc_now(), actor="t", payload=payload)


ENROLLMENT = [
    event("EmployerEnrolled", "er_1", 1, {"employer_id": "er_1", "name": "珠江五金"}),
    event("EmployeeEnrolled", "ee_1", 1, {"employee_id": "ee_1", "employer_id": "er_1", "name": "李雷"}),
]
CLAIMS = [
    event("InjuryApplied", "c1", 1, {"claim_id": "c1", "employer_id": "er_1", "employee_id": "ee_1", "region": "440300",
                                     "kind": "accident", "occurred_on": "2026-01-10", "applied_on": "2026-01-20",
                                     "description": "压伤"}),
    event("InjuryRecognized", "c1", 2, {"claim_id": "c1", "decision": "recognized", "decided_on": "2026-02-01",
                                        "basis": "R.14"}),
    event("InsuredWageDetermined", "c1", 3, {"claim_id": "c1", "insured_wage": "9000.00"}),
    event("GradeAssigned", "c1", 4, {"claim_id": "c1", "grade": 3, "care_level": "partial",
                                     "concluded_on": "2026-05-04", "reappraisal": False}),
    event("InsuredWageDetermined", "c1", 5, {"claim_id": "c1", "insured_wage": "9500.00"}),  # a later correction
    event("AppealLodged", "c1", 6, {"claim_id": "c1", "appeal_id": "c1-a1", "subject": "appraisal",
                                    "route": "appraisal_committee", "lodged_on": "2026-05-10", "lodged_by": "worker",
                                    "disputed_on": "2026-05-04", "disputed_grade": 3, "disputed_care_level": "partial"}),
    event("AppealDecided", "c1", 7, {"claim_id": "c1", "appeal_id": "c1-a1", "subject": "appraisal",
                                     "route": "appraisal_committee", "outcome": "modified", "decided_on": "2026-06-01",
                                     "replaces_from": "2026-05-04", "grade": 2, "care_level": "mostly"}),
]
PAYMENTS = [
    event("PayoutSettled", "po_1", 1, {"payout_id": "po_1", "run_id": "run_1", "settled_on": "2026-07-02",
                                       "amount": "9600.00", "lines": [
                                           {"line_id": "l1", "claim_id": "c1", "kind": "disability_allowance",
                                            "amount": "7200.00"},
                                           {"line_id": "l2", "claim_id": "c1", "kind": "care_allowance",
                                            "amount": "2400.00"}]}),
]


def interleavings(*streams: list) -> list[list]:
    """Some of the ways to merge the streams, each stream's own order kept."""
    out = []
    labels = [i for i, s in enumerate(streams) for _ in s]
    for pattern in sorted(set(itertools.permutations(labels)))[::7]:
        cursors = [0] * len(streams)
        merged = []
        for i in pattern:
            merged.append(streams[i][cursors[i]])
            cursors[i] += 1
        out.append(merged)
    return out


def test_any_interleaving_twice_issues_the_same_documents(runtime) -> None:  # noqa: ANN001
    ctx = runtime.services["claims"].ctx
    projection = DocumentsProjection()
    seen = set()
    orders = interleavings(ENROLLMENT, CLAIMS, PAYMENTS)
    assert len(orders) >= 5
    for order in orders:
        with ctx.session_factory() as s, s.begin():
            projection.reset(s)
            for e in order + order:
                projection.handle(s, e)
            rows = s.execute(select(claim_documents.c.kind, claim_documents.c.sha256, claim_documents.c.facts_json)
                             .order_by(claim_documents.c.kind)).all()
            seen.add((projection.state_hash(s), tuple((r.kind, r.sha256) for r in rows)))
            assert [r.kind for r in rows] == ["appeal_decision", "appraisal", "payment_advice", "recognition"]
            assert '"disputed_grade": 3' in rows[0].facts_json and '"grade": 2' in rows[0].facts_json
            assert '"insured_wage": "9000.00"' in rows[1].facts_json  # as it stood at the conclusion
    assert len(seen) == 1
