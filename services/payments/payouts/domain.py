"""Paying out: hospitals, adjudicated medical bills, payment runs and payouts. Pure: no I/O.

Payload field names are the contract of docs/events.md; money is a yuan string with two places.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from libs.events.aggregate import Aggregate
from libs.events.registry import event_type
from libs.money import yuan_str


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class BankAccount(_Payload):
    bank_code: str
    account_no: str
    holder: str


PROVIDER_KINDS = ("hospital", "rehabilitation", "supplier")  # API.md: hospitals, rehabilitation providers, device suppliers


@event_type("HospitalRegistered")
class HospitalRegistered(_Payload):
    hospital_id: str
    name: str
    region: str
    bank_account: BankAccount
    kind: str = "hospital"  # one of PROVIDER_KINDS


@event_type("HospitalChanged")
class HospitalChanged(_Payload):
    """The full state of the hospital after the change."""

    hospital_id: str
    name: str
    region: str
    bank_account: BankAccount
    kind: str = "hospital"


class Hospital(Aggregate):
    aggregate_type = "hospital"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.state: HospitalRegistered | None = None

    def put(self, name: str, region: str, account: BankAccount, on: date, kind: str = "hospital") -> bool:
        """Register, or record the change; returns whether anything changed."""
        assert kind in PROVIDER_KINDS
        fields = dict(hospital_id=self.id, name=name, region=region, bank_account=account, kind=kind)
        if self.state is None:
            self.trigger(HospitalRegistered(**fields), on)
            return True
        if (self.state.name, self.state.region, self.state.bank_account, self.state.kind) == \
                (name, region, account, kind):
            return False
        self.trigger(HospitalChanged(**fields), on)
        return True

    def apply_HospitalRegistered(self, e: HospitalRegistered) -> None:
        self.state = e

    def apply_HospitalChanged(self, e: HospitalChanged) -> None:
        self.state = HospitalRegistered(**e.model_dump())


class _Money(_Payload):
    @field_serializer("*", when_used="json")
    def _ser(self, value):  # noqa: ANN001, ANN202 - money as a two-place string on the wire
        return yuan_str(value) if isinstance(value, Decimal) else value


class AdjudicatedItem(_Money):
    code: str
    quantity: int
    unit_price: Decimal
    claimed: Decimal
    approved: Decimal
    # not_in_catalog | price_capped | partial_share | price_capped+partial_share; a rehabilitation
    # bill adds outside_plan_period and beyond_plan_budget (care/rules.py)
    reason: str | None
    on: date | None = None  # the day of the service (rehabilitation bills)


@event_type("MedicalBillAdjudicated")
class MedicalBillAdjudicated(_Money):
    bill_id: str
    claim_id: str
    hospital_id: str
    admitted_on: date
    discharged_on: date
    claimed: Decimal
    approved: Decimal
    items: tuple[AdjudicatedItem, ...]
    policy_ref: dict
    region: str = ""
    employer_id: str | None = None
    line_id: str = ""
    kind: str = "medical"  # or "rehabilitation", billed under an approved plan
    plan_id: str | None = None


class MedicalBill(Aggregate):
    aggregate_type = "medical_bill"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.adjudicated: MedicalBillAdjudicated | None = None

    def adjudicate(self, result: MedicalBillAdjudicated, on: date) -> None:
        assert self.adjudicated is None, "a bill is adjudicated once"
        assert result.approved == sum((i.approved for i in result.items), Decimal("0.00"))
        assert result.claimed == sum((i.claimed for i in result.items), Decimal("0.00"))
        self.trigger(result, on)

    def apply_MedicalBillAdjudicated(self, e: MedicalBillAdjudicated) -> None:
        self.adjudicated = e


@event_type("PaymentRunCreated")
class PaymentRunCreated(_Money):
    """A run proposed: its payouts are taken, but no file leaves and no return is taken until
    an agency client of another person approves it. Runs recorded before four eyes carry no
    `status`: they were released at once, so they read as approved."""

    run_id: str
    region: str
    period: str
    count: int
    total: Decimal
    execution_date: date | None = None
    waiting_for_account: int = 0
    status: Literal["proposed", "approved"] = "approved"
    proposed_by: str | None = None  # client id
    proposer: str | None = None  # the person behind it, if named


class _RunDecision(_Payload):
    run_id: str
    decided_by: str  # client id
    decider: str  # the person (never the proposer)
    decided_at: datetime
    note: str = ""


@event_type("PaymentRunApproved")
class PaymentRunApproved(_RunDecision):
    """Released: its files may be served, and its returns taken."""


@event_type("PaymentRunRejected")
class PaymentRunRejected(_RunDecision):
    """Its payouts are cancelled and its lines wait for the next run."""

    lines_released: int = 0


@event_type("PaymentRunFileReleased")
class PaymentRunFileReleased(_Money):
    """A bank file of an approved run was served (to whom is the event's actor)."""

    run_id: str
    format: str
    bank: str | None  # the CNAPS bank part, or None for every bank
    count: int
    total: Decimal
    released_at: datetime


@dataclass(frozen=True)
class PayoutsTaken:
    """What a run wrote, tallied payout by payout as it streamed them: how many, their sum and
    the smallest (a run never keeps its payouts in memory to check them afterwards)."""

    count: int
    total: Decimal
    smallest: Decimal | None


class RunNotProposed(Exception):
    """A decision on a run that is no longer waiting for one."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class SamePerson(Exception):
    """The proposer may not decide their own run (four eyes)."""


class PaymentRun(Aggregate):
    """proposed ─approve (another person)→ approved ─file served→ (released, any number of times)
               └reject (another person)→ rejected (its lines wait for the next run)"""

    aggregate_type = "payment_run"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.created: PaymentRunCreated | None = None
        self.status: str = ""
        self.proposer_identity: str = ""

    def create(self, e: PaymentRunCreated, taken: PayoutsTaken, on: date) -> None:
        """The run's total is the sum of its payouts, each positive (asserted, not hoped)."""
        assert self.created is None
        assert e.count == taken.count and (taken.count == 0 or (taken.smallest is not None and taken.smallest > 0))
        assert e.total == taken.total, "run total != sum of payouts"
        self.trigger(e, on)

    def decide(self, approve: bool, decided_by: str, decider_identity: str, decider: str, at: datetime,
               note: str, lines_released: int = 0) -> None:
        """Four eyes: a proposed run, decided by another identity than the one that proposed it."""
        if self.status != "proposed":
            raise RunNotProposed(self.status)
        if decider_identity == self.proposer_identity:
            raise SamePerson(decider)
        fields = dict(run_id=self.id, decided_by=decided_by, decider=decider, decided_at=at, note=note)
        if approve:
            self.trigger(PaymentRunApproved(**fields), at.date())
        else:
            self.trigger(PaymentRunRejected(**fields, lines_released=lines_released), at.date())

    def release(self, e: PaymentRunFileReleased) -> None:
        assert self.status == "approved", f"run {self.id} is {self.status}: no file leaves it"
        self.trigger(e, e.released_at.date())

    def apply_PaymentRunCreated(self, e: PaymentRunCreated) -> None:
        self.created = e
        self.status = e.status
        self.proposer_identity = f"person:{e.proposer}" if e.proposer else f"client:{e.proposed_by}"

    def apply_PaymentRunApproved(self, _e: PaymentRunApproved) -> None:
        self.status = "approved"

    def apply_PaymentRunRejected(self, _e: PaymentRunRejected) -> None:
        self.status = "rejected"

    def apply_PaymentRunFileReleased(self, _e: PaymentRunFileReleased) -> None:
        pass


class PaidLine(_Money):
    line_id: str
    claim_id: str | None
    employer_id: str | None
    kind: str
    family: str
    amount: Decimal


@event_type("PayoutSettled")
class PayoutSettled(_Money):
    payout_id: str
    run_id: str
    settled_on: date
    amount: Decimal
    lines: tuple[PaidLine, ...]
    status: str = "ACSC"


@event_type("PayoutRejected")
class PayoutRejected(_Money):
    payout_id: str
    run_id: str
    rejected_on: date
    reason: str
    amount: Decimal
    lines: tuple[PaidLine, ...]
    account_problem: bool = False


class PayoutAlreadyDecided(Exception):
    pass


class Payout(Aggregate):
    """A payout's life after its run: settled or rejected, once."""

    aggregate_type = "payout"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.outcome: Literal["settled", "rejected"] | None = None

    def _check(self, amount: Decimal, lines: tuple[PaidLine, ...]) -> None:
        if self.outcome is not None:
            raise PayoutAlreadyDecided(self.id)
        assert amount > 0 and amount == sum((line.amount for line in lines), Decimal("0.00")), \
            "payout amount != sum of its lines"

    def settle(self, run_id: str, on: date, amount: Decimal, lines: tuple[PaidLine, ...], status: str) -> None:
        self._check(amount, lines)
        self.trigger(PayoutSettled(payout_id=self.id, run_id=run_id, settled_on=on, amount=amount,
                                   lines=lines, status=status), on)

    def reject(self, run_id: str, on: date, reason: str, amount: Decimal, lines: tuple[PaidLine, ...],
               account_problem: bool) -> None:
        self._check(amount, lines)
        self.trigger(PayoutRejected(payout_id=self.id, run_id=run_id, rejected_on=on, reason=reason,
                                    amount=amount, lines=lines, account_problem=account_problem), on)

    def apply_PayoutSettled(self, _e: PayoutSettled) -> None:
        self.outcome = "settled"

    def apply_PayoutRejected(self, _e: PayoutRejected) -> None:
        self.outcome = "rejected"


# ISO 20022 ExternalStatusReason1Code values that say the creditor's account is the problem:
# the payee's lines wait for a new bank account rather than going into the next run again.
ACCOUNT_PROBLEM_REASONS = frozenset({
    "AC01",  # incorrect account number
    "AC02",  # invalid debtor account number (kept for banks that misuse it)
    "AC03",  # invalid creditor account number
    "AC04",  # closed account
    "AC06",  # blocked account
    "AC07",  # closed creditor account
    "AC13",  # invalid creditor account type
    "AG01",  # transaction forbidden on this account
    "BE01",  # creditor name inconsistent with the account
    "MD07",  # end customer deceased
    "RC01",  # bank identifier incorrect
    "RR03",  # missing creditor name or address
})
