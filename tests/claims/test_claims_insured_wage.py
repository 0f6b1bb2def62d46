"""The insured wage (R.64) from the levy service's wage reports, with worked figures.

The levy service's WageReported events are published here on the log in the form of
docs/events.md (topic `injuryledger.levy`), as the levy service will: the claims service reads
them through its real consumer into its real database. Region 440300 has no policy of its own,
so the national default applies: average monthly wage 8000.00, floor 4800.00, cap 24000.00.
"""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from libs.events.envelope import Envelope, utc_now
from libs.events.log import Record
from libs.identifiers import make_id_number, make_uscc
from services.claims.tables import wages

USCC = make_uscc("91440300MA5FWAG1")
WORKER = make_id_number("440304", date(1988, 8, 8), 5)
PERIODS = ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]  # 7 months


def ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


class Levy:
    """Writes WageReported events on the log as the levy service does, one aggregate per
    employer and period (key = aggregate id, sequence from 1)."""

    def __init__(self, runtime, employer_id: str) -> None:  # noqa: ANN001
        self.runtime, self.employer_id = runtime, employer_id
        self.sequences: dict[str, int] = {}
        self.last_report: dict[str, str] = {}

    def envelope(self, period: str, lines: list[tuple[str, str]], correction: bool = False) -> Envelope:
        seq = self.sequences.get(period, 0) + 1
        self.sequences[period] = seq
        report_id = f"wr_{uuid.uuid4().hex[:16]}"
        correction_of = self.last_report.get(period) if correction else None
        self.last_report[period] = report_id
        payroll = sum((Decimal(w) for _, w in lines), Decimal("0"))
        return Envelope(
            event_id=uuid.uuid4(), type="WageReported", schema_version=1, aggregate_type="wage_report",
            aggregate_id=f"wages-{self.employer_id}-{period}", sequence=seq, occurred_on=date(2026, 3, 20),
            recorded_at=utc_now(), actor="test-levy",
            payload={"report_id": report_id, "employer_id": self.employer_id, "region": "440300", "period": period,
                     "lines": [{"employee_id": e, "wage": w} for e, w in lines], "payroll": str(payroll),
                     "rate": "0.0090", "contribution_due": "0.00", "due_date": "2026-04-15",
                     "correction_of": correction_of, "delta_due": "0.00",
                     "policy_ref": {"region": "000000", "effective_from": "2020-01-01", "version": 1}})

    def publish(self, *envelopes: Envelope) -> None:
        self.runtime.log.publish([Record(topic=self.runtime.topics.of("levy"), key=e.aggregate_id.encode(),
                                         value=e.to_json()) for e in envelopes])
        self.runtime.pump()

    def report(self, period: str, lines: list[tuple[str, str]], correction: bool = False) -> Envelope:
        e = self.envelope(period, lines, correction)
        self.publish(e)
        return e


def setup(api, runtime) -> tuple[dict, Levy]:  # noqa: ANN001
    employer = ok(api.post("/v1/employers", json={"uscc": USCC, "name": "深圳工资测试有限公司", "industry_code": "E4700",
                                                  "region": "440300", "enrolled_on": "2025-01-01"}), 201)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees",
                         json={"id_number": WORKER, "name": "赵六", "hired_on": "2025-08-01"}), 201)
    world = {"employer_id": employer["employer_id"], "employee_id": worker["employee_id"]}
    return world, Levy(runtime, employer["employer_id"])


def recognized_claim(api, world: dict) -> str:  # noqa: ANN001
    claim_id = ok(api.post("/v1/claims", json={**world, "kind": "accident", "occurred_on": "2026-03-02",
                                               "applied_on": "2026-03-05", "applicant": "employer"}), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{claim_id}/recognition", json={"decision": "recognized", "decided_on": "2026-04-01"}))
    return claim_id


def wage_events(api, claim_id: str) -> list[dict]:  # noqa: ANN001
    trail = ok(api.get("/v1/events", params={"aggregate_id": claim_id}))["items"]
    return [e["payload"] for e in trail if e["type"] == "InsuredWageDetermined"]


def test_seven_months_insured_average_seven_then_a_correction_rederives_once(api, runtime) -> None:  # noqa: ANN001
    world, levy = setup(api, runtime)
    me = world["employee_id"]
    for period in PERIODS[:-1]:
        levy.report(period, [(me, "9000.00"), ("ee_someone_else", "100000.00")])
    levy.report("2026-02", [(me, "10000.01")])
    levy.report("2026-03", [(me, "50000.00")])  # the injury month: not used
    claim_id = recognized_claim(api, world)

    (first,) = wage_events(api, claim_id)
    # (6 × 9000.00 + 10000.01) / 7 = 9142.858571… → 9142.86
    assert first["insured_wage"] == "9142.86" and first["average_wage"] == "9142.86"
    assert [m["period"] for m in first["months"]] == PERIODS and first["reason"] == "recognized"
    assert (first["floor"], first["cap"]) == ("4800.00", "24000.00")
    assert first["derivation"].startswith("average of 7 months")

    correction = levy.report("2026-02", [(me, "9000.00")], correction=True)  # replaces 10000.01
    second = wage_events(api, claim_id)[-1]
    assert second["reason"] == "wage_corrected" and second["insured_wage"] == "9000.00"
    shown = ok(api.get(f"/v1/claims/{claim_id}"))
    assert shown["insured_wage"]["insured_wage"] == "9000.00" and len(shown["insured_wage_history"]) == 2

    levy.publish(correction)  # the same event delivered again: skipped by its id
    again = levy.envelope("2026-02", [(me, "9000.00")], correction=True)  # a new report, same figures
    levy.publish(again)
    assert len(wage_events(api, claim_id)) == 2  # the figure did not change: nothing emitted

    with runtime.services["claims"].ctx.session_factory() as s:
        rows = s.execute(select(wages.c.period, wages.c.wage_fen).where(
            wages.c.employee_id == me, wages.c.period == "2026-02")).all()
    assert rows == [("2026-02", 900000)]  # the correction replaced the report, not added to it


def test_floor_and_cap_with_worked_figures(api, runtime) -> None:  # noqa: ANN001
    world, levy = setup(api, runtime)
    me = world["employee_id"]
    for period in PERIODS:
        levy.report(period, [(me, "3000.00")])
    claim_id = recognized_claim(api, world)
    assert wage_events(api, claim_id)[-1]["insured_wage"] == "4800.00"  # 3000 → the floor
    assert "floor" in wage_events(api, claim_id)[-1]["derivation"]
    for period in PERIODS:
        levy.report(period, [(me, "30000.00")], correction=True)
    last = wage_events(api, claim_id)[-1]
    assert last["insured_wage"] == "24000.00" and last["average_wage"] == "30000.00"  # → the cap
    assert last["reason"] == "wage_corrected"
    # each correction moves the average: k months at 30000.00 and 7 − k at 3000.00 average
    # (30000k + 3000(7 − k)) / 7: k=1 48000/7 = 6857.14, k=2 10714.29, k=3 14571.43,
    # k=4 18428.57, k=5 22285.71, then the cap (k=6: average 183000/7 = 26142.86, k=7: 30000.00).
    # The figure stays 24000.00 for k=6 and 7, but the derivation changed: recorded again.
    figures = [(w["insured_wage"], w["average_wage"]) for w in wage_events(api, claim_id)]
    assert figures == [("4800.00", "3000.00"), ("6857.14", "6857.14"), ("10714.29", "10714.29"),
                       ("14571.43", "14571.43"), ("18428.57", "18428.57"), ("22285.71", "22285.71"),
                       ("24000.00", "26142.86"), ("24000.00", "30000.00")]
    emitted = len(figures)

    # a replay of every claims projection from the start of the log emits nothing again and
    # rebuilds the same rows
    ctx = runtime.services["claims"].ctx
    for runner in runtime.services["claims"].runners:
        with ctx.session_factory() as s:
            before = runner.projector.state_hash(s)
        runner.replay()
        runner.run_until_idle()
        with ctx.session_factory() as s:
            assert runner.projector.state_hash(s) == before, runner.group
    runtime.pump()
    assert len(wage_events(api, claim_id)) == emitted


def test_wages_projection_is_order_insensitive_and_replays_the_same(api, runtime) -> None:  # noqa: ANN001
    world, levy = setup(api, runtime)
    me = world["employee_id"]
    original = levy.envelope("2026-01", [(me, "7000.00")])
    correction = levy.envelope("2026-01", [(me, "7500.00")], correction=True)
    levy.publish(correction, original)  # the correction first
    ctx = runtime.services["claims"].ctx
    with ctx.session_factory() as s:
        assert s.execute(select(wages.c.wage_fen).where(wages.c.employee_id == me)).scalars().all() == [750000]
    runner = next(r for r in runtime.services["claims"].runners if r.projector.name == "wages")
    with ctx.session_factory() as s:
        before = runner.projector.state_hash(s)
    runner.replay()
    runner.run_until_idle()
    with ctx.session_factory() as s:
        assert runner.projector.state_hash(s) == before


def test_wage_reports_through_the_levy_api(api, runtime) -> None:  # noqa: ANN001
    """End to end with the levy service itself: reported wages become the insured wage."""
    world, _ = setup(api, runtime)
    probe = api.post("/v1/wage-reports", json={})
    if probe.status_code in (404, 405):
        pytest.skip("the levy service's POST /v1/wage-reports has not landed yet")
    for period in PERIODS:
        r = api.post("/v1/wage-reports", json={"employer_id": world["employer_id"], "period": period,
                                               "lines": [{"id_number": WORKER, "wage": "9500.00"}]})
        assert r.status_code == 201, r.text
    claim_id = recognized_claim(api, world)
    (wage,) = wage_events(api, claim_id)
    assert wage["insured_wage"] == "9500.00" and [m["period"] for m in wage["months"]] == PERIODS
    r = api.post("/v1/wage-reports", json={"employer_id": world["employer_id"], "period": "2026-02",
                                           "lines": [{"id_number": WORKER, "wage": "2500.00"}]})
    assert r.status_code == 201, r.text  # a second report for the period: a correction
    last = wage_events(api, claim_id)[-1]
    # (6 × 9500.00 + 2500.00) / 7 = 59500.00 / 7 = 8500.00
    assert last["reason"] == "wage_corrected" and last["insured_wage"] == "8500.00"
