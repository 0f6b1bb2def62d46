"""A migrated claim in the claims aggregate (MIGRATION.md "claims", "dependents")."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from services.claims.domain.events import InsuredWageDetermined, PolicyRef
from services.claims.domain.model import InvalidField, NewDependent, WrongState
from tests.unit.claims.test_claim_model import appraised

REF = PolicyRef(region="440300", effective_from=date(2026, 1, 1), version=1)


def wage(amount: str, reason: str) -> InsuredWageDetermined:
    return InsuredWageDetermined(claim_id="c-1", employee_id="ee-1", average_wage=D(amount), insured_wage=D(amount),
                                 months=[], floor=D("4800.00"), cap=D("24000.00"), policy_ref=REF, reason=reason)


def test_an_insured_wage_taken_as_given_is_never_re_derived_from_wages() -> None:
    claim = appraised()
    assert claim.determine_insured_wage(wage("6000.00", "legacy"))
    assert not claim.determine_insured_wage(wage("9000.00", "wage_corrected"))
    assert claim.insured_wage == D("6000.00")


def test_the_old_systems_payments_are_recorded_once() -> None:
    claim = appraised()
    claim.record_legacy_payments("2026-10", True, date(2026, 11, 5))
    assert claim.legacy_paid_through == "2026-10"
    with pytest.raises(WrongState):
        claim.record_legacy_payments("2026-11", True, date(2026, 11, 5))


def test_dependents_come_after_the_death_checked_as_at_the_death() -> None:
    claim = appraised()
    spouse = NewDependent("110101199003078033", "Li Na", "spouse", date(1990, 3, 7), False, None)
    with pytest.raises(WrongState):
        claim.register_dependent(spouse, 18)
    claim.die(date(2026, 12, 1), [], 18)
    claim.register_dependent(spouse, 18)
    with pytest.raises(InvalidField) as twice:
        claim.register_dependent(NewDependent("110101199103078031", "Zhao", "spouse", date(1991, 3, 7), False, None), 18)
    assert twice.value.field == "relation"
    child = NewDependent("110101201503018030", "Li Xiao", "child", date(2015, 3, 1), False, None)
    claim.register_dependent(child, 18)
    with pytest.raises(InvalidField) as again:
        claim.register_dependent(child, 18)
    assert again.value.field == "id_number"
    assert [d.dependent_id for d in claim.history.dependents] == [f"{claim.id}-d1", f"{claim.id}-d2"]
    assert claim.history.dependents[-1].qualifies_until == date(2033, 3, 1)
