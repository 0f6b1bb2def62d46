"""The fast paths of `materialize_through` (a month added to claims in the steady state) against
the full derivation: a mixed population materialized both ways into two databases ends with
the same rows, to the byte — same line ids, amounts, explanations, reasons, knowledge times.
Both fast paths: the month alone for a claim whose stored state says nothing changed since
(`engine.month_alone`), and the check of the previous month's lines (`engine.month_ahead`) for a
claim without one (the states forgotten before March).

Timeline: facts up to 2027-02-10; both databases materialize at 2027-02-15 (February); facts
learned after that are materialized when learned (as the projection does); then March is
added at 2027-03-02 and April is asked for by a payment run on 2027-03-03."""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select

from libs.db import make_engine, migrate, session_factory
from services.payments.entitlements import engine, grouped, projection
from services.payments.entitlements.engine import Fact, PolicyFact
from services.payments.entitlements.projection import EntitlementsProjection, materialize_claim, materialize_through
from services.payments.entitlements.tables import (accounts, claim_facts, claim_states, employer_facts,
                                                   entitlement_lines, explained_lines, horizons, policies)
from tests.unit.payments.facts import ClaimFacts, at, policy

R, R2 = "440300", "440400"
SILENT = ("silent-death", "silent-reapp")  # their late facts stored without a materialization


def population() -> list[ClaimFacts]:
    claims: list[ClaimFacts] = []

    def graded(cid: str, grade: int, care: str, wage: str, *, concluded: str = "2026-05-04", region: str = R,
               **kw) -> ClaimFacts:
        kw = {"occurred_on": "2026-01-10", "applied_on": "2026-01-20", **kw}
        c = ClaimFacts(cid, region=region, employee_id=f"ee-{cid}", **kw)
        c.recognized("2026-02-01")
        c.wage(wage, "2026-02-01")
        c.grade(grade, concluded, care_level=care)
        claims.append(c)
        return c

    for g, care, wage in ((1, "full", "9000.00"), (2, "mostly", "12345.67"), (3, "partial", "7777.77"),
                          (4, "none", "2400.00"), (4, "full", "3066.67")):
        graded(f"g{g}-{care}", g, care, wage)
    graded("retire-mar", 2, "none", "8000.00", birth_date="1967-03-01")  # 60 on 2027-03-01: no March line
    graded("retire-apr", 1, "partial", "8000.00", birth_date="1967-03-20")  # March paid, April not
    graded("retire-f", 3, "none", "6000.00", birth_date="1972-04-01", sex="female")  # 55 on 2027-04-01
    # Survivors: the cap scales the shares; a child turns 18 on 2027-03-01, another on 2027-04-01.
    s = ClaimFacts("surv", employee_id="ee-surv", kind="death", occurred_on="2026-09-20")
    s.died("2026-09-20", recorded="2026-09-21")
    s.recognized("2026-10-01")
    s.wage("7000.00", "2026-10-01")
    s.dependent(1, "spouse", "1980-01-01", "2026-09-21")
    s.dependent(2, "child", "2009-03-01", "2026-09-21")
    s.dependent(3, "child", "2009-04-01", "2026-09-21")
    s.dependent(4, "parent", "1950-06-01", "2026-09-21", orphan=True)
    s.dependent(5, "child", "2015-01-01", "2026-09-21", qualifies_until="2027-03-31")
    claims.append(s)
    # A re-appraisal concluded in March, recorded in January: the fast path applies it in March.
    c = graded("reapp-ahead", 3, "none", "6500.00")
    c.grade(2, "2027-03-05", care_level="partial", recorded="2027-01-12", reappraisal=True)
    # A re-appraisal recorded late (after February was materialized): adjustments of January and February.
    c = graded("reapp-late", 3, "none", "6500.00")
    c.grade(2, "2027-01-15", recorded="2027-02-20", reappraisal=True)
    # Closed: at the end of February (known in January); on 2027-02-10 (known that day).
    graded("closed-feb", 2, "full", "9000.00").add("ClaimClosed", "2027-01-05", closed_on="2027-02-28")
    graded("closed-new", 2, "full", "9000.00").add("ClaimClosed", "2027-02-10", closed_on="2027-02-10")
    # A death learned in February: survivors from March.
    c = graded("died-feb", 1, "full", "10000.00")
    c.died("2027-02-05", grade_at_death=1, recorded="2027-02-06")
    c.dependent(1, "spouse", "1981-01-01", "2027-02-06")
    # Grade 5 after termination: the employer's allowance; grade 6 terminated on a March date
    # (known in January) with care: the one-off grants fall in March.
    c = graded("g5-term", 5, "none", "3000.00")
    c.terminated("2026-08-10", 5)
    # Grade 5 still employed: suitable work arranged from March (known in January), and a grade 6
    # whose arrangement from January is learned late (February's line taken back).
    c = graded("g5-work", 5, "none", "4000.00")
    c.add("WorkArrangementRecorded", "2027-01-18", arranged=True, effective_from="2027-03-01", grade=5)
    c = graded("g6-work-late", 6, "none", "4000.00")
    c.add("WorkArrangementRecorded", "2027-02-20", arranged=True, effective_from="2027-02-01", grade=6)
    c = graded("g6-term-mar", 6, "partial", "5000.00")
    c.terminated("2027-03-10", 6, recorded="2027-01-20")
    # Uninsured employer (R.62) and a late application (R.17, long past).
    c = graded("uninsured", 3, "partial", "6000.00", employer_id="emp-uninsured")
    c.add("EmployerEnrolled", "2025-01-01", hour=1, employer_id="emp-uninsured", enrolled_on="2026-03-01")
    graded("late", 3, "none", "6000.00", occurred_on="2025-01-10", applied_on="2025-09-10", late_days=212,
           recorded="2025-09-10", concluded="2025-08-01")
    # Treatment leave into April, no grade yet.
    c = ClaimFacts("leave", employee_id="ee-leave", occurred_on="2027-01-10")
    c.recognized("2027-01-12")
    c.wage("6200.00", "2027-01-12")
    c.leave("2027-01-10", "2027-04-15", recorded="2027-01-12")
    claims.append(c)
    # Nothing monthly: rejected, no wage yet, grade 7 only.
    c = ClaimFacts("rejected", employee_id="ee-rej")
    c.add("InjuryRejected", "2026-02-01", decided_on="2026-02-01", reason="x")
    claims.append(c)
    c = ClaimFacts("nowage", employee_id="ee-nowage")
    c.recognized("2026-02-01")
    c.grade(3, "2026-05-04")
    claims.append(c)
    graded("g7", 7, "none", "6000.00")
    # Stored without being materialized (not what the projection does): the check of February's
    # lines sends it to the full derivation.
    graded("unmat", 2, "full", "9000.00")
    # Groups sharing their inputs (wage, grade, care): the month made once for each. One of them
    # retires in April, one's employer was not insured (R.62), one had a treatment leave before its
    # appraisal, one a late application long past, one its employment ended (grade 3: no grants),
    # one is re-appraised in April (known in February), one in another group closed in March.
    for n in range(4):
        graded(f"grp-{n}", 2, "partial", "8000.00")
        graded(f"grp4-{n}", 4, "none", "2400.00", birth_date=f"197{n}-06-01", sex=("male", "female")[n % 2])
    graded("grp-retire", 2, "partial", "8000.00", birth_date="1967-03-20")
    c = graded("grp-uninsured", 2, "partial", "8000.00", employer_id="emp-uninsured-2")
    c.add("EmployerEnrolled", "2025-01-01", hour=1, employer_id="emp-uninsured-2", enrolled_on="2026-03-01")
    graded("grp-leave", 2, "partial", "8000.00").leave("2026-02-01", "2026-04-30", recorded="2026-02-02")
    graded("grp-late", 2, "partial", "8000.00", occurred_on="2025-01-10", applied_on="2025-09-10", late_days=212,
           recorded="2025-09-10")
    graded("grp-term", 3, "partial", "8000.00").terminated("2026-12-31", 3, recorded="2027-01-02")
    graded("grp-reapp", 2, "partial", "8000.00").grade(1, "2027-04-02", care_level="full", recorded="2027-02-11",
                                                       reappraisal=True)
    graded("grp4-closed", 4, "none", "2400.00").add("ClaimClosed", "2027-02-12", closed_on="2027-03-31")
    # Facts stored without being materialized (not what the projection does): a death and a
    # re-appraisal learned after February — their counts send them to their facts.
    c = graded("silent-death", 2, "partial", "8000.00")
    c.died("2027-02-20", grade_at_death=2, recorded="2027-02-25")
    c = graded("silent-reapp", 2, "partial", "8000.00")
    c.grade(1, "2027-02-20", care_level="full", recorded="2027-02-26", reappraisal=True)
    # The other region: a policy published late (after February was materialized) re-indexes January.
    graded("r2-a", 2, "full", "9000.00", region=R2)
    graded("r2-b", 4, "partial", "2500.00", region=R2)
    return claims


POLICIES = [
    policy(R, "2020-01-01", 1, "2020-01-01"),
    # R.40: a re-index effective on March's first day, published in December.
    policy(R, "2027-03-01", 2, "2026-12-01", minimum_monthly_wage="2500.00", average_monthly_wage="8600.00"),
    policy(R2, "2020-01-01", 1, "2020-01-01"),
]
LATE_POLICY = policy(R2, "2027-01-01", 2, "2027-02-25", minimum_monthly_wage="2600.00",
                     average_monthly_wage="8800.00")


def _store_facts(session, facts: list[Fact], region_of: dict[str, str]) -> None:  # noqa: ANN001
    claim_rows = [f for f in facts if f.type not in engine.EMPLOYER_TYPES]
    if claim_rows:
        session.execute(insert(claim_facts), [
            {"claim_id": f.payload["claim_id"], "event_id": f.event_id, "type": f.type,
             "region": region_of[f.payload["claim_id"]] if f.type == "InjuryApplied" else None,
             "recorded_at": f.recorded_at, "occurred_on": f.recorded_at.date(),
             "payload": json.dumps(dict(f.payload), sort_keys=True)} for f in claim_rows])
    for f in facts:
        if f.type in engine.EMPLOYER_TYPES:
            session.execute(insert(employer_facts).values(
                employer_id=f.payload["employer_id"], event_id=f.event_id, type=f.type, recorded_at=f.recorded_at,
                payload=json.dumps(dict(f.payload), sort_keys=True)))


def _store_policy(session, p: PolicyFact) -> None:  # noqa: ANN001
    v = p.version
    session.execute(insert(policies).values(
        region=v.region, version=v.version, effective_from=v.effective_from,
        document=json.dumps(v.document.model_dump(mode="json"), sort_keys=True, ensure_ascii=False),
        event_id=v.event_id, recorded_at=p.recorded_at))


def _full_through(session, region: str, period: str, now: datetime) -> None:  # noqa: ANN001
    """The reference: what materialize_through did before the fast path — every claim in full."""
    if period > engine.month_of(now.date()) and session.execute(select(horizons.c.period).where(
            horizons.c.region == region, horizons.c.period == period)).first() is None:
        session.execute(insert(horizons).values(region=region, period=period, requested_at=now))
    ids = sorted(session.execute(select(claim_facts.c.claim_id).where(
        claim_facts.c.type == "InjuryApplied", claim_facts.c.region == region)).scalars())
    for claim_id in ids:
        materialize_claim(session, claim_id, now)


def _run(url: str, fast: bool, full_calls: list[str], forget_states: bool = False) -> tuple[str, list, list[str]]:
    """A payments database of its own (the service's migrations, nothing else writing to it)."""
    db = make_engine(url)
    migrate(db, "payments")
    sessions = session_factory(db)
    claims = population()
    region_of = {c.claim_id: c.facts[0].payload["region"] for c in claims}
    cut = at("2027-02-15", 0)
    through = materialize_through if fast else _full_through

    with sessions() as s, s.begin():
        for p in POLICIES:
            _store_policy(s, p)
        _store_facts(s, [f for c in claims for f in c.facts if f.recorded_at < cut and c.claim_id != "unmat"],
                     region_of)
        s.execute(insert(accounts).values(payee="employee:ee-g1-full", bank_code="102584000001",
                                          account_no="6222020200000000001", holder="x", recorded_at=at("2026-01-01"),
                                          event_id="acct-1"))
    for region in (R, R2):
        with sessions() as s, s.begin():
            through(s, region, "2027-02", cut)
    # Learned after February was materialized: each materialized when learned, as the projection does.
    late = sorted((f for c in claims for f in c.facts if f.recorded_at >= cut), key=lambda f: f.key)
    for f in late:
        with sessions() as s, s.begin():
            _store_facts(s, [f], region_of)
            if f.payload["claim_id"] not in SILENT:
                materialize_claim(s, f.payload["claim_id"], f.recorded_at)
    with sessions() as s, s.begin():
        _store_policy(s, LATE_POLICY)
        if fast:
            projection.materialize_region(s, R2, LATE_POLICY.recorded_at)
        else:
            _full_through(s, R2, "2027-02", LATE_POLICY.recorded_at)
    with sessions() as s, s.begin():
        _store_facts(s, next(c for c in claims if c.claim_id == "unmat").facts, region_of)
    if forget_states:  # as a database from before the states existed: the previous month is checked
        with sessions() as s, s.begin():
            s.execute(delete(claim_states))
    full_calls.clear()  # from here on: which claims took the full derivation
    for region in (R, R2):
        with sessions() as s, s.begin():
            through(s, region, "2027-03", at("2027-03-02"))
    march_full = full_calls[:]
    with sessions() as s, s.begin():
        through(s, R, "2027-04", at("2027-03-03"))  # a payment run for April, asked for in March
    with sessions() as s:
        rows = s.execute(explained_lines().order_by(entitlement_lines.c.line_id)).all()  # with their texts
        state = EntitlementsProjection().state_hash(s)
    db.dispose()
    return state, rows, march_full


@pytest.fixture
def spy(monkeypatch) -> list[str]:  # noqa: ANN001
    calls: list[str] = []
    real = projection.materialize_claim

    def counted(session, claim_id, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(claim_id)
        return real(session, claim_id, *args, **kw)

    monkeypatch.setattr(projection, "materialize_claim", counted)
    return calls


@pytest.fixture
def groups(monkeypatch) -> list[tuple[str, str]]:  # noqa: ANN001
    """(month, claim) of every claim whose month came from its compact inputs."""
    calls: list[tuple[str, str]] = []
    real = grouped.MonthOfGroups.rows

    def counted(self, inputs, account):  # noqa: ANN001, ANN202
        out = real(self, inputs, account)
        if out is not None:
            calls.append((self.month, inputs.claim))
        return out

    monkeypatch.setattr(grouped.MonthOfGroups, "rows", counted)
    return calls


@pytest.fixture
def alone(monkeypatch) -> list[tuple[str, str]]:  # noqa: ANN001
    """(month, claim) of every claim given its month alone."""
    calls: list[tuple[str, str]] = []
    real = engine.month_alone

    def counted(facts, ahead):  # noqa: ANN001, ANN202
        out = real(facts, ahead)
        calls.append((ahead.month, facts[0].payload["claim_id"]))
        return out

    monkeypatch.setattr(engine, "month_alone", counted)
    return calls


@pytest.fixture
def batches(monkeypatch) -> list[tuple[str, str]]:  # noqa: ANN001
    """(month, claim) of every claim materialized in Python (`_materialize_batch`): the others of
    a region had their month made by the database (`in_database`)."""
    calls: list[tuple[str, str]] = []
    real = projection._materialize_batch

    def counted(session, claim_ids, ahead, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.extend((ahead.month, c) for c in claim_ids)
        return real(session, claim_ids, ahead, *args, **kw)

    monkeypatch.setattr(projection, "_materialize_batch", counted)
    return calls


@pytest.fixture(params=[True, False], ids=["in_database", "in_python"])
def in_database(request, monkeypatch) -> bool:  # noqa: ANN001
    """The untouched claims' month made by the database, or all of it in Python."""
    monkeypatch.setattr(projection, "IN_DATABASE", request.param)
    return request.param


@pytest.fixture(params=["sqlite", "postgres"])
def two_databases(request, tmp_path: Path) -> tuple[str, str]:  # noqa: ANN001
    """Two fresh payments databases (the full derivation's, the fast path's), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'full.db'}", f"sqlite:///{tmp_path / 'fast.db'}"
    server = request.getfixturevalue("postgres")
    tag = uuid.uuid4().hex[:8]
    return server.fresh_database(f"il_fast_{tag}_full"), server.fresh_database(f"il_fast_{tag}_fast")


def test_fast_path_equals_the_full_derivation(two_databases: tuple[str, str], in_database: bool, spy: list[str],
                                              alone: list[tuple[str, str]], groups: list[tuple[str, str]],
                                              batches: list[tuple[str, str]]) -> None:
    full_url, fast_url = two_databases
    full_hash, full_rows, _ = _run(full_url, False, [])
    spy.clear()
    alone.clear()
    groups.clear()
    batches.clear()
    fast_hash, fast_rows, march_full = _run(fast_url, True, spy)
    assert len(full_rows) > 200
    assert fast_rows == full_rows  # every column of every line, its texts included
    assert all(r.texts_id for r in full_rows)  # stored once, pointed at (the same ids: the same texts)
    assert fast_hash == full_hash
    # Every claim materialized in February (when it was stored, or when a fact or a policy came
    # later) was given March and April alone or from its inputs — the re-appraisal, closure, death and policy
    # learned in February, the retirements, closures and children's age limits included; the
    # claim stored without being materialized got its whole ledger in the batch's insert (no
    # stored line to compare: `materialize_claim` was not needed); the claims whose facts were
    # stored without a materialization took the full derivation.
    assert march_full == list(SILENT)
    assert spy[len(march_full):] == []
    everyone = {c.claim_id for c in population()}
    in_r = {c.claim_id for c in population() if c.claim_id[:2] != "r2"}
    # from their inputs: in Python (`grouped`) or, for the claims no batch had, by the database
    by_database = {"2027-03": everyone - {c for m, c in batches if m == "2027-03"},
                   "2027-04": in_r - {c for m, c in batches if m == "2027-04"}}
    if not in_database:
        assert by_database == {"2027-03": set(), "2027-04": set()}
    else:  # the database took every claim the Python groups would have
        assert {c for _m, c in groups} == set()
    march_alone = {c for m, c in alone if m == "2027-03"}
    march_grouped = {c for m, c in groups if m == "2027-03"} | by_database["2027-03"]
    april_grouped = {c for m, c in groups if m == "2027-04"} | by_database["2027-04"]
    assert not march_alone & march_grouped
    assert march_alone | march_grouped == everyone - {"unmat"}
    assert {c for m, c in alone if m == "2027-04"} | april_grouped == in_r
    # From their inputs: every untouched claim whose months need nothing but its wage, grade,
    # care level, birth date, closing and payer — the retirements, the policy version of March,
    # the closures, the uninsured employer, the late policy of the other region included; from
    # its facts: deaths and survivors, grades 5–6, a claim never recognized, an appraisal or a
    # leave still ahead (March; April from the inputs), and the facts stored without a
    # materialization (their counts differ from their inputs').
    from_facts = {"surv", "died-feb", "g5-term", "g5-work", "g6-work-late", "g6-term-mar", "rejected", "leave",
                  "reapp-ahead", "grp-reapp", "unmat", *SILENT}
    assert march_grouped == {c.claim_id for c in population()} - from_facts
    # In April also the claims derived from their facts in March with nothing ahead since.
    assert april_grouped == {c.claim_id for c in population() if c.claim_id[:2] != "r2"} - (
        from_facts - {"reapp-ahead", "unmat", "silent-reapp"})
    _edges_show(full_rows)


def test_checked_fast_path_equals_the_full_derivation(tmp_path: Path, spy: list[str]) -> None:
    """Without the states (as a database from before them): the previous month is checked."""
    full_hash, full_rows, _ = _run(f"sqlite:///{tmp_path / 'full.db'}", False, [])
    spy.clear()
    fast_hash, fast_rows, march_full = _run(f"sqlite:///{tmp_path / 'fast.db'}", True, spy, forget_states=True)
    assert fast_rows == full_rows  # every column of every line
    assert fast_hash == full_hash
    # In March only the claims with stored lines but none in February to check took the full
    # derivation claim by claim (the rejected claim, the one without a wage and the one never
    # materialized have no stored line: their whole ledger went in the batch's insert) — the
    # re-appraisal, closure, death and policy learned in February included, they took the fast
    # path; in April (the states written in March), none. (grp4-1 retired in 2026: no line since;
    # the claims whose facts were stored without a materialization: no February line of theirs
    # is what their facts make now.)
    assert set(march_full) == {"g7", "g5-term", "grp4-1", *SILENT}
    assert spy[len(march_full):] == []
    _edges_show(full_rows)


def _edges_show(full_rows: list) -> None:
    """The edges show in the lines (so the comparisons covered them)."""
    def month(m: str) -> dict:
        return {(r.claim_id, r.kind, r.payee.rsplit("-", 1)[-1] if r.payee.startswith("dependent:") else "worker"):
                r.amount_fen for r in full_rows if r.period == m}

    march, april = month("2027-03"), month("2027-04")
    assert ("retire-mar", "disability_allowance", "worker") not in march
    assert ("retire-apr", "disability_allowance", "worker") in march
    assert ("retire-apr", "disability_allowance", "worker") not in april
    assert ("surv", "survivor_pension", "d2") not in march and ("surv", "survivor_pension", "d3") in march
    assert ("surv", "survivor_pension", "d3") not in april
    assert ("closed-feb", "disability_allowance", "worker") not in march
    assert ("died-feb", "survivor_pension", "d1") in march
    assert ("g6-term-mar", "termination_medical_grant", "worker") in march
    assert ("g6-term-mar", "disability_allowance_5_6", "worker") in march  # employed on 1 March
    assert ("g5-work", "disability_allowance_5_6", "worker") not in march  # suitable work from March
    assert ("g6-work-late", "disability_allowance_5_6", "worker") not in march
    assert ("reapp-ahead", "care_allowance", "worker") in march
    # R.40: March takes version 2 of the region (minimum wage 2500.00 for the topped-up grade 4).
    assert march[("g4-none", "disability_allowance", "worker")] == 250_000
    assert ("reapp-late", "disability_allowance", "worker") in march
    # The grouped claims' edges: retirement in April, closing after March, R.62's payer, the
    # silent death (no March allowance, survivors none registered) and re-appraisal (grade 1 now).
    assert ("grp-retire", "disability_allowance", "worker") in march
    assert ("grp-retire", "disability_allowance", "worker") not in april
    assert ("grp4-closed", "disability_allowance", "worker") in march
    assert ("grp4-closed", "disability_allowance", "worker") not in april
    assert ("silent-death", "disability_allowance", "worker") not in march
    assert march[("silent-reapp", "disability_allowance", "worker")] == 720_000  # 8000.00 × 0.90
    assert march[("grp-1", "disability_allowance", "worker")] == march[("grp-0", "disability_allowance", "worker")]
    assert {r.payer for r in full_rows if r.claim_id == "grp-uninsured" and r.period == "2027-03"} == {"employer"}


def test_fast_path_lines_are_what_the_pure_ledger_derives(tmp_path: Path) -> None:
    """Every stored line, both ways, is a line of engine.ledger over the same facts."""
    _, rows, _ = _run(f"sqlite:///{tmp_path / 'fast.db'}", True, [])
    claims = population()
    pols = [*POLICIES, LATE_POLICY]
    expected: set[str] = set()
    for c in claims:
        requested = [(at("2027-03-03"), "2027-04")] if c.facts[0].payload["region"] == R else []  # R's run only
        expected |= {ln.line_id for ln in engine.ledger(c.facts, pols, at("2027-03-03"), requested)}
    assert {r.line_id for r in rows} == expected


R3 = "440500"


def _no_care_run(url: str, fast: bool) -> list:
    """A region whose claims are owed no care allowance (care level none): the database's month
    has no care line to make and, once the claims keep the month's texts, none to make again."""
    db = make_engine(url)
    migrate(db, "payments")
    sessions = session_factory(db)
    claims = []
    for n, (grade, wage) in enumerate(((1, "9000.00"), (2, "12345.67"), (3, "7777.77"), (4, "2400.00"))):
        c = ClaimFacts(f"nc-{n}", region=R3, employee_id=f"ee-nc-{n}", occurred_on="2026-01-10",
                       applied_on="2026-01-20")
        c.recognized("2026-02-01")
        c.wage(wage, "2026-02-01")
        c.grade(grade, "2026-05-04", care_level="none")
        claims.append(c)
    through = materialize_through if fast else _full_through
    with sessions() as s, s.begin():
        _store_policy(s, policy(R3, "2020-01-01", 1, "2020-01-01"))
        # a re-index from April, known in March: April's texts are made again, May's are not
        _store_policy(s, policy(R3, "2027-04-01", 2, "2027-03-01", minimum_monthly_wage="2500.00"))
        _store_facts(s, [f for c in claims for f in c.facts], {c.claim_id: R3 for c in claims})
    for period, now in (("2027-02", at("2027-02-15", 0)), ("2027-03", at("2027-03-02")),
                        ("2027-04", at("2027-03-20")), ("2027-05", at("2027-04-20"))):
        with sessions() as s, s.begin():
            through(s, R3, period, now)
    with sessions() as s:
        rows = s.execute(explained_lines().order_by(entitlement_lines.c.line_id)).all()
    db.dispose()
    return rows


def test_database_month_without_care_equals_the_full_derivation(two_databases: tuple[str, str],
                                                                batches: list[tuple[str, str]]) -> None:
    full_url, fast_url = two_databases
    full_rows = _no_care_run(full_url, False)
    batches.clear()
    fast_rows = _no_care_run(fast_url, True)
    assert fast_rows == full_rows  # every column of every line, its texts included
    months = {r.period for r in full_rows if r.kind == "disability_allowance"}
    assert {"2027-03", "2027-04", "2027-05"} <= months
    assert not any(r.kind == "care_allowance" for r in full_rows)
    # March in Python (the re-index learned since February); April (its texts made again: the
    # re-index's) and May (the texts kept: no pass for them) by the database
    assert {c for m, c in batches if m == "2027-03"} == {"nc-0", "nc-1", "nc-2", "nc-3"}
    assert not {c for m, c in batches if m in ("2027-04", "2027-05")}
    april = {r.claim_id: r.amount_fen for r in full_rows if r.period == "2027-04" and r.kind == "disability_allowance"}
    assert april["nc-3"] == 250_000  # grade 4 topped up to April's minimum wage
