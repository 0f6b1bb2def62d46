"""Entitlements over HTTP: a claim's lines (as known at a date) and the explanation of a line,
to the fen (contract: shared/domain/API.md)."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import inspect, select, tuple_

from libs.db import writing
from libs.events.envelope import utc_now
from libs.money import yuan_str
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.problems import not_found

from . import engine
from .engine import KINDS, utc
from .projection import _facts_of, materialize_claim, policy_facts
from .tables import claim_facts, entitlement_lines, explained_lines, in_months

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_LINES = 10_000
LINE_EXAMPLE = {
    "line_id": "el_3f2a9c0d41b7e8a65c1d2e3f4a5b6c7d", "kind": "disability_allowance", "family": "long_term",
    "period": "2026-05", "amount": "7200.00", "payer": "fund", "payee": "employee:ee_0123456789abcdef",
    "status": "payable", "adjusts": [], "reason": "due for 2026-05, as known from GradeAssigned 5d1c…",
    "known_at": "2026-05-04T09:00:00+00:00"}


def _statuses(session, lines: list) -> dict[str, str]:  # noqa: ANN001 - rows with payee and line_id
    """`in_run`/`paid` for lines a payout holds (the payouts part's tables), if they exist;
    `overpayment` for a negative line an overpayment took over, `recovered` for a line kept back
    whole to recover one (payouts/recovery.py: held without a payout)."""
    if not lines or not inspect(session.connection()).has_table("payout_lines"):
        return {}
    from services.payments.payouts.tables import payment_runs, payout_lines, payouts

    out: dict[str, str] = {}
    keys = [(r.payee, r.line_id) for r in lines]  # the lock is keyed by payee, then line id
    for i in range(0, len(keys), 500):
        rows = session.execute(select(payout_lines.c.line_id, payout_lines.c.payout_id, payouts.c.status,
                                      payment_runs.c.status)
                               .outerjoin(payouts, payouts.c.payout_id == payout_lines.c.payout_id)
                               .outerjoin(payment_runs, payment_runs.c.run_id == payout_lines.c.run_id)
                               .where(tuple_(payout_lines.c.payee, payout_lines.c.line_id).in_(keys[i:i + 500])))
        for line_id, holder, status, run_status in rows:
            if status is not None:
                out[line_id] = "paid" if status == "settled" else "in_run"
            elif holder.startswith("ovp_"):
                out[line_id] = "overpayment"
            else:
                out[line_id] = "in_run" if run_status == "proposed" else "recovered"
    return out


def unpaid_status(r) -> str:  # noqa: ANN001 - an entitlement_lines row no payout holds
    if r.settled_outside:
        return "settled_outside"  # paid by the old system before going live (MIGRATION.md)
    return "payable" if r.payer == "fund" else "obligation"


def _period(r) -> str:  # noqa: ANN001 - an entitlement_lines row
    return r.period_start.isoformat() if r.kind not in engine.MONTHLY and r.period_start else r.period


def line_view(r, status: str) -> dict[str, Any]:  # noqa: ANN001
    return {"line_id": r.line_id, "kind": r.kind, "family": r.family, "period": _period(r),
            "period_start": r.period_start.isoformat() if r.period_start else None,
            "period_end": r.period_end.isoformat() if r.period_end else None,
            "amount": yuan_str(int(r.amount_fen)), "payer": r.payer, "payee": r.payee, "status": status,
            "adjusts": json.loads(r.adjusts) if r.adjusts else [], "reason": r.reason,
            "known_at": utc(r.known_at).isoformat()}


def explain_view(r, status: str) -> dict[str, Any]:  # noqa: ANN001
    explain = json.loads(r.explain_json) if r.explain_json else {}
    return {**line_view(r, status), "claim_id": r.claim_id, "employer_id": r.employer_id, "region": r.region,
            "article": explain.get("article"), "formula": explain.get("formula"), "inputs": explain.get("inputs", {}),
            "notes": explain.get("notes", []), "adjustment": explain.get("adjustment"),
            "insured_wage_policy_ref": explain.get("insured_wage_policy_ref"),
            "migrated": explain.get("migrated", []), "settled_outside": r.settled_outside,
            "policy_ref": json.loads(r.policy_ref_json) if r.policy_ref_json else None,
            "source_event_ids": json.loads(r.source_event_ids_json) if r.source_event_ids_json else [],
            "explain": explain}


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["entitlements"])

    @router.get("/v1/claims/{claim_id}/entitlements",
                summary="Every benefit line of a claim (as known at the end of `as_of`, when given)",
                responses={200: {"content": {"application/json": {"example": {
                    "claim_id": "clm_6f1c2a", "as_of": None, "items": [LINE_EXAMPLE], "notes": [],
                    "totals": {"fund": "7200.00", "employer": "0.00"}}}}}})
    def entitlements(claim_id: str = Path(pattern=ID), as_of: date | None = Query(None, examples=["2026-06-30"]),
                     _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        el = entitlement_lines
        with ctx.session_factory() as s:
            if s.execute(select(claim_facts.c.event_id).where(claim_facts.c.claim_id == claim_id).limit(1)).first() is None:
                raise not_found("claim", claim_id)
        now = utc_now()
        with writing(ctx.session_factory) as s:
            materialize_claim(s, claim_id, now)  # the months begun since the last fact
        with ctx.session_factory() as s:
            q = select(el).where(in_months(el, s, "claim_id", [claim_id]))
            if as_of is not None:
                q = q.where(el.c.known_at < datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=timezone.utc))
            rows = s.execute(q.order_by(el.c.period, el.c.kind, el.c.known_at, el.c.line_id).limit(MAX_LINES)).all()
            statuses = _statuses(s, rows)
            facts, app = _facts_of(s, claim_id)
            notes = engine.notes(facts, policy_facts(s, app["region"]) if app else [], engine.month_of(now.date()))
        items = [line_view(r, statuses.get(r.line_id, unpaid_status(r))) for r in rows]
        totals = {payer: yuan_str(sum((Decimal(i["amount"]) for i in items if i["payer"] == payer), Decimal("0.00")))
                  for payer in ("fund", "employer")}
        return {"claim_id": claim_id, "as_of": as_of.isoformat() if as_of else None, "items": items, "notes": notes,
                "totals": totals}

    @router.get("/v1/payouts/{payout_id}/explain",
                summary="How an amount was computed: the formula, every input, the source events and the policy "
                        "version (a line id, or a payout id: each of its lines)")
    def explain(payout_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        el = entitlement_lines
        with ctx.session_factory() as s:
            row = s.execute(explained_lines().where(in_months(el, s, "line_id", [payout_id]))).first()
            if row is not None:
                return explain_view(row, _statuses(s, [row]).get(row.line_id, unpaid_status(row)))
            if inspect(s.connection()).has_table("payout_members"):
                from services.payments.payouts.tables import payout_members, payouts

                payout = s.execute(select(payouts).where(payouts.c.payout_id == payout_id)).first()
                if payout is not None:
                    from services.payments.payouts.recovery import payout_explanation

                    ids = list(s.execute(select(payout_members.c.line_id)
                                         .where(payout_members.c.payout_id == payout_id)).scalars())
                    rows = s.execute(explained_lines().where(in_months(el, s, "line_id", ids))
                                     .order_by(el.c.line_id)).all()
                    status = "paid" if payout.status == "settled" else "in_run"
                    return {"payout_id": payout_id, "payee": payout.payee, "amount": yuan_str(int(payout.amount_fen)),
                            "status": payout.status,
                            **payout_explanation(s, payout, [int(r.amount_fen) for r in rows]),
                            "lines": [explain_view(r, status) for r in rows]}
        raise not_found("payout or entitlement line", payout_id)

    return router


__all__ = ["build_router", "KINDS"]
