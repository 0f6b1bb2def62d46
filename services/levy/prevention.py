"""Prevention projects and their spending (RULES.md "Prevention and pooling"): one function per
command or query, no HTTP here. The year's budgets never pass `prevention_share` of the previous
year's contribution income; a project's spending never passes its budget; every budget and every
spending is a balanced posting of the fund's books, written in the transaction of its event.
"""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from libs.money import NotMoney, from_fen, parse_yuan, to_fen, yuan_str
from libs.policy.projection import policies_in_force
from libs.pooling import Window

from . import books, pooling
from .domain import ledger
from .domain.prevention import PreventionRefused, PreventionYear, prevention_cap, prevention_id
from .handlers import COLLECTION_KINDS, Actor, Invalid, NotFound, _policy, _ref, contributions_collected, today
from .tables import postings, prevention_projects, prevention_spending

MAX_YEARS_SHOWN = 100
MAX_PROJECTS_LISTED = 1000


def _money(field: str, text: Any) -> Decimal:
    try:
        return parse_yuan(text)
    except NotMoney as exc:
        raise Invalid.one(field, str(exc)) from None


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def year_cap(session: Session, region: str, year: int) -> tuple[Decimal, Decimal, Decimal, Any]:
    """(cap, income, share, policy version): the share in force on the year's first day, times
    the contributions collected in the year before by the pools that belong to the region on that
    day. A pool consolidated away by then has no year: 422 naming `region`."""
    first = date(year, 1, 1)
    gone = pooling.moves(session).get(region)
    if gone is not None and gone.effective_from <= first:
        raise Invalid.one("region", f"pool {region} belongs to {gone.into_region} from "
                                    f"{gone.effective_from.isoformat()}: its prevention is {gone.into_region}'s")
    version = _policy(session, region, first, "year")
    share = version.document.prevention_share
    income = from_fen(contributions_collected(session, region, *_year_bounds(year - 1), pools_of_day=first))
    return prevention_cap(share, income), income, share, version


def _post(session: Session, region: str, ref: str, entry: ledger.Entry) -> None:
    books.replace(session, (postings.c.source == "prevention", postings.c.ref == ref), [
        {"entry_id": entry.entry_id, "kind": entry.kind, "account": ln.account, "debit_fen": ln.debit_fen,
         "credit_fen": ln.credit_fen, "posted_on": entry.posted_on, "source": "prevention", "region": region,
         "employer_id": None, "run_id": None, "ref": ref} for ln in entry.lines])


def approve_project(ctx, actor: Actor, region: str, year: int, name: str, budget_text: Any) -> dict[str, Any]:  # noqa: ANN001
    now = today()
    if not 2000 <= year <= now.year + 1:
        raise Invalid.one("year", f"must be between 2000 and {now.year + 1}")
    budget = _money("budget", budget_text)
    project_id = "pvp_" + uuid.uuid4().hex[:16]
    with ctx.uow(actor) as uow:
        session = uow.session
        cap, income, share, version = year_cap(session, region, year)
        aggregate = uow.load(PreventionYear, prevention_id(region, year)) or PreventionYear(prevention_id(region, year))
        try:
            event = aggregate.approve(project_id=project_id, region=region, year=year, name=name, budget=budget,
                                      income=income, share=share, policy_ref=_ref(version), on=now)
        except PreventionRefused as exc:
            raise Invalid.one(exc.field, exc.message) from None
        uow.save(aggregate)
        session.execute(insert(prevention_projects).values(
            project_id=project_id, region=region, year=year, name=name, budget_fen=to_fen(budget), spent_fen=0,
            cap_fen=to_fen(cap), approved_on=now))
        _post(session, region, project_id, ledger.prevention_budget_entry(project_id, now, to_fen(budget)))
    return {"project_id": project_id, "aggregate_id": aggregate.id, "region": region, "year": year, "name": name,
            "budget": yuan_str(budget), "spent": "0.00", "cap": yuan_str(event.cap), "income": yuan_str(income),
            "share": str(share), "budgets": yuan_str(event.budgets), "room": yuan_str(event.cap - event.budgets),
            "policy_ref": event.policy_ref.model_dump(mode="json")}


def record_spending(ctx, actor: Actor, region: str, project_id: str, amount_text: Any, paid_on: date,  # noqa: ANN001
                    payee: str) -> dict[str, Any]:
    amount = _money("amount", amount_text)
    now = today()
    if paid_on > now:
        raise Invalid.one("paid_on", f"is in the future (today is {now.isoformat()})")
    with ctx.session_factory() as session:
        project = session.execute(select(prevention_projects).where(
            prevention_projects.c.project_id == project_id, prevention_projects.c.region == region)).first()
    if project is None:
        raise NotFound(f"prevention project {project_id} of region {region} does not exist")
    if paid_on < date(project.year, 1, 1):
        raise Invalid.one("paid_on", f"is before the project's year {project.year}")
    spending_id = "pvs_" + uuid.uuid4().hex[:16]
    with ctx.uow(actor) as uow:
        session = uow.session
        aggregate = uow.load(PreventionYear, prevention_id(region, project.year))
        assert aggregate is not None
        try:
            event = aggregate.spend(spending_id=spending_id, project_id=project_id, region=region, year=project.year,
                                    amount=amount, paid_on=paid_on, payee=payee, on=now)
        except PreventionRefused as exc:
            raise Invalid.one(exc.field, exc.message) from None
        uow.save(aggregate)
        session.execute(insert(prevention_spending).values(
            spending_id=spending_id, project_id=project_id, region=region, amount_fen=to_fen(amount), paid_on=paid_on,
            payee=payee))
        session.execute(update(prevention_projects).where(prevention_projects.c.project_id == project_id)
                        .values(spent_fen=to_fen(event.spent)))
        _post(session, region, spending_id, ledger.prevention_spending_entry(spending_id, paid_on, to_fen(amount)))
    budget = from_fen(project.budget_fen)
    return {"spending_id": spending_id, "project_id": project_id, "region": region, "amount": yuan_str(amount),
            "paid_on": paid_on.isoformat(), "payee": payee, "spent": yuan_str(event.spent),
            "remaining": yuan_str(budget - event.spent)}


def _project_view(row: Any) -> dict[str, Any]:
    return {"project_id": row.project_id, "year": row.year, "name": row.name, "budget": yuan_str(int(row.budget_fen)),
            "spent": yuan_str(int(row.spent_fen)), "remaining": yuan_str(int(row.budget_fen - row.spent_fen)),
            "approved_on": row.approved_on.isoformat()}


def projects_view(ctx, region: str, year: int) -> dict[str, Any]:  # noqa: ANN001
    with ctx.session_factory() as session:
        cap, income, share, _version = year_cap(session, region, year)
        rows = session.execute(select(prevention_projects).where(
            prevention_projects.c.region == region, prevention_projects.c.year == year)
            .order_by(prevention_projects.c.approved_on, prevention_projects.c.project_id)
            .limit(MAX_PROJECTS_LISTED)).all()
    budgets = sum(int(r.budget_fen) for r in rows)
    return {"region": region, "year": year, "cap": yuan_str(cap), "income": yuan_str(income), "share": str(share),
            "budgets": yuan_str(budgets), "spent": yuan_str(sum(int(r.spent_fen) for r in rows)),
            "room": yuan_str(to_fen(cap) - budgets), "items": [_project_view(r) for r in rows]}


def statement_years(session: Session, region: str, start: date, end: date) -> list[dict[str, Any]]:
    """The fund statement's prevention figures: each year of the period that has projects, and
    the period's last year: cap (as of now), budgets, and what was spent up to `end`."""
    return statement_years_in_ranges(session, region, [(start, end)])[0]


def _incomes(session: Session, region: str, years: list[int]) -> dict[int, int]:
    """Fen of each year's cap basis (handlers.contributions_collected of the year before by the
    pools that belong to the region on the year's first day): one read per set of pools."""
    known = pooling.moves(session)
    by_pools: dict[tuple[str, ...], list[int]] = {}
    for year in years:
        by_pools.setdefault(tuple(pooling.pools_on(region, date(year, 1, 1), known)), []).append(year)
    out = {}
    for pools, of_pools in by_pools.items():
        cuts = sorted({d for year in of_pools for d in (date(year - 1, 1, 1), date(year, 1, 1))})
        book = books.sums_by_days(session, [Window(source, None, None) for source in pools], cuts, max(cuts),
                                  accounts=(ledger.CONTRIBUTIONS_RECEIVABLE,), kinds=COLLECTION_KINDS)
        for year in of_pools:
            out[year] = sum(c - d for d, c in book.between(*_year_bounds(year - 1)).values())
    return out


def statement_years_in_ranges(session: Session, region: str,
                              ranges: list[tuple[date, date]]) -> list[list[dict[str, Any]]]:
    """`statement_years` of each of `ranges` (from, to), each year's figures read once."""
    first_year, last_year = min(a.year for a, _b in ranges), max(b.year for _a, b in ranges)
    with_projects = set(session.execute(select(prevention_projects.c.year).distinct().where(
        prevention_projects.c.region == region, prevention_projects.c.year >= first_year,
        prevention_projects.c.year <= last_year)).scalars())
    years_of = [sorted({*(y for y in with_projects if start.year <= y <= end.year), end.year})[-MAX_YEARS_SHOWN:]
                for start, end in ranges]
    shown = sorted({y for years in years_of for y in years})
    spending: dict[int, list[tuple[date, int]]] = {year: [] for year in shown}  # each year's spending by day
    for year, paid_on, amount_fen in session.execute(
            select(prevention_projects.c.year, prevention_spending.c.paid_on, func.sum(prevention_spending.c.amount_fen))
            .select_from(prevention_spending.join(
                prevention_projects, prevention_projects.c.project_id == prevention_spending.c.project_id))
            .where(prevention_projects.c.region == region, prevention_projects.c.year.in_(shown),
                   prevention_spending.c.paid_on <= max(b for _a, b in ranges))
            .group_by(prevention_projects.c.year, prevention_spending.c.paid_on)):
        spending[year].append((paid_on, int(amount_fen)))
    versions = policies_in_force(session, region, [date(year, 1, 1) for year in shown])
    budgets = dict(session.execute(
        select(prevention_projects.c.year, func.sum(prevention_projects.c.budget_fen))
        .where(prevention_projects.c.region == region, prevention_projects.c.year.in_(shown))
        .group_by(prevention_projects.c.year)).all())
    incomes = _incomes(session, region, shown)
    figures = {}
    for year in shown:
        version = versions[date(year, 1, 1)]
        share = version.document.prevention_share if version else Decimal(0)
        income = from_fen(incomes[year])
        figures[year] = {"year": year, "share": str(share), "income": yuan_str(income),
                         "cap": yuan_str(prevention_cap(share, income)), "budgets": yuan_str(int(budgets.get(year) or 0))}
    return [[{**figures[year], "spent": yuan_str(sum(fen for day, fen in spending[year] if day <= end))}
             for year in years] for (_start, end), years in zip(ranges, years_of)]
