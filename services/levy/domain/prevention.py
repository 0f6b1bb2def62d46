"""Prevention (RULES.md "Prevention and pooling"; 人社部规〔2017〕13号): the fund spends part of
its income on preventing injuries. A region's projects of a year have budgets whose total never
passes the cap — `prevention_share` of the previous year's contribution income (the
contributions collected in that calendar year, by payment date) — and spending is recorded
against a project, never beyond its budget.

`PreventionYear` (`prevention-<region>-<year>`) holds every project of a region and year, so the
cap holds whatever the concurrency (a second command on the same year gets a 409, not a breach).

| event | decides |
|---|---|
| PreventionProjectApproved | the year's budgets stay within the cap |
| PreventionSpent | a project's spending stays within its budget |
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from libs.events.aggregate import Aggregate
from libs.money import round_fen

from .events import PolicyRef, PreventionProjectApproved, PreventionSpent

ZERO = Decimal("0.00")


class PreventionRefused(Exception):
    """A budget past the cap or a spending past the budget: `field` names it (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def prevention_id(region: str, year: int) -> str:
    return f"prevention-{region}-{year}"


def prevention_cap(share: Decimal, income: Decimal) -> Decimal:
    """人社部规〔2017〕13号: at most `prevention_share` of the previous year's contribution income."""
    assert Decimal(0) <= share <= 1 and income >= 0
    return round_fen(income * share)


@dataclass
class Project:
    name: str
    budget: Decimal
    spent: Decimal = ZERO


class PreventionYear(Aggregate):
    aggregate_type = "prevention_year"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.projects: dict[str, Project] = {}

    @property
    def budgets(self) -> Decimal:
        return sum((p.budget for p in self.projects.values()), ZERO)

    def approve(self, *, project_id: str, region: str, year: int, name: str, budget: Decimal, income: Decimal,
                share: Decimal, policy_ref: PolicyRef, on: date) -> PreventionProjectApproved:
        assert project_id not in self.projects
        if budget <= 0:
            raise PreventionRefused("budget", "must be greater than 0")
        cap = prevention_cap(share, income)
        if self.budgets + budget > cap:
            raise PreventionRefused("budget", (
                f"the {year} budgets would be {self.budgets + budget}, past the cap {cap} "
                f"(prevention_share {share} × {year - 1} contribution income {income}); at most {cap - self.budgets}"))
        event = PreventionProjectApproved(project_id=project_id, region=region, year=year, name=name, budget=budget,
                                          cap=cap, income=income, share=share, budgets=self.budgets + budget,
                                          approved_on=on, policy_ref=policy_ref)
        self.trigger(event, on)
        return event

    def spend(self, *, spending_id: str, project_id: str, region: str, year: int, amount: Decimal, paid_on: date,
              payee: str, on: date) -> PreventionSpent:
        project = self.projects[project_id]
        if amount <= 0:
            raise PreventionRefused("amount", "must be greater than 0")
        if project.spent + amount > project.budget:
            raise PreventionRefused("amount", f"the project's spending would be {project.spent + amount}, past its "
                                              f"budget {project.budget}; at most {project.budget - project.spent}")
        event = PreventionSpent(spending_id=spending_id, project_id=project_id, region=region, year=year,
                                amount=amount, paid_on=paid_on, payee=payee, spent=project.spent + amount)
        self.trigger(event, on)
        return event

    def apply_PreventionProjectApproved(self, e: PreventionProjectApproved) -> None:
        self.projects[e.project_id] = Project(e.name, e.budget)
        assert self.budgets == e.budgets and e.budgets <= e.cap

    def apply_PreventionSpent(self, e: PreventionSpent) -> None:
        project = self.projects[e.project_id]
        project.spent = e.spent
        assert project.spent <= project.budget
