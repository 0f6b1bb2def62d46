"""Appeals on the claim aggregate (R.55, R.26): each route's deadline on its edge days, each
outcome, what a decision replaces and the states it leads to, and the refusals."""
from __future__ import annotations

from datetime import date

import pytest

from services.claims.domain.model import UNSET, WrongState, InvalidField

from tests.unit.claims.test_claim_model import APPRAISAL_DAYS, appraised, applied, recognized, rejected, terminated

DAYS = {"reconsideration": 60, "litigation": 180, "appraisal_committee": 15}
DECIDED = date(2026, 4, 1)  # the decision of every claim of test_claim_model
CONCLUDED = date(2026, 10, 15)  # the appraisal of `appraised()`


def lodge(c, subject: str = "recognition", route: str = "reconsideration", on: date = date(2026, 4, 20),  # noqa: ANN001
          by: str = "worker"):  # noqa: ANN201
    return c.lodge_appeal(subject, route, on, by, DAYS)


def decide(c, outcome: str, on: date = date(2026, 6, 1), decision: str | None = None, grade: object = UNSET,  # noqa: ANN001
           care: str | None = None, appeal_id: str = "clm_1-a1"):  # noqa: ANN201
    return c.decide_appeal(appeal_id, outcome, on, decision, grade, care, APPRAISAL_DAYS)


@pytest.mark.parametrize(("route", "last_day"), [
    ("reconsideration", date(2026, 5, 31)),  # 2026-04-01 + 60 days
    ("litigation", date(2026, 9, 28)),  # + 180 days
])
def test_recognition_appeal_deadline_day_n_in_time_day_n_plus_1_late(route: str, last_day: date) -> None:
    c = rejected()
    event = lodge(c, route=route, on=last_day)
    assert (event.due_by, event.disputed_on, event.disputed_decision, event.appeal_id) == (
        last_day, DECIDED, "rejected", "clm_1-a1")
    late = rejected()
    with pytest.raises(InvalidField) as caught:
        lodge(late, route=route, on=date.fromordinal(last_day.toordinal() + 1))
    assert caught.value.field == "lodged_on" and f"lodged by {last_day}" in caught.value.message
    with pytest.raises(InvalidField) as caught:
        lodge(rejected(), route=route, on=date(2026, 3, 31))  # before the decision
    assert caught.value.field == "lodged_on"


def test_committee_deadline_is_15_days_from_the_conclusion() -> None:
    c = appraised(7)
    assert lodge(c, "appraisal", "appraisal_committee", on=date(2026, 10, 30)).due_by == date(2026, 10, 30)
    with pytest.raises(InvalidField) as caught:
        lodge(appraised(7), "appraisal", "appraisal_committee", on=date(2026, 10, 31))
    assert caught.value.field == "lodged_on"


def test_routes_belong_to_their_subject_and_a_subject_needs_its_decision() -> None:
    with pytest.raises(InvalidField) as caught:
        lodge(recognized(), "recognition", "appraisal_committee")
    assert caught.value.field == "route"
    with pytest.raises(InvalidField):
        lodge(appraised(), "appraisal", "litigation", on=date(2026, 10, 20))
    with pytest.raises(WrongState):
        lodge(applied())  # nothing decided yet
    with pytest.raises(WrongState):
        lodge(recognized(), "appraisal", "appraisal_committee")  # no appraisal yet


def test_upheld_changes_nothing_and_one_open_appeal_per_subject() -> None:
    c = rejected()
    lodge(c)
    with pytest.raises(WrongState):
        lodge(c, route="litigation", on=date(2026, 4, 25))  # the reconsideration is still open
    with pytest.raises(InvalidField) as caught:
        decide(c, "upheld", decision="recognized")
    assert caught.value.field == "decision"
    decide(c, "upheld")
    assert (c.status, c.decision, c.history.appeals[0].status) == ("rejected", "rejected", "upheld")
    # then to court, counted from the original decision
    assert lodge(c, route="litigation", on=date(2026, 7, 1)).appeal_id == "clm_1-a2"
    with pytest.raises(WrongState):
        decide(c, "upheld")  # a1 is decided already


def test_a_rejection_overturned_recognizes_from_the_original_date() -> None:
    c = rejected()
    lodge(c)
    event = decide(c, "overturned", decision="recognized")
    assert (event.replaces_from, event.decision, event.appraisal_due_on) == (DECIDED, "recognized", date(2026, 7, 31))
    assert (c.status, c.decision, c.decided_on, c.decision_received_on) == (
        "recognized", "recognized", DECIDED, date(2026, 6, 1))
    with pytest.raises(InvalidField):  # overturning a rejection recognizes
        c2 = rejected()
        lodge(c2)
        decide(c2, "overturned", decision="rejected")


def test_a_revoked_recognition_is_rejected_and_restored_where_its_history_stands() -> None:
    c = terminated()  # recognized, leave, appraised grade 7, terminated
    lodge(c, route="litigation", on=date(2026, 9, 1))
    decide(c, "overturned", decision="rejected", on=date(2026, 11, 20))
    assert (c.status, c.decision) == ("rejected", "rejected")
    # the revocation to court in turn, counted from the day the revocation was received
    assert lodge(c, route="litigation", on=date(2027, 5, 19)).due_by == date(2027, 5, 19)
    decide(c, "overturned", decision="recognized", on=date(2027, 6, 1), appeal_id="clm_1-a2")
    assert (c.status, c.decision, c.grade) == ("terminated", "recognized", 7)


def test_modified_recognition_changes_its_footing_only() -> None:
    c = recognized()
    lodge(c)
    with pytest.raises(InvalidField):
        decide(c, "modified", decision="rejected")
    decide(c, "modified", decision="deemed")
    assert (c.status, c.decision) == ("deemed", "deemed")


def test_the_committee_replaces_the_conclusion_and_is_final() -> None:
    c = appraised(7)
    lodge(c, "appraisal", "appraisal_committee", on=date(2026, 10, 25), by="employer")
    with pytest.raises(InvalidField) as caught:
        decide(c, "modified", grade=7, care="none", on=date(2026, 11, 20))  # the same conclusion
    assert caught.value.field == "grade"
    with pytest.raises(InvalidField) as caught:
        decide(c, "overturned", care="none", on=date(2026, 11, 20))  # no grade given
    assert caught.value.field == "grade"
    decide(c, "overturned", grade=5, care="partial", on=date(2026, 11, 20))
    assert (c.grade, c.history.appraisals[-1].concluded_on, c.history.appraisals[-1].committee) == (5, CONCLUDED, True)
    assert c.status == "appraised"
    with pytest.raises(WrongState) as final:
        lodge(c, "appraisal", "appraisal_committee", on=date(2026, 10, 28))
    assert "final" in final.value.detail
    # no disability is a conclusion too
    d = appraised(9)
    lodge(d, "appraisal", "appraisal_committee", on=date(2026, 10, 25))
    decide(d, "overturned", grade=None, care="none", on=date(2026, 11, 20))
    assert d.grade is None
