"""What a reviewer sees of a payment run before approving it: its state and who acted, its
totals by bank, and what changed against the region's previous run (new payees, payees gone,
amounts that moved by more than 30%). Queries on the read model; nothing here writes."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from libs.money import yuan_str

from .tables import payment_runs, payouts

MOVED_PERCENT = 30
CHANGES_SHOWN = 100  # payees listed per kind of change; the counts are always whole
PAYOUTS_SHOWN = 1000


def previous_run(session: Session, run) -> str | None:  # noqa: ANN001 - a payment_runs row
    """The region's last run before this one that was not rejected (a rejected run paid nothing)."""
    r = payment_runs.c
    return session.execute(
        select(r.run_id).where(r.region == run.region, r.status != "rejected", r.run_id != run.run_id,
                               r.created_at <= run.created_at)
        .order_by(r.created_at.desc(), r.run_id.desc()).limit(1)).scalar()


def by_bank(session: Session, run_id: str) -> list[dict[str, Any]]:
    p = payouts.c
    rows = session.execute(select(p.bank_part, func.count(), func.sum(p.amount_fen)).where(p.run_id == run_id)
                           .group_by(p.bank_part).order_by(p.bank_part)).all()
    return [{"bank": bank, "count": count, "total": yuan_str(int(total))} for bank, count, total in rows]


def _per_payee(run_id: str):  # noqa: ANN202
    p = payouts.c
    return (select(p.payee, func.sum(p.amount_fen).label("amount_fen")).where(p.run_id == run_id)
            .group_by(p.payee).subquery())


def _only_in(session: Session, run_id: str, other_id: str) -> dict[str, Any]:
    mine, theirs = payouts.alias("mine"), payouts.alias("theirs")
    absent = ~exists().where(theirs.c.run_id == other_id, theirs.c.payee == mine.c.payee)
    where = and_(mine.c.run_id == run_id, absent)
    count = session.execute(select(func.count(func.distinct(mine.c.payee))).where(where)).scalar_one()
    rows = session.execute(select(mine.c.payee, func.sum(mine.c.amount_fen)).where(where).group_by(mine.c.payee)
                           .order_by(mine.c.payee).limit(CHANGES_SHOWN)).all()
    return {"count": count, "items": [{"payee": payee, "amount": yuan_str(int(fen))} for payee, fen in rows]}


def changes(session: Session, run_id: str, previous_id: str | None) -> dict[str, Any]:
    if previous_id is None:
        return {"previous_run_id": None, "moved_percent": MOVED_PERCENT, "new_payees": None,
                "payees_gone": None, "moved": None}
    now, before = _per_payee(run_id), _per_payee(previous_id)
    moved = and_(now.c.payee == before.c.payee,
                 100 * func.abs(now.c.amount_fen - before.c.amount_fen) > MOVED_PERCENT * before.c.amount_fen)
    joined = now.join(before, moved)
    count = session.execute(select(func.count()).select_from(joined)).scalar_one()
    rows = session.execute(select(now.c.payee, before.c.amount_fen, now.c.amount_fen).select_from(joined)
                           .order_by(now.c.payee).limit(CHANGES_SHOWN)).all()
    return {
        "previous_run_id": previous_id,
        "moved_percent": MOVED_PERCENT,
        "new_payees": _only_in(session, run_id, previous_id),
        "payees_gone": _only_in(session, previous_id, run_id),
        "moved": {"count": count, "items": [
            {"payee": payee, "previous": yuan_str(int(was)), "amount": yuan_str(int(is_)),
             "change_percent": f"{(int(is_) - int(was)) * 100 / int(was):+.1f}"} for payee, was, is_ in rows]},
    }


def decision_of(run) -> tuple[str | None, dict | None]:  # noqa: ANN001
    if run.status not in ("approved", "rejected") or run.decided_by is None:
        return None, None
    return run.status, {"client_id": run.decided_by, "person": run.decider,
                        "at": run.decided_at.isoformat() if run.decided_at else None, "note": run.note or ""}


def summary(run) -> dict[str, Any]:  # noqa: ANN001 - a payment_runs row
    status, decision = decision_of(run)
    return {"run_id": run.run_id, "region": run.region, "period": run.period, "status": run.status,
            "count": run.count, "total": yuan_str(run.total_fen), "execution_date": run.execution_date.isoformat(),
            "created_at": run.created_at.isoformat(),
            "proposed_by": {"client_id": run.proposed_by, "person": run.proposer} if run.proposed_by else None,
            "approved_by": decision if status == "approved" else None,
            "rejected_by": decision if status == "rejected" else None}


def run_view(session: Session, run) -> dict[str, Any]:  # noqa: ANN001
    from .recovery import payout_deductions, run_recoveries  # overpayments kept back (recovery.py)

    rows = session.execute(select(payouts).where(payouts.c.run_id == run.run_id).order_by(payouts.c.payout_id)
                           .limit(PAYOUTS_SHOWN)).all()
    kept = payout_deductions(session, [r.payout_id for r in rows])

    def deduction(r) -> dict[str, Any]:  # noqa: ANN001
        fen = sum(int(d.amount_fen) for d in kept.get(r.payout_id, []))
        return {"gross": yuan_str(r.amount_fen + fen), "deduction": yuan_str(fen),
                "overpayments": [d.overpayment_id for d in kept.get(r.payout_id, [])]}

    return {**summary(run), "by_bank": by_bank(session, run.run_id),
            "changes": changes(session, run.run_id, previous_run(session, run)),
            "recoveries": run_recoveries(session, run.run_id),
            "payouts": [{"payout_id": r.payout_id, "payee": r.payee, "bank_code": r.bank_code,
                         "amount": yuan_str(r.amount_fen), **deduction(r), "lines": r.line_count, "status": r.status,
                         "reason": r.reason} for r in rows]}
