"""Going live, as a property of the derivation (MIGRATION.md): for any migrated claim — any
grade and care level, terminated or not, a death with its dependents registered later, the one-off
grants paid or not — the first payment run after going live (the month after `paid_through`) pays
exactly one month of each recurring benefit and none of the one-off grants marked paid; what the
old system paid is settled outside the ledger, and nothing owed is left out.

The claim is made by the claims aggregate itself (as the `claims` and `dependents` imports make
it), its events become the entitlements' facts, and the ledger is walked to the run."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.events.registry import REGISTRY
from libs.events.source import Source
from libs.policy import PolicyVersion, load_national_default
from services.claims.domain.events import BankAccount, InjuryApplied, InsuredWageDetermined, PolicyRef
from services.claims.domain.model import Claim, NewDependent
from services.payments.entitlements.engine import MONTHLY, Fact, PolicyFact, derive, ledger, month_of

DOC = load_national_default()
NATIONAL = PolicyFact(PolicyVersion("000000", date(2015, 10, 1), 1, DOC, "policy-000000-1"),
                      datetime(2015, 10, 1, tzinfo=timezone.utc))
REF = PolicyRef(region="000000", effective_from=date(2015, 10, 1), version=1)
ACCOUNT = BankAccount(bank_code="102584000001", account_no="6222020200000000001", holder="family")


def first_of(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def previous(month: str) -> str:
    return month_of(first_of(month) - timedelta(days=1))


@st.composite
def legacy_claims(draw):  # noqa: ANN001, ANN201 - a hypothesis strategy
    go_live = draw(st.sampled_from([f"{y}-{m:02d}" for y in (2024, 2025, 2026, 2027) for m in range(1, 13)]))
    paid_through = previous(go_live)
    horizon = first_of(go_live) - timedelta(days=1)  # the last day the old system paid for
    occurred_on = draw(st.dates(date(2016, 1, 1), horizon - timedelta(days=500)))
    born = occurred_on - timedelta(days=draw(st.integers(20 * 365, 50 * 365)))
    grade = draw(st.none() | st.integers(1, 10))
    care = draw(st.sampled_from(["none", "partial", "mostly", "full"]))
    concluded_on = occurred_on + timedelta(days=draw(st.integers(60, 400)))
    terminated_on = None
    if grade is not None and grade >= 5 and draw(st.booleans()):
        terminated_on = concluded_on + timedelta(days=draw(st.integers(1, 60)))
    died_on = None
    if draw(st.booleans()):
        latest = max(concluded_on, terminated_on or concluded_on)
        died_on = latest + timedelta(days=draw(st.integers(1, max(1, (horizon - latest).days))))
        died_on = min(died_on, horizon)
    dependents = []
    if died_on is not None:
        relations = draw(st.lists(st.sampled_from(["spouse", "child", "parent"]), max_size=3))
        relations = ["spouse"] * ("spouse" in relations) + [r for r in relations if r != "spouse"]
        for i, relation in enumerate(relations):
            age = draw(st.integers(1, 17)) if relation == "child" else draw(st.integers(30, 80))
            dependents.append(NewDependent(f"id-{i}", f"dependent {i}", relation,
                                           first_of(go_live) - timedelta(days=365 * age + i), draw(st.booleans()),
                                           ACCOUNT))
    return {"go_live": go_live, "paid_through": paid_through, "occurred_on": occurred_on, "born": born,
            "sex": draw(st.sampled_from(["male", "female"])), "grade": grade, "care": care,
            "concluded_on": concluded_on, "terminated_on": terminated_on, "died_on": died_on,
            "dependents": dependents, "one_off_paid": draw(st.booleans()),
            "insured_wage": Decimal(draw(st.integers(300_000, 3_000_000))) / 100}


def migrated(c: dict) -> tuple[list[Fact], datetime]:
    """The claim as the imports record it: its state in one moment, its dependents in a later one
    (their own file); every event with its source. Returns the facts and the run's moment."""
    go_live = datetime.combine(first_of(c["go_live"]) + timedelta(days=9), time(9), tzinfo=timezone.utc)
    claim_src = Source(import_id="imp_claims_0000000000000001", kind="claims", row=2, legacy_id="C1")
    claim = Claim.apply_for("c1", InjuryApplied(
        claim_id="c1", employer_id="er-1", employee_id="ee-1", region="440300", kind="accident",
        occurred_on=c["occurred_on"], applied_on=c["occurred_on"], applicant="employer", description="",
        birth_date=c["born"], sex=c["sex"], employer_late_days=0, policy_ref=REF, source=claim_src))
    with claim.sourced(claim_src):
        claim.decide("recognized", c["occurred_on"] + timedelta(days=20), "migrated", 60)
        wage = c["insured_wage"]
        claim.determine_insured_wage(InsuredWageDetermined(
            claim_id="c1", employee_id="ee-1", average_wage=wage, insured_wage=wage, months=[], floor=wage,
            cap=wage, policy_ref=REF, reason="legacy"))
        claim.appraise(c["grade"], c["care"], c["concluded_on"], 12)
        if c["terminated_on"]:
            claim.terminate(c["terminated_on"])
        if c["died_on"]:
            claim.die(c["died_on"], [], 18)
        claim.record_legacy_payments(c["paid_through"], c["one_off_paid"], go_live.date())
    facts = _facts(claim, go_live)
    for i, d in enumerate(c["dependents"]):
        with claim.sourced(Source(import_id="imp_dependents_0000000000000001", kind="dependents", row=i + 2,
                                  legacy_id=f"D{i}")):
            claim.register_dependent(d, 18)
    facts += _facts(claim, go_live + timedelta(hours=1))
    return facts, go_live + timedelta(hours=2)


def _facts(claim: Claim, recorded_at: datetime) -> list[Fact]:
    out = []
    for p in claim.pending:
        payload = p.payload.model_dump(mode="json")
        assert REGISTRY.latest_version(p.type) >= 1 and payload.get("source"), "every migrated event names its row"
        out.append(Fact(f"e{recorded_at:%H}-{len(out):03d}-{p.type}", p.type, recorded_at, payload))
    claim.pending.clear()
    return out


def sums(items) -> dict:  # noqa: ANN001
    out: dict = defaultdict(Decimal)
    for key, amount in items:
        out[key] += amount
    return {k: v for k, v in out.items() if v}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_claims())
def test_the_first_run_after_going_live_pays_one_month_and_no_grant_marked_paid(c: dict) -> None:
    facts, run_at = migrated(c)
    month = c["go_live"]
    lines = ledger(facts, [NATIONAL], now=run_at, horizons=[(run_at, month)])
    owed = derive(facts, [NATIONAL], month)

    # what the run of the go-live month takes: the fund's lines no payout holds and the old
    # system did not pay (every line here is new: nothing was paid on the ledger yet)
    taken = [ln for ln in lines if ln.payer == "fund" and ln.month <= month and ln.settled_outside is None]
    monthly = sums((ln.key, ln.amount) for ln in taken if ln.kind in MONTHLY)
    assert monthly == sums((d.key, d.calc.amount) for d in owed
                           if d.kind in MONTHLY and d.payer == "fund" and d.month == month)
    one_off = sums((ln.key, ln.amount) for ln in taken if ln.kind not in MONTHLY)
    if c["one_off_paid"]:
        assert one_off == {}
    else:
        assert one_off == sums((d.key, d.calc.amount) for d in owed if d.kind not in MONTHLY and d.payer == "fund")

    # none forgotten, none twice: every key sums to what is owed, settled outside or not
    assert sums((ln.key, ln.amount) for ln in lines) == sums((d.key, d.calc.amount) for d in owed)
    # and the old system is credited only with months up to paid_through
    assert all(ln.month <= c["paid_through"] for ln in lines if ln.settled_outside and ln.kind in MONTHLY)

    # a re-derivation holding some of the lines already (the dependents' import holds the claim's)
    # makes the same lines: the held ones abridged, the others exactly
    held = {ln.line_id for ln in lines[::2]}
    again = ledger(facts, [NATIONAL], now=run_at, horizons=[(run_at, month)], held=held)
    assert [(ln.line_id, ln.key, ln.amount, ln.adjusts) for ln in again] == [
        (ln.line_id, ln.key, ln.amount, ln.adjusts) for ln in lines]
    assert [ln for ln in again if ln.line_id not in held] == [ln for ln in lines if ln.line_id not in held]
