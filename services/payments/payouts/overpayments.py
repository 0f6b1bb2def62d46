"""Overpayments (RULES.md "Appeals, reversals and recovery"): what the fund paid and is no longer
owed. Pure: no I/O.

    recognized ─recover (an approved run's payout)→ … ─outstanding 0→ recovered
        │            └undo (the bank returned that payout)→ outstanding again
        └write off (agency, with a reason)→ written_off (outstanding 0 for ever)

An overpayment is one payee's, of one claim, recognized by the payment run that found the negative
lines of months already paid which nothing payable offsets. It is recovered from that payee's
later fund payouts, at most `recovery_max_share` of each, and recorded only when the run that
holds the deduction is approved; nothing already paid is ever edited.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, field_serializer

from libs.events.aggregate import Aggregate
from libs.events.registry import event_type
from libs.money import yuan_str


class _Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    @field_serializer("*", when_used="json")
    def _ser(self, value):  # noqa: ANN001, ANN202 - money as a two-place string on the wire
        return yuan_str(value) if isinstance(value, Decimal) else value


class OverpaidLine(_Money):
    """A negative fund line of a month already paid (it takes back what was paid for it)."""

    line_id: str
    kind: str
    family: str
    period: str
    amount: Decimal  # negative


@event_type("OverpaymentRecognized")
class OverpaymentRecognized(_Money):
    overpayment_id: str
    region: str
    payee: str
    claim_id: str
    employer_id: str | None
    amount: Decimal  # positive: what the fund is owed back
    lines: tuple[OverpaidLine, ...]
    recognized_on: date
    run_id: str  # the run that found it
    recovery_max_share: Decimal
    policy_ref: dict | None


@event_type("OverpaymentRecovered")
class OverpaymentRecovered(_Money):
    """Kept back from a payout of an approved run (`payout_id`), or — when the deduction took the
    whole of what the payee was owed — from the lines `line_ids`, then paid to no bank (payout_id
    null; `families`: this recovery's part of those lines by family, summing to `amount`)."""

    overpayment_id: str
    region: str
    payee: str
    run_id: str
    payout_id: str | None
    amount: Decimal
    gross: Decimal  # what the payee was owed in that run, before any deduction
    outstanding: Decimal  # after this recovery
    recovered_on: date
    line_ids: tuple[str, ...] = ()
    families: dict[str, Decimal] = {}

    @field_serializer("families", when_used="json")
    def _families(self, value: dict[str, Decimal]) -> dict[str, str]:
        return {k: yuan_str(v) for k, v in value.items()}


@event_type("OverpaymentRecoveryUndone")
class OverpaymentRecoveryUndone(_Money):
    """The bank returned the payout that held the deduction: its lines are payable again, and
    so much of the overpayment is outstanding again."""

    overpayment_id: str
    region: str
    payee: str
    run_id: str
    payout_id: str
    amount: Decimal
    outstanding: Decimal
    undone_on: date
    reason: str


@event_type("OverpaymentWrittenOff")
class OverpaymentWrittenOff(_Money):
    overpayment_id: str
    region: str
    payee: str
    amount: Decimal  # what was outstanding
    reason: str
    written_off_on: date


class NothingOutstanding(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class Overpayment(Aggregate):
    aggregate_type = "overpayment"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.recognized: OverpaymentRecognized | None = None
        self.outstanding = Decimal("0.00")
        self.recovered = Decimal("0.00")
        self.written_off = Decimal("0.00")

    @property
    def status(self) -> str:
        if self.written_off:
            return "written_off"
        return "outstanding" if self.outstanding else "recovered"

    def recognize(self, e: OverpaymentRecognized) -> None:
        assert self.recognized is None and e.amount > 0
        assert -sum((ln.amount for ln in e.lines), Decimal("0.00")) == e.amount, "overpayment != its lines"
        self.trigger(e, e.recognized_on)

    def recover(self, run_id: str, payout_id: str | None, amount: Decimal, gross: Decimal, on: date,
                line_ids: tuple[str, ...] = (), families: dict[str, Decimal] | None = None) -> None:
        assert self.recognized is not None and 0 < amount <= self.outstanding, \
            f"recovering {amount} of {self.id} with {self.outstanding} outstanding"
        assert payout_id is not None or sum((families or {}).values(), Decimal("0.00")) == amount
        self.trigger(OverpaymentRecovered(
            overpayment_id=self.id, region=self.recognized.region, payee=self.recognized.payee, run_id=run_id,
            payout_id=payout_id, amount=amount, gross=gross, outstanding=self.outstanding - amount, recovered_on=on,
            line_ids=line_ids, families=families or {}), on)

    def undo(self, run_id: str, payout_id: str, amount: Decimal, on: date, reason: str) -> None:
        assert self.recognized is not None and 0 < amount <= self.recovered
        self.trigger(OverpaymentRecoveryUndone(
            overpayment_id=self.id, region=self.recognized.region, payee=self.recognized.payee, run_id=run_id,
            payout_id=payout_id, amount=amount, outstanding=self.outstanding + amount, undone_on=on,
            reason=reason), on)

    def write_off(self, reason: str, on: date) -> None:
        assert self.recognized is not None and reason.strip()
        if self.outstanding <= 0:
            raise NothingOutstanding(self.status)
        self.trigger(OverpaymentWrittenOff(overpayment_id=self.id, region=self.recognized.region,
                                           payee=self.recognized.payee, amount=self.outstanding, reason=reason,
                                           written_off_on=on), on)

    def apply_OverpaymentRecognized(self, e: OverpaymentRecognized) -> None:
        self.recognized = e
        self.outstanding = e.amount

    def apply_OverpaymentRecovered(self, e: OverpaymentRecovered) -> None:
        self.outstanding -= e.amount
        self.recovered += e.amount

    def apply_OverpaymentRecoveryUndone(self, e: OverpaymentRecoveryUndone) -> None:
        self.outstanding += e.amount
        self.recovered -= e.amount

    def apply_OverpaymentWrittenOff(self, e: OverpaymentWrittenOff) -> None:
        self.written_off += e.amount
        self.outstanding -= e.amount
