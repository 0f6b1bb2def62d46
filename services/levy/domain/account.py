"""An employer's contribution account: a pure fold over its assessments and payments.

The facts are the wage reports (each assesses a `delta` of a period on the day it is recorded)
and the payments (an amount on the day it was paid). Folding them in date order, with the late
fees of each day in between (SIL.86), gives the account as of any date, the allocation of every
payment, and the movements the fund's books post (ledger.py). Nothing here is stored: the same
facts always fold to the same account.

Rules (RULES.md "Contributions"):
- Late fee: `late_fee_daily` × the period's outstanding contribution for each day after its due
  date (the due date itself is day 0), simple interest, kept unrounded per period and rounded
  half-up to the fen where it is assessed (a payment, or a view of the account). A report recorded
  after the due date owes the fee from the due date on its positive delta (a late report is no way
  around the fee); a downward correction stops the fee from its day on, it does not refund it.
- A payment settles the oldest period first: its late fee then its contribution (the policy's
  `payment_allocation` may say contribution first). What is left is the employer's credit.
- A credit is never lost: it settles the next assessment as soon as it is recorded, and a
  downward correction below what was paid turns the excess back into credit.
- A period migrated from the old system (MIGRATION.md) is assessed as it was there, with what it
  was paid there settled on its own contribution; the fee runs on the rest from its due date.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Iterable, Literal

from libs.money import round_fen, to_fen

from .rules import late_fee, overdue_days

FEES_FIRST = "oldest_first_fees_then_contribution"
CONTRIBUTION_FIRST = "oldest_first_contribution_then_fees"
MAX_PERIODS = 12 * 200  # an employer's lifetime of months, far beyond any real one


@dataclass(frozen=True)
class Assessment:
    on: date  # the day the report was recorded
    order: str  # tie-break among facts of one day: the time it was recorded, then its id
    report_id: str
    period: str
    delta_fen: int
    due_date: date
    late_fee_daily: Decimal
    # a period migrated from the old system: what it was paid there (on its contribution, on
    # `settled_on`), never owed here and never allocated like a payment recorded here
    settled_fen: int = 0
    settled_on: date | None = None

    def __post_init__(self) -> None:
        assert 0 <= self.settled_fen <= max(self.delta_fen, 0), "the old system was paid at most what it assessed"


@dataclass(frozen=True)
class Payment:
    on: date
    order: str
    payment_id: str
    amount_fen: int
    allocation: str = FEES_FIRST

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a payment is positive"
        assert self.allocation in (FEES_FIRST, CONTRIBUTION_FIRST)


@dataclass
class Period:
    period: str
    due_date: date
    late_fee_daily: Decimal
    due_fen: int = 0
    paid_fen: int = 0
    fee_exact: Decimal = Decimal(0)  # yuan, unrounded
    fee_paid_fen: int = 0
    fee_booked_fen: int = 0  # what the books have assessed so far

    @property
    def fee_assessed_fen(self) -> int:
        return to_fen(round_fen(self.fee_exact))

    @property
    def contribution_owed_fen(self) -> int:
        return self.due_fen - self.paid_fen

    @property
    def fee_owed_fen(self) -> int:
        return self.fee_assessed_fen - self.fee_paid_fen


MovementKind = Literal["assessment", "fee_assessed", "payment", "credit_applied", "credit_released"]


@dataclass(frozen=True)
class Movement:
    """One money movement of the account, for the books (ledger.py posts each)."""

    kind: MovementKind
    on: date
    ref: str  # the report or payment it came from
    period: str | None = None
    amount_fen: int = 0  # assessment delta (may be negative), fee, release, or payment amount
    fee_fen: int = 0  # of a payment or a credit application: to late fees
    contribution_fen: int = 0  # ... to contributions
    credit_fen: int = 0  # of a payment: what remained as credit


@dataclass(frozen=True)
class Allocated:
    period: str
    late_fee_fen: int
    contribution_fen: int


@dataclass
class Account:
    periods: dict[str, Period] = field(default_factory=dict)
    credit_fen: int = 0
    received_fen: int = 0
    clock: date | None = None  # late fees are accrued through this day
    movements: list[Movement] = field(default_factory=list)
    allocations: dict[str, tuple[list[Allocated], int]] = field(default_factory=dict)

    # -- the fold

    def accrue(self, through: date) -> None:
        """Late fees of every day up to `through` on what is outstanding now."""
        if self.clock is not None and through <= self.clock:
            return
        for p in self.periods.values():
            owed = p.contribution_owed_fen
            if owed <= 0:
                continue
            start = p.due_date if self.clock is None else max(self.clock, p.due_date)
            days = overdue_days(start, through)
            p.fee_exact += late_fee(Decimal(owed) / 100, p.late_fee_daily, days)
        self.clock = through

    def assess(self, a: Assessment) -> None:
        self.accrue(a.on)
        p = self.periods.get(a.period)
        if p is None:
            assert len(self.periods) < MAX_PERIODS
            p = self.periods[a.period] = Period(a.period, a.due_date, a.late_fee_daily)
        p.due_fen += a.delta_fen
        assert p.due_fen >= 0, f"{a.period}: a correction cannot assess below zero"
        self.movements.append(Movement("assessment", a.on, a.report_id, a.period, a.delta_fen))
        if a.settled_fen:  # migrated: paid to the old system, on this period's contribution
            p.paid_fen += a.settled_fen
            self.received_fen += a.settled_fen
            self.movements.append(Movement("payment", a.settled_on or a.on, a.report_id, amount_fen=a.settled_fen,
                                           contribution_fen=a.settled_fen))
        owed = a.delta_fen - a.settled_fen
        if owed > 0:  # a late report owes the fee from the due date on (a migrated period: on what is still owed)
            p.fee_exact += late_fee(Decimal(owed) / 100, p.late_fee_daily, overdue_days(p.due_date, a.on))
        if p.paid_fen > p.due_fen:  # corrected below what was paid: the excess is credit again
            excess = p.paid_fen - p.due_fen
            p.paid_fen = p.due_fen
            self.credit_fen += excess
            self.movements.append(Movement("credit_released", a.on, a.report_id, a.period, excess))
        if self.credit_fen > 0:
            self._book_fees(a.on, a.report_id)
            taken, left = self._allocate(self.credit_fen, FEES_FIRST)
            if taken:
                self.credit_fen = left
                self.movements.append(Movement(
                    "credit_applied", a.on, a.report_id, fee_fen=sum(t.late_fee_fen for t in taken),
                    contribution_fen=sum(t.contribution_fen for t in taken)))

    def pay(self, pm: Payment) -> None:
        self.accrue(pm.on)
        self._book_fees(pm.on, pm.payment_id)
        taken, left = self._allocate(pm.amount_fen, pm.allocation)
        self.received_fen += pm.amount_fen
        self.credit_fen += left
        self.allocations[pm.payment_id] = (taken, left)
        fee = sum(t.late_fee_fen for t in taken)
        contrib = sum(t.contribution_fen for t in taken)
        assert fee + contrib + left == pm.amount_fen
        self.movements.append(Movement("payment", pm.on, pm.payment_id, amount_fen=pm.amount_fen, fee_fen=fee,
                                       contribution_fen=contrib, credit_fen=left))

    def _book_fees(self, on: date, ref: str) -> None:
        for p in self._oldest_first():
            new = p.fee_assessed_fen - p.fee_booked_fen
            if new > 0:
                p.fee_booked_fen = p.fee_assessed_fen
                self.movements.append(Movement("fee_assessed", on, ref, p.period, new))

    def _allocate(self, money_fen: int, order: str) -> tuple[list[Allocated], int]:
        taken: list[Allocated] = []
        for p in self._oldest_first():
            if money_fen <= 0:
                break
            fee = contrib = 0
            for part in (("fee", "contribution") if order == FEES_FIRST else ("contribution", "fee")):
                if part == "fee":
                    fee = min(money_fen, max(0, p.fee_owed_fen))
                    money_fen -= fee
                else:
                    contrib = min(money_fen, max(0, p.contribution_owed_fen))
                    money_fen -= contrib
            if fee or contrib:
                p.fee_paid_fen += fee
                p.paid_fen += contrib
                taken.append(Allocated(p.period, fee, contrib))
        return taken, money_fen

    def _oldest_first(self) -> list[Period]:
        return [self.periods[k] for k in sorted(self.periods)]

    # -- views

    @property
    def assessed_fen(self) -> int:
        return sum(p.due_fen for p in self.periods.values())

    @property
    def arrears_fen(self) -> int:
        return sum(p.contribution_owed_fen for p in self.periods.values())

    @property
    def late_fees_fen(self) -> int:
        return sum(p.fee_assessed_fen for p in self.periods.values())

    @property
    def late_fees_owed_fen(self) -> int:
        return sum(p.fee_owed_fen for p in self.periods.values())

    @property
    def balance_fen(self) -> int:
        """What the employer owes (negative: what the fund holds for it)."""
        balance = self.arrears_fen + self.late_fees_owed_fen - self.credit_fen
        # every fen received is a contribution paid, a fee paid, or credit
        assert balance == self.assessed_fen + self.late_fees_fen - self.received_fen, "account does not add up"
        return balance


def fold(assessments: Iterable[Assessment], payments: Iterable[Payment], on: date | None = None) -> Account:
    """The account from its facts, in date order (then recording order); with `on`, as of that
    day: facts after it are ignored and late fees run up to it."""
    facts: list[tuple[date, str, int, Assessment | Payment]] = []
    for a in assessments:
        facts.append((a.on, a.order, 0, a))
    for pm in payments:
        facts.append((pm.on, pm.order, 1, pm))
    facts.sort(key=lambda f: (f[0], f[1], f[2]))
    account = Account()
    for day, _order, _kind, fact in facts:
        if on is not None and day > on:
            break
        if isinstance(fact, Assessment):
            account.assess(fact)
        else:
            account.pay(fact)
    if on is not None:
        account.accrue(on)
    return account
