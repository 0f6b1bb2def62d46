"""Four eyes on payment runs: a proposed run is approved or rejected by an agency client of
another person; only an approved run's files leave, and every file served is recorded.

The race of two decisions is settled in the database: the run's status changes only from
`proposed` (a conditional update), and the run's events append at the version read (a unique
constraint), so of two decisions at once exactly one commits and the other is a 409.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select, update

from libs.events.store import ConcurrencyConflict
from libs.money import from_fen
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal
from libs.web.problems import conflict, forbidden, not_found

from . import recovery
from .domain import PaymentRun, PaymentRunFileReleased, RunNotProposed, SamePerson
from .tables import payment_runs, payout_lines, payouts

MAX_RELEASE_ATTEMPTS = 5


@dataclass(frozen=True)
class Decided:
    run_id: str
    status: str
    lines_released: int


def decide_run(ctx: ServiceContext, principal: Principal, run_id: str, approve: bool, note: str) -> Decided:
    """Approve (its files may leave) or reject (its payouts are cancelled, its lines payable again
    for the next run). The decider names a person, and not the proposer's."""
    at = datetime.now(timezone.utc)
    with ctx.uow(principal) as uow:
        session = uow.session
        row = session.execute(select(payment_runs.c.status).where(payment_runs.c.run_id == run_id)).first()
        if row is None:  # first: an id of another kind of aggregate is no run
            raise not_found("payment run", run_id)
        run = uow.load(PaymentRun, run_id)
        assert run is not None, f"payment run {run_id} has a row but no events"
        if not principal.person:
            raise forbidden("deciding a payment run needs a personal token: a client that names its person")
        released = 0
        if not approve and row.status == "proposed":
            released = session.execute(delete(payout_lines).where(payout_lines.c.run_id == run_id)).rowcount
            session.execute(update(payouts).where(payouts.c.run_id == run_id, payouts.c.status == "open")
                            .values(status="cancelled"))
        try:
            run.decide(approve, principal.client_id, principal.identity, principal.person, at, note, released)
        except RunNotProposed as exc:
            raise conflict(f"payment run {run_id} is {exc.status}, not proposed", run_status=exc.status) from None
        except SamePerson:
            raise forbidden(f"{principal.person} proposed payment run {run_id}: another person must decide it") \
                from None
        status = "approved" if approve else "rejected"
        changed = session.execute(
            update(payment_runs).where(payment_runs.c.run_id == run_id, payment_runs.c.status == "proposed")
            .values(status=status, decided_by=principal.client_id, decider=principal.person, decided_at=at,
                    note=note or None)).rowcount
        if changed != 1:  # another decision committed since this one read the run
            raise conflict(f"payment run {run_id} was decided meanwhile")
        recovery.run_decided(uow, run_id, approve, at.date())  # a rejected run leaves overpayments outstanding
        uow.save(run)
    return Decided(run_id, status, released)


def require_approved(status: str, run_id: str, what: str) -> None:
    if status != "approved":
        raise conflict(f"payment run {run_id} is {status}: {what} only once another person has approved it",
                       run_status=status)


def record_release(ctx: ServiceContext, principal: Principal, run_id: str, format_: str, bank: str | None,
                   count: int, total_fen: int) -> None:
    """The audit trail of a file served: who took which bank's file, when. Downloads of one run
    may race (each bank fetches its own): a stale version is read again, a bounded number of times."""
    event = PaymentRunFileReleased(run_id=run_id, format=format_, bank=bank, count=count,
                                   total=from_fen(total_fen), released_at=datetime.now(timezone.utc))
    for attempt in range(MAX_RELEASE_ATTEMPTS):
        try:
            with ctx.uow(principal) as uow:
                run = uow.load(PaymentRun, run_id)
                if run is None:
                    raise not_found("payment run", run_id)
                require_approved(run.status, run_id, "its files leave")
                run.release(event)
                uow.save(run)
            return
        except ConcurrencyConflict:
            if attempt == MAX_RELEASE_ATTEMPTS - 1:
                raise
