"""The claim's state machine: every transition allowed and refused, and the rules it checks."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Callable

import pytest

from libs.events.envelope import Envelope, new_event_id, utc_now
from services.claims.domain.events import InjuryApplied, InsuredWageDetermined, PolicyRef, WageMonth
from services.claims.domain.model import Claim, InvalidField, NewDependent, WrongState

INJURY = date(2026, 3, 2)
LEAVE_STD, LEAVE_EXT, REAPPRAISAL, CHILD_LIMIT, APPRAISAL_DAYS = 12, 12, 12, 18, 60


def applied(kind: str = "accident") -> Claim:
    return Claim.apply_for("clm_1", InjuryApplied(
        claim_id="clm_1", employer_id="emp_1", employee_id="ee_1", region="440300", kind=kind,
        occurred_on=INJURY, applied_on=date(2026, 3, 10), applicant="employer", description="fall",
        birth_date=date(1990, 5, 1), sex="male", employer_late_days=0, decision_due_on=date(2026, 5, 9)))


def recognized() -> Claim:
    c = applied()
    c.decide("recognized", date(2026, 4, 1), "R.14(1)", APPRAISAL_DAYS)
    return c


def deemed() -> Claim:
    c = applied()
    c.decide("deemed", date(2026, 4, 1), "R.15(1)", APPRAISAL_DAYS)
    return c


def rejected() -> Claim:
    c = applied()
    c.decide("rejected", date(2026, 4, 1), "R.16(2)", APPRAISAL_DAYS)
    return c


def on_leave() -> Claim:
    c = recognized()
    c.grant_treatment_leave(date(2026, 3, 2), date(2026, 9, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    return c


def appraised(grade: int | None = 7) -> Claim:
    c = on_leave()
    c.appraise(grade, "none", date(2026, 10, 15), REAPPRAISAL)
    return c


def terminated() -> Claim:
    c = appraised(7)
    c.terminate(date(2026, 11, 1))
    return c


def deceased() -> Claim:
    c = appraised(3)
    c.die(date(2027, 1, 5), [], CHILD_LIMIT)
    return c


def closed() -> Claim:
    c = rejected()
    c.close(date(2026, 5, 1), "rejected, no appeal")
    return c


STATES: dict[str, Callable[[], Claim]] = {
    "applied": applied, "recognized": recognized, "deemed": deemed, "rejected": rejected,
    "on_treatment_leave": on_leave, "appraised": appraised, "terminated": terminated,
    "deceased": deceased, "closed": closed,
}

COMMANDS: dict[str, Callable[[Claim], None]] = {
    "decide": lambda c: c.decide("recognized", date(2027, 6, 1), "b", APPRAISAL_DAYS),
    "leave": lambda c: c.grant_treatment_leave(
        (c.history.leaves[-1].end + timedelta(days=1)) if c.history.leaves else INJURY,
        (c.history.leaves[-1].end + timedelta(days=30)) if c.history.leaves else date(2026, 6, 1),
        LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS),
    "appraise": lambda c: c.appraise(6, "partial", date(2028, 1, 1), REAPPRAISAL),
    "terminate": lambda c: c.terminate(date(2028, 1, 1)),
    "die": lambda c: c.die(date(2028, 1, 1), [], CHILD_LIMIT),
    "close": lambda c: c.close(date(2028, 1, 1), "done"),
}

ALLOWED = {
    "applied": {"decide", "die"},
    "recognized": {"leave", "appraise", "die", "close"},
    "deemed": {"leave", "appraise", "die", "close"},
    "rejected": {"close"},
    "on_treatment_leave": {"leave", "appraise", "die", "close"},
    "appraised": {"appraise", "terminate", "die", "close"},  # grade 7: termination allowed
    "terminated": {"die", "close"},
    "deceased": {"close"},
    "closed": set(),
}

AFTER = {"decide": "recognized", "leave": "on_treatment_leave", "appraise": "appraised",
         "terminate": "terminated", "die": "deceased", "close": "closed"}


@pytest.mark.parametrize("state, command", [(s, c) for s in STATES for c in COMMANDS])
def test_transition(state: str, command: str) -> None:
    claim = STATES[state]()
    assert claim.status == state
    before = claim.version
    if command in ALLOWED[state]:
        COMMANDS[command](claim)
        # a death before the decision leaves the claim to be decided
        assert claim.status == ("applied" if (state, command) == ("applied", "die") else AFTER[command])
        assert claim.version > before
    else:
        with pytest.raises(WrongState) as refused:
            COMMANDS[command](claim)
        assert refused.value.status == state and state in refused.value.detail
        assert claim.version == before and claim.status == state


def test_rehydrate_rebuilds_the_same_state() -> None:
    claim = terminated()
    envelopes = [
        Envelope(event_id=new_event_id(), type=p.type, schema_version=1, aggregate_type="claim",
                 aggregate_id=claim.id, sequence=i, occurred_on=p.occurred_on, recorded_at=utc_now(),
                 actor="t", payload=p.payload.model_dump(mode="json"))
        for i, p in enumerate(claim.pending, 1)
    ]
    again = Claim.rehydrate(claim.id, envelopes)
    assert (again.status, again.grade, again.terminated_on, again.version) == ("terminated", 7, date(2026, 11, 1), 5)


def test_rejected_decision_and_unknown_decision() -> None:
    c = applied()
    with pytest.raises(InvalidField) as bad:
        c.decide("maybe", date(2026, 4, 1), "", APPRAISAL_DAYS)
    assert bad.value.field == "decision"
    with pytest.raises(InvalidField) as early:
        c.decide("recognized", date(2026, 3, 9), "", APPRAISAL_DAYS)
    assert early.value.field == "decided_on"


def test_application_before_the_injury_is_refused() -> None:
    with pytest.raises(InvalidField) as bad:
        Claim.apply_for("c", InjuryApplied(
            claim_id="c", employer_id="e", employee_id="w", region="440300", kind="accident",
            occurred_on=INJURY, applied_on=INJURY - timedelta(days=1), applicant="worker", description="",
            birth_date=date(1990, 1, 1), sex="female", employer_late_days=0))
    assert bad.value.field == "applied_on"


# -- treatment leave (R.33) -------------------------------------------------------------------

def test_leave_standard_maximum_and_extension() -> None:
    c = recognized()
    with pytest.raises(InvalidField) as beyond:
        c.grant_treatment_leave(date(2026, 3, 2), date(2027, 3, 2), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert beyond.value.field == "end"
    c.grant_treatment_leave(date(2026, 3, 2), date(2027, 3, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)  # 12 months
    assert c.pending[-1].payload.extension is False
    assert c.appraisal_due_on == date(2027, 4, 30)  # 2027-03-01 + 60 days
    with pytest.raises(InvalidField) as gap:
        c.grant_treatment_leave(date(2027, 3, 3), date(2027, 6, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert gap.value.field == "start"
    with pytest.raises(InvalidField) as too_long:  # 24 months end on 2028-03-01
        c.grant_treatment_leave(date(2027, 3, 2), date(2028, 3, 2), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert too_long.value.field == "end"
    c.grant_treatment_leave(date(2027, 3, 2), date(2028, 3, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert c.pending[-1].payload.extension is True


def test_leave_end_before_start_and_before_injury() -> None:
    c = recognized()
    with pytest.raises(InvalidField) as bad:
        c.grant_treatment_leave(date(2026, 5, 2), date(2026, 5, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert bad.value.field == "end"
    with pytest.raises(InvalidField) as early:
        c.grant_treatment_leave(date(2026, 3, 1), date(2026, 5, 1), LEAVE_STD, LEAVE_EXT, APPRAISAL_DAYS)
    assert early.value.field == "start"


# -- appraisal and re-appraisal (R.28) --------------------------------------------------------

@pytest.mark.parametrize("grade", [0, 11, -1])
def test_grade_outside_1_to_10(grade: int) -> None:
    with pytest.raises(InvalidField) as bad:
        recognized().appraise(grade, "none", date(2026, 5, 1), REAPPRAISAL)
    assert bad.value.field == "grade"


def test_unknown_care_level() -> None:
    with pytest.raises(InvalidField) as bad:
        recognized().appraise(3, "some", date(2026, 5, 1), REAPPRAISAL)
    assert bad.value.field == "care_level"


def test_reappraisal_day_before_the_minimum_refused_the_day_itself_accepted() -> None:
    c = appraised(7)  # concluded 2026-10-15
    with pytest.raises(InvalidField) as early:
        c.appraise(5, "partial", date(2027, 10, 14), REAPPRAISAL)
    assert early.value.field == "concluded_on" and "2027-10-15" in early.value.message
    c.appraise(5, "partial", date(2027, 10, 15), REAPPRAISAL)
    assert c.grade == 5 and c.pending[-1].payload.reappraisal is True


def test_no_disability_then_appraised() -> None:
    c = appraised(None)
    assert c.grade is None and c.status == "appraised"


@pytest.mark.parametrize("grade, allowed", [(None, False), (1, False), (4, False), (5, True), (10, True)])
def test_termination_only_grades_5_to_10(grade: int | None, allowed: bool) -> None:
    c = appraised(grade)
    if allowed:
        c.terminate(date(2026, 11, 1))
        assert c.status == "terminated" and c.pending[-1].payload.grade == grade
    else:
        with pytest.raises(WrongState) as refused:
            c.terminate(date(2026, 11, 1))
        assert "appraised" in refused.value.detail and "5–10" in refused.value.detail


# -- death and dependents (R.39) --------------------------------------------------------------

def kid(born: date, relation: str = "child", id_number: str = "110101201505200011") -> NewDependent:
    return NewDependent(id_number, "kid", relation, born, False, None)


def test_death_records_grade_at_death_and_dependents() -> None:
    c = appraised(3)
    c.die(date(2027, 1, 5), [
        NewDependent("110101199001010012", "wife", "spouse", date(1990, 1, 1), False, None),
        kid(date(2015, 5, 20)),
        NewDependent("110101195001010013", "father", "parent", date(1950, 1, 1), True, None),
    ], CHILD_LIMIT)
    died = c.pending[-4].payload
    assert died.grade_at_death == 3 and died.died_on == date(2027, 1, 5)
    deps = c.history.dependents
    assert [d.relation for d in deps] == ["spouse", "child", "parent"]
    assert deps[1].qualifies_until == date(2033, 5, 20) and deps[0].qualifies_until is None
    assert deps[2].orphan_or_lone_elder and deps[0].dependent_id == "clm_1-d1"


def test_death_before_decision_keeps_the_claim_to_decide() -> None:
    c = applied("death")
    c.die(INJURY, [], CHILD_LIMIT)
    assert c.status == "applied" and c.pending[-1].payload.grade_at_death is None
    c.decide("recognized", date(2026, 4, 1), "R.14", APPRAISAL_DAYS)
    assert c.status == "deceased"
    with pytest.raises(WrongState):
        c.die(date(2026, 5, 1), [], CHILD_LIMIT)


def test_death_before_the_injury_and_bad_dependents() -> None:
    with pytest.raises(InvalidField) as early:
        recognized().die(INJURY - timedelta(days=1), [], CHILD_LIMIT)
    assert early.value.field == "died_on"
    with pytest.raises(InvalidField) as relation:
        recognized().die(INJURY, [kid(date(2015, 1, 1), "cousin")], CHILD_LIMIT)
    assert relation.value.field == "dependents.0.relation"
    with pytest.raises(InvalidField) as two:
        recognized().die(INJURY, [kid(date(1990, 1, 1), "spouse", "a"), kid(date(1991, 1, 1), "spouse", "b")],
                         CHILD_LIMIT)
    assert two.value.field == "dependents.1.relation"


# -- insured wage on a claim -------------------------------------------------------------------

def wage_event(insured: str, reason: str = "recognized") -> InsuredWageDetermined:
    return InsuredWageDetermined(
        claim_id="clm_1", employee_id="ee_1", average_wage=Decimal(insured), insured_wage=Decimal(insured),
        months=[WageMonth(period="2026-02", wage=Decimal(insured))], floor=Decimal("4800.00"),
        cap=Decimal("24000.00"), policy_ref=PolicyRef(region="440300", effective_from=date(2026, 1, 1), version=1),
        reason=reason)


def test_wage_correction_emits_only_when_the_figure_changed() -> None:
    c = recognized()
    assert c.determine_insured_wage(wage_event("9000.00"))
    assert not c.determine_insured_wage(wage_event("9000.00", "wage_corrected"))
    assert c.determine_insured_wage(wage_event("9100.00", "wage_corrected"))
    assert c.insured_wage == Decimal("9100.00")
    with pytest.raises(WrongState):
        applied().determine_insured_wage(wage_event("9000.00"))


def test_deadlines_shown_with_overdue_flags() -> None:
    c = applied()
    assert c.deadlines_on(date(2026, 5, 9))["decision"]["overdue"] is False
    assert c.deadlines_on(date(2026, 5, 10))["decision"]["overdue"] is True
    c.decide("recognized", date(2026, 4, 1), "", APPRAISAL_DAYS)
    shown = c.deadlines_on(date(2026, 6, 1))
    assert shown["decision"]["overdue"] is False
    assert shown["appraisal"]["due_on"] == date(2026, 5, 31) and shown["appraisal"]["overdue"] is True
