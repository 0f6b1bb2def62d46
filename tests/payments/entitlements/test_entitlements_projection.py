"""The entitlements projection on a real payments database: the claims and enrollment topics
interleaved in different orders (and delivered twice) end with the same facts and the same
lines; a reset and replay rebuilds them exactly."""
from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import select

from libs.events.envelope import Envelope
from libs.policy import load_national_default
from services.payments.entitlements.projection import EntitlementsProjection, materialize_through
from services.payments.entitlements.tables import entitlement_lines

T0 = datetime(2026, 1, 20, 9, tzinfo=timezone.utc)


def envelope(type_: str, aggregate_id: str, recorded: str, payload: dict) -> Envelope:
    return Envelope(event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{aggregate_id}/{type_}/{recorded}"), type=type_,
                    schema_version=1, aggregate_type="x", aggregate_id=aggregate_id, sequence=1,
                    occurred_on=date.fromisoformat(recorded[:10]), recorded_at=datetime.fromisoformat(recorded),
                    actor="test", payload=payload)


def streams(region: str) -> tuple[list[Envelope], list[Envelope]]:
    doc = load_national_default().model_dump(mode="json")
    claims = [
        envelope("InjuryApplied", "c9", "2026-01-20T09:00:00+00:00", {
            "claim_id": "c9", "employer_id": "e9", "employee_id": "w9", "region": region, "kind": "accident",
            "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer", "description": "x",
            "birth_date": "1980-05-17", "sex": "male", "employer_late_days": 0}),
        envelope("InjuryRecognized", "c9", "2026-02-01T09:00:00+00:00",
                 {"claim_id": "c9", "decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14"}),
        envelope("InsuredWageDetermined", "c9", "2026-02-01T09:00:01+00:00", {
            "claim_id": "c9", "employee_id": "w9", "average_wage": "6000.00", "insured_wage": "6000.00", "months": [],
            "floor": "4800.00", "cap": "24000.00", "reason": "recognized",
            "policy_ref": {"region": region, "effective_from": "2020-01-01", "version": 1}}),
        envelope("GradeAssigned", "c9", "2026-05-04T09:00:00+00:00", {
            "claim_id": "c9", "grade": 3, "care_level": "partial", "concluded_on": "2026-05-04", "reappraisal": False}),
        envelope("InsuredWageDetermined", "c9", "2026-07-15T09:00:00+00:00", {
            "claim_id": "c9", "employee_id": "w9", "average_wage": "6500.00", "insured_wage": "6500.00", "months": [],
            "floor": "4800.00", "cap": "24000.00", "reason": "wage_corrected",
            "policy_ref": {"region": region, "effective_from": "2020-01-01", "version": 1}}),
    ]
    enrollment = [
        envelope("PolicyPublished", f"policy-{region}", "2020-01-01T00:00:00+00:00",
                 {"region": region, "effective_from": "2020-01-01", "version": 1, "document": doc}),
        envelope("EmployeeEnrolled", "w9", "2025-01-01T00:00:00+00:00", {
            "employee_id": "w9", "employer_id": "e9", "id_number": "x", "name": "x", "birth_date": "1980-05-17",
            "sex": "male", "hired_on": "2025-01-01",
            "bank_account": {"bank_code": "102584000001", "account_no": "6222020200000000009", "holder": "x"}}),
        envelope("PolicyPublished", f"policy-{region}", "2026-08-03T00:00:00+00:00",
                 {"region": region, "effective_from": "2026-06-01", "version": 2,
                  "document": {**doc, "average_monthly_wage": "8400.00"}}),
    ]
    return claims, enrollment


def project(runtime, order: list[Envelope]) -> tuple[str, list]:  # noqa: ANN001
    ctx = runtime.services["payments"].ctx
    projection = EntitlementsProjection()
    with ctx.session_factory() as s, s.begin():
        projection.reset(s)
    for e in order:
        with ctx.session_factory() as s, s.begin():
            projection.handle(s, e)
    with ctx.session_factory() as s:
        rows = s.execute(select(entitlement_lines).where(entitlement_lines.c.claim_id == "c9")
                         .order_by(entitlement_lines.c.line_id)).all()
        return projection.state_hash(s), rows


def test_any_interleaving_and_redelivery_gives_the_same_lines(runtime) -> None:  # noqa: ANN001
    region = "449901"
    claims, enrollment = streams(region)
    reference_hash, reference = project(runtime, enrollment + claims)
    assert reference, "lines were derived"
    # 23 × 6000.00 = 138000.00, then +23 × 500.00 = 11500.00 after the wage correction.
    grants = sorted(r.amount_fen for r in reference if r.kind == "disability_grant")
    assert grants == [1_150_000, 13_800_000]
    assert all(r.bank_code == "102584000001" for r in reference)
    rng = random.Random(11)
    for _ in range(4):
        c, e = claims[:], enrollment[:]
        order = []
        while c or e:  # each topic keeps its own order; the interleaving is random
            source = c if (c and (not e or rng.random() < 0.5)) else e
            order.append(source.pop(0))
        order += rng.sample(order, 3)  # redelivered
        state, rows = project(runtime, order)
        assert [(r.line_id, r.amount_fen) for r in rows] == [(r.line_id, r.amount_fen) for r in reference]
        assert state == reference_hash


def test_materialize_through_a_future_month_for_a_payment_run(runtime) -> None:  # noqa: ANN001
    region = "449902"
    claims, enrollment = streams(region)
    project(runtime, enrollment + claims)
    ctx = runtime.services["payments"].ctx
    now = datetime.now(timezone.utc)
    future = f"{now.year + 1}-03"
    with ctx.session_factory() as s, s.begin():
        materialize_through(s, region, future, now)
    with ctx.session_factory() as s:
        months = set(s.execute(select(entitlement_lines.c.period).where(
            entitlement_lines.c.claim_id == "c9", entitlement_lines.c.kind == "disability_allowance")).scalars())
    assert future in months
    # A replay keeps the run's horizon: the same lines again.
    _, before = project(runtime, enrollment + claims)
    assert future in {r.period for r in before}
