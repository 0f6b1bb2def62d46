"""Two consumers of the entitlements group at once on PostgreSQL (their partitions hold facts
of one region: a claim's events on one, a back-dated policy on another) end with the same lines
as one consumer taking the events in turn."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from libs.db import make_engine, migrate, session_factory, writing
from services.payments.entitlements import projection as entitlements
from services.payments.entitlements.tables import entitlement_lines

from .test_entitlements_projection import streams

pytestmark = pytest.mark.postgres


def fresh_payments(postgres):  # noqa: ANN001, ANN201
    engine = make_engine(postgres.fresh_database(f"il_ent_{uuid.uuid4().hex[:8]}"))
    migrate(engine, "payments")
    return engine, session_factory(engine)


def project(sessions, envelopes) -> None:  # noqa: ANN001
    with writing(sessions) as s:
        entitlements.EntitlementsProjection().handle_batch(s, envelopes)


def lines(sessions) -> list[tuple]:  # noqa: ANN001
    with sessions() as s:
        return [tuple(r) for r in s.execute(select(entitlement_lines.c.line_id, entitlement_lines.c.amount_fen)
                                            .order_by(entitlement_lines.c.line_id))]


def test_two_consumers_at_once_derive_what_one_derives_in_turn(postgres, monkeypatch) -> None:  # noqa: ANN001
    region = "449903"
    claims, enrollment = streams(region)
    setup, late_policy = enrollment[:2], enrollment[2:]  # the back-dated policy arrives beside the claim

    engine_a, in_turn = fresh_payments(postgres)
    for batch in (setup, claims, late_policy):
        project(in_turn, batch)
    expected = lines(in_turn)
    with in_turn() as s:  # the late policy re-indexed the care allowance: adjustment lines exist
        reasons = s.execute(select(entitlement_lines.c.reason).where(entitlement_lines.c.kind == "care_allowance")
                            .where(entitlement_lines.c.adjusts.is_not(None))).scalars().all()
    assert reasons

    engine_b, at_once = fresh_payments(postgres)
    project(at_once, setup)
    both_hold_their_facts = threading.Barrier(2, timeout=30)
    real_lock = entitlements.lock_regions

    def lock_after_both_wrote(session, regions) -> None:  # noqa: ANN001
        both_hold_their_facts.wait()  # each has written its facts, uncommitted, before either derives
        real_lock(session, regions)

    monkeypatch.setattr(entitlements, "lock_regions", lock_after_both_wrote)
    errors: list[BaseException] = []

    def consumer(batch) -> None:  # noqa: ANN001
        try:
            project(at_once, batch)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=consumer, args=(b,)) for b in (claims, late_policy)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lines(at_once) == expected  # the policy's adjustment lines are there: no derivation missed the other
    engine_a.dispose()
    engine_b.dispose()
