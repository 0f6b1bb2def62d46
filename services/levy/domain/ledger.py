"""The fund's books: a chart of accounts and balanced double-entry postings (RULES.md "The fund").

Every money movement is one entry whose debits equal its credits; the books balance at every
instant because every entry does (asserted here, where an entry is made, not only in tests).
Amounts are integer fen, never negative: a negative movement swaps the sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from .account import Movement

CONTRIBUTIONS_RECEIVABLE = "contributions_receivable"
CONTRIBUTION_INCOME = "contribution_income"
CASH = "cash"
LATE_FEE_RECEIVABLE = "late_fee_receivable"
LATE_FEE_INCOME = "late_fee_income"
EMPLOYER_CREDIT = "employer_credit"
BENEFITS_PAYABLE = "benefits_payable"
BENEFIT_FAMILIES = ("medical", "short_term", "long_term", "survivor")
# Prevention (RULES.md "Prevention and pooling"): spending is an expense paid in cash; a project's
# budget is earmarked when approved (appropriation against reserve, a pair that nets to nothing)
# and released as it is spent, so the reserve's balance is what the budgets still commit.
PREVENTION_EXPENSE = "prevention_expense"
PREVENTION_RESERVE = "prevention_reserve"
PREVENTION_APPROPRIATION = "prevention_appropriation"
# Overpayments (RULES.md "Appeals, reversals and recovery"): what the fund paid and is no longer
# owed is a receivable, against a contra-expense (the benefits were not owed after all); it leaves
# the receivable as later payouts keep it back, or as a loss when written off.
OVERPAYMENTS_RECEIVABLE = "overpayments_receivable"
OVERPAYMENTS_RECOGNIZED = "overpayments_recognized"
OVERPAYMENTS_WRITTEN_OFF = "overpayments_written_off"
RECOVERY_FAMILY = "recovery"  # a payout's member line that kept back an overpayment (negative)
# Pooling moves up: a pool's balance-sheet accounts are carried into the new region on the
# effective date, each side against `pool_transfer` (what one region hands over, the other takes).
POOL_TRANSFER = "pool_transfer"
MAX_LINES_PER_ENTRY = 10_000


def benefits_expense(family: str) -> str:
    assert family and len(family) <= 32
    return f"benefits_expense:{family}"


CHART = (CONTRIBUTIONS_RECEIVABLE, CONTRIBUTION_INCOME, CASH, LATE_FEE_RECEIVABLE, LATE_FEE_INCOME,
         EMPLOYER_CREDIT, BENEFITS_PAYABLE, *(benefits_expense(f) for f in BENEFIT_FAMILIES),
         PREVENTION_EXPENSE, PREVENTION_RESERVE, PREVENTION_APPROPRIATION, OVERPAYMENTS_RECEIVABLE,
         OVERPAYMENTS_RECOGNIZED, OVERPAYMENTS_WRITTEN_OFF, POOL_TRANSFER)
# What a pool holds rather than earned or spent: carried over when it is consolidated.
BALANCE_ACCOUNTS = (CASH, CONTRIBUTIONS_RECEIVABLE, LATE_FEE_RECEIVABLE, EMPLOYER_CREDIT, BENEFITS_PAYABLE,
                    PREVENTION_RESERVE, PREVENTION_APPROPRIATION, OVERPAYMENTS_RECEIVABLE)


@dataclass(frozen=True)
class Line:
    account: str
    debit_fen: int = 0
    credit_fen: int = 0


@dataclass(frozen=True)
class Entry:
    entry_id: str
    kind: str
    posted_on: date
    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        assert 0 < len(self.lines) <= MAX_LINES_PER_ENTRY
        assert all(ln.debit_fen >= 0 and ln.credit_fen >= 0 for ln in self.lines), "amounts are never negative"
        debits = sum(ln.debit_fen for ln in self.lines)
        credits = sum(ln.credit_fen for ln in self.lines)
        assert debits == credits, f"entry {self.entry_id} does not balance: {debits} != {credits}"


def _transfer(entry_id: str, kind: str, on: date, debit: str, credit: str, fen: int) -> Entry:
    if fen < 0:
        debit, credit, fen = credit, debit, -fen
    return Entry(entry_id, kind, on, (Line(debit, debit_fen=fen), Line(credit, credit_fen=fen)))


def entries_for_movements(movements: Iterable[Movement]) -> list[Entry]:
    """The postings of an employer's account (account.py), one entry per movement; zero ones skip."""
    out: list[Entry] = []
    for i, m in enumerate(movements):
        entry_id = f"{m.ref}:{i}:{m.kind}"
        if m.kind == "assessment" and m.amount_fen:
            out.append(_transfer(entry_id, m.kind, m.on, CONTRIBUTIONS_RECEIVABLE, CONTRIBUTION_INCOME, m.amount_fen))
        elif m.kind == "fee_assessed" and m.amount_fen:
            out.append(_transfer(entry_id, m.kind, m.on, LATE_FEE_RECEIVABLE, LATE_FEE_INCOME, m.amount_fen))
        elif m.kind == "credit_released" and m.amount_fen:
            out.append(_transfer(entry_id, m.kind, m.on, CONTRIBUTIONS_RECEIVABLE, EMPLOYER_CREDIT, m.amount_fen))
        elif m.kind == "payment":
            lines = [Line(CASH, debit_fen=m.amount_fen)]
            lines += [Line(a, credit_fen=f) for a, f in ((LATE_FEE_RECEIVABLE, m.fee_fen),
                                                         (CONTRIBUTIONS_RECEIVABLE, m.contribution_fen),
                                                         (EMPLOYER_CREDIT, m.credit_fen)) if f]
            out.append(Entry(entry_id, m.kind, m.on, tuple(lines)))
        elif m.kind == "credit_applied" and (m.fee_fen or m.contribution_fen):
            lines = [Line(EMPLOYER_CREDIT, debit_fen=m.fee_fen + m.contribution_fen)]
            lines += [Line(a, credit_fen=f) for a, f in ((LATE_FEE_RECEIVABLE, m.fee_fen),
                                                         (CONTRIBUTIONS_RECEIVABLE, m.contribution_fen)) if f]
            out.append(Entry(entry_id, m.kind, m.on, tuple(lines)))
    return out


def benefit_entries(payout_id: str, settled_on: date | None, rejected_on: date | None,
                    lines: Iterable[tuple[str, int]]) -> list[Entry]:
    """A settled payout: debit the expense of each line's family (net: a family netting below
    zero is credited), credit what an overpayment kept back of it to the receivable and the rest
    to cash. Rejected after settlement (the bank returned it): the same entry reversed on the day
    of the return."""
    by_family: dict[str, int] = {}
    for family, fen in lines:
        by_family[family] = by_family.get(family, 0) + fen
    kept = -by_family.pop(RECOVERY_FAMILY, 0)
    assert kept >= 0, f"payout {payout_id} recovers a negative amount"
    total = sum(by_family.values()) - kept
    assert total >= 0, f"payout {payout_id} pays {total} fen"
    if settled_on is None or total == 0:
        return []
    expense = tuple(Line(benefits_expense(f), debit_fen=max(v, 0), credit_fen=max(-v, 0))
                    for f, v in sorted(by_family.items()) if v)
    recovered = (Line(OVERPAYMENTS_RECEIVABLE, credit_fen=kept),) if kept else ()
    out = [Entry(f"{payout_id}:settled", "benefit", settled_on, (*expense, *recovered, Line(CASH, credit_fen=total)))]
    if rejected_on is not None:
        reversed_ = tuple(Line(ln.account, debit_fen=ln.credit_fen, credit_fen=ln.debit_fen) for ln in out[0].lines)
        out.append(Entry(f"{payout_id}:returned", "benefit_reversal", rejected_on, reversed_))
    return out


def overpayment_recognized_entry(overpayment_id: str, on: date, amount_fen: int) -> Entry:
    assert amount_fen > 0
    return _transfer(f"{overpayment_id}:recognized", "overpayment", on, OVERPAYMENTS_RECEIVABLE,
                     OVERPAYMENTS_RECOGNIZED, amount_fen)


def overpayment_kept_whole_entry(entry_id: str, on: date, families_fen: dict[str, int]) -> Entry:
    """A recovery that kept back all a payee was owed: the benefits' expense, paid by the receivable."""
    total = sum(families_fen.values())
    assert total > 0 and all(v > 0 for v in families_fen.values())
    return Entry(entry_id, "overpayment_recovery", on, (
        *(Line(benefits_expense(f), debit_fen=v) for f, v in sorted(families_fen.items())),
        Line(OVERPAYMENTS_RECEIVABLE, credit_fen=total)))


def overpayment_written_off_entry(overpayment_id: str, on: date, amount_fen: int) -> Entry:
    assert amount_fen > 0
    return _transfer(f"{overpayment_id}:written_off", "overpayment_write_off", on, OVERPAYMENTS_WRITTEN_OFF,
                     OVERPAYMENTS_RECEIVABLE, amount_fen)


def prevention_budget_entry(project_id: str, on: date, budget_fen: int) -> Entry:
    """A prevention project approved: its budget earmarked (no cash moves)."""
    assert budget_fen > 0
    return _transfer(f"{project_id}:budget", "prevention_budget", on, PREVENTION_APPROPRIATION, PREVENTION_RESERVE,
                     budget_fen)


def prevention_spending_entry(spending_id: str, on: date, amount_fen: int) -> Entry:
    """Prevention spending: the expense paid in cash, and as much of the project's earmark released."""
    assert amount_fen > 0
    return Entry(f"{spending_id}:spent", "prevention", on, (
        Line(PREVENTION_EXPENSE, debit_fen=amount_fen), Line(CASH, credit_fen=amount_fen),
        Line(PREVENTION_RESERVE, debit_fen=amount_fen), Line(PREVENTION_APPROPRIATION, credit_fen=amount_fen)))


def carry_over_entries(ref: str, on: date, balances: dict[str, int]) -> tuple[Entry, Entry] | None:
    """A pool consolidated on `on`: the old region closes each balance-sheet account (net debit
    `balances[account]`) against `pool_transfer`; the new region opens the same amounts against
    it. Each entry balances, and the two cancel in the whole book. None when nothing is held."""
    held = {a: fen for a, fen in sorted(balances.items()) if fen}
    assert set(held) <= set(BALANCE_ACCOUNTS), f"only balance-sheet accounts are carried: {sorted(held)}"
    if not held:
        return None
    net = sum(held.values())

    def side(sign: int) -> tuple[Line, ...]:
        lines = [Line(a, debit_fen=sign * fen) if sign * fen > 0 else Line(a, credit_fen=-sign * fen)
                 for a, fen in held.items()]
        if net:
            lines.append(Line(POOL_TRANSFER, credit_fen=sign * net) if sign * net > 0
                         else Line(POOL_TRANSFER, debit_fen=-sign * net))
        return tuple(lines)

    return (Entry(f"{ref}:out", "pool_carried_out", on, side(-1)),
            Entry(f"{ref}:in", "pool_carried_in", on, side(+1)))


def trial_balance(lines: Iterable[tuple[str, int, int]]) -> dict[str, int]:
    """Net debit balance of each account (credit-normal accounts come out negative)."""
    out: dict[str, int] = {}
    for account, debit_fen, credit_fen in lines:
        out[account] = out.get(account, 0) + debit_fen - credit_fen
    return out
