"""Recovering overpayments in payment runs (RULES.md "Appeals, reversals and recovery").

A run does three things here, each in the transaction of the step it belongs to:

* **recognize** (proposing the run): a fund line that takes back part of a month already paid
  (negative, naming in `adjusts` a line a payout holds or the old system paid) is an overpayment
  when the payable lines of its month (claim, payee, kind, period) still net below zero — nothing
  owed for that month offsets it. Those lines are locked under the overpayment's id (the same
  lock as a payout's, so no run pays or recognizes them again) and `OverpaymentRecognized` is
  recorded: it stands whatever becomes of the run.
* **plan** (proposing the run): each payout of a payee with overpayments outstanding keeps back
  min(outstanding, floor(recovery_max_share × gross)), oldest overpayment first, as a member line
  of its own (kind `overpayment_recovery`, negative), so a payout still equals the sum of its
  lines. A deduction that takes all the payee is owed makes no transfer: the lines are locked
  under a `rcv_…` id instead of a payout. Nothing is recorded on the overpayment yet.
* **record** (deciding the run): approved → `OverpaymentRecovered` for each deduction; rejected →
  the deductions are dropped and the overpayment stays outstanding. A payout the bank returns
  undoes its deduction (`OverpaymentRecoveryUndone`) as its lines become payable again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import Select, exists, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from libs.events.uow import UnitOfWork
from libs.money import from_fen, to_fen, yuan_str
from libs.policy.projection import policy_in_force, policy_ref
from libs.web.problems import conflict

from ..entitlements.tables import in_months
from .overpayments import OverpaidLine, Overpayment, OverpaymentRecognized
from .tables import entitlement_lines, overpayment_deductions, overpayments, payout_lines

RECOVERY_KIND = "overpayment_recovery"
RECOVERY_FAMILY = "recovery"
DEFAULT_SHARE = Decimal("1.00")  # the national default of recovery_max_share
MAX_OUTSTANDING = 200_000  # overpayments outstanding that one run plans against
LOOKUP_CHUNK = 500


def _chunks(items: list, size: int = LOOKUP_CHUNK):  # noqa: ANN202
    for i in range(0, len(items), size):
        yield items[i:i + size]


def recovery_share(session: Session, region: str, on: date) -> tuple[Decimal, dict | None]:
    version = policy_in_force(session, region, on)
    if version is None:
        return DEFAULT_SHARE, None
    return version.document.recovery_max_share, policy_ref(version)


def overpayment_id_of(payee: str, claim_id: str, line_ids: list[str]) -> str:
    """Derived from the lines it takes over: recognizing the same lines twice is the same id."""
    digest = hashlib.sha256("|".join([payee, claim_id, *sorted(line_ids)]).encode()).hexdigest()
    return f"ovp_{digest[:24]}"


# ---- recognizing -------------------------------------------------------------------------

def _paid(session: Session, line_ids: set[str]) -> set[str]:
    """Which of these lines a payout (or an overpayment) holds, or the old system paid. The lock
    is keyed by payee first: each line's payee from the line itself."""
    el, out = entitlement_lines, set()
    for chunk in _chunks(sorted(line_ids)):
        lines = session.execute(select(el.c.payee, el.c.line_id, el.c.settled_outside)
                                .where(in_months(el, session, "line_id", chunk))).all()
        out |= {r.line_id for r in lines if r.settled_outside is not None}
        keys = [(r.payee, r.line_id) for r in lines]
        if keys:
            out |= set(session.execute(select(payout_lines.c.line_id)
                                       .where(tuple_(payout_lines.c.payee, payout_lines.c.line_id).in_(keys)))
                       .scalars())
    return out


def _payable(regions: list[str], period: str) -> tuple:
    el = entitlement_lines
    taken = exists().where(payout_lines.c.payee == el.c.payee, payout_lines.c.line_id == el.c.line_id)
    return (el.c.payer == "fund", el.c.region.in_(regions), el.c.period <= period, ~taken,
            el.c.settled_outside.is_(None))


def negative_lines(regions: list[str], period: str) -> Select:
    """The payable lines of `regions` up to `period` that correct others (negative, adjusting):
    read from the partial index of negative lines (entitle28_negative_lines), not from every line
    of the regions' history."""
    el = entitlement_lines
    return (select(el.c.claim_id, el.c.payee, el.c.kind, el.c.period, el.c.adjusts)
            .where(*_payable(regions, period), el.c.amount_fen < 0, el.c.adjusts.is_not(None),
                   el.c.adjusts != "[]"))


def recognize(uow: UnitOfWork, region: str, period: str, run_id: str, on: date,
              pools: list[str] | None = None) -> list[str]:
    """The overpayments of the region's lines up to `period` (see the module's docstring), and of
    the `pools` whose lines its run pays (runs.pools_of: those consolidated into it)."""
    session = uow.session
    el = entitlement_lines
    regions = pools or [region]
    payable = _payable(regions, period)
    negatives = session.execute(negative_lines(regions, period)).all()
    corrected = {r: json.loads(r.adjusts) for r in negatives}
    paid = _paid(session, {i for ids in corrected.values() for i in ids})
    keys = sorted({(r.claim_id, r.payee, r.kind, r.period) for r, ids in corrected.items() if paid & set(ids)})
    groups: dict[tuple[str, str], list] = {}
    for claim_id, payee, kind, month in keys:
        rows = session.execute(select(el.c.line_id, el.c.employer_id, el.c.kind, el.c.family, el.c.period,
                                      el.c.amount_fen)
                               .where(*payable, el.c.claim_id == claim_id, el.c.payee == payee, el.c.kind == kind,
                                      el.c.period == month).order_by(el.c.line_id)).all()
        if sum(r.amount_fen for r in rows) < 0:  # nothing payable of the month offsets it
            groups.setdefault((payee, claim_id), []).extend(rows)
    if not groups:
        return []
    share, ref = recovery_share(session, region, on)
    now = datetime.now(timezone.utc)
    found = []
    for (payee, claim_id), rows in sorted(groups.items()):
        overpayment_id = overpayment_id_of(payee, claim_id, [r.line_id for r in rows])
        try:
            with session.begin_nested():  # the lock first: a concurrent run that took them wins
                session.execute(insert(payout_lines), [
                    {"payee": payee, "line_id": r.line_id, "payout_id": overpayment_id, "run_id": overpayment_id}
                    for r in rows])
        except IntegrityError:
            raise conflict("another payment run is recognizing the same overpayment; retry") from None
        amount_fen = -sum(r.amount_fen for r in rows)
        employer_id = next((r.employer_id for r in rows if r.employer_id), None)
        event = OverpaymentRecognized(
            overpayment_id=overpayment_id, region=region, payee=payee, claim_id=claim_id, employer_id=employer_id,
            amount=from_fen(amount_fen), recognized_on=on, run_id=run_id, recovery_max_share=share, policy_ref=ref,
            lines=tuple(OverpaidLine(line_id=r.line_id, kind=r.kind, family=r.family, period=r.period,
                                     amount=from_fen(r.amount_fen)) for r in rows))
        overpayment = Overpayment(overpayment_id)
        overpayment.recognize(event)
        uow.save(overpayment)
        session.execute(insert(overpayments).values(
            overpayment_id=overpayment_id, region=region, payee=payee, claim_id=claim_id, employer_id=employer_id,
            run_id=run_id, recognized_on=on, recognized_at=now, recovery_max_share=str(share),
            lines_json=json.dumps([ln.model_dump(mode="json") for ln in event.lines]), recognized_fen=amount_fen,
            recovered_fen=0, written_off_fen=0, outstanding_fen=amount_fen, status="outstanding"))
        found.append(overpayment_id)
    return found


# ---- planning deductions -------------------------------------------------------------------

@dataclass
class _Debt:
    overpayment_id: str
    claim_id: str
    employer_id: str | None
    available_fen: int


@dataclass
class Deductions:
    """The deductions of one run, planned batch by batch (`deduct`) as the run writes payouts."""

    run_id: str
    share: Decimal
    debts: dict[str, list[_Debt]] = field(default_factory=dict)  # payee → oldest first
    kept_fen: int = 0

    @classmethod
    def load(cls, session: Session, run_id: str, region: str, on: date) -> "Deductions":
        """Every overpayment outstanding, less what proposed runs already plan to keep back of it."""
        share, _ref = recovery_share(session, region, on)
        d = overpayment_deductions
        planned = (select(d.c.overpayment_id, func.sum(d.c.amount_fen).label("fen"))
                   .where(d.c.status == "planned").group_by(d.c.overpayment_id).subquery())
        o = overpayments
        rows = session.execute(
            select(o.c.overpayment_id, o.c.payee, o.c.claim_id, o.c.employer_id,
                   (o.c.outstanding_fen - func.coalesce(planned.c.fen, 0)).label("available"))
            .outerjoin(planned, planned.c.overpayment_id == o.c.overpayment_id)
            .where(o.c.outstanding_fen > 0)
            .order_by(o.c.payee, o.c.recognized_at, o.c.overpayment_id).limit(MAX_OUTSTANDING + 1)).all()
        assert len(rows) <= MAX_OUTSTANDING, f"more than {MAX_OUTSTANDING} overpayments outstanding"
        out = cls(run_id, share)
        for r in rows:
            if r.available > 0:
                out.debts.setdefault(r.payee, []).append(_Debt(r.overpayment_id, r.claim_id, r.employer_id,
                                                               int(r.available)))
        return out

    def deduct(self, session: Session, batch) -> None:  # noqa: ANN001 - runs.PlanBatch
        """Keep back of each payout of the batch what its payee owes, up to the share of its gross."""
        if not self.debts:
            return
        from .runs import AMOUNT_FEN, FAMILY, LINE_ID, PAYEE

        for p in list(batch.payouts):
            debts = self.debts.get(p.payee)
            if not debts:
                continue
            gross = p.amount_fen
            room = int((Decimal(gross) * self.share).to_integral_value(rounding=ROUND_FLOOR))
            parts = []
            for debt in debts:
                take = min(debt.available_fen, room)
                if take > 0:
                    parts.append((debt, take))
                    debt.available_fen -= take
                    room -= take
            if not parts:
                continue
            kept = sum(take for _, take in parts)
            self.kept_fen += kept
            if kept < gross:
                holder, payout_id = p.payout_id, p.payout_id
                for debt, take in parts:
                    p.lines.append((f"recovery-{debt.overpayment_id}-{p.payout_id}", debt.claim_id, debt.employer_id,
                                    RECOVERY_KIND, RECOVERY_FAMILY, -take, p.payee, p.account.bank_code,
                                    p.account.account_no, p.account.holder, None))
                p.amount_fen = gross - kept
            else:  # all the payee is owed is kept back: no transfer, the lines held by the recovery
                holder, payout_id = "rcv_" + p.payout_id[3:], None
                batch.payouts.remove(p)
                session.execute(insert(payout_lines), [
                    {"payee": r[PAYEE], "line_id": r[LINE_ID], "payout_id": holder, "run_id": self.run_id}
                    for r in p.lines])
                families = by_family([(r[FAMILY], r[AMOUNT_FEN]) for r in p.lines], [take for _, take in parts])
                line_ids = [r[LINE_ID] for r in p.lines]
            session.execute(insert(overpayment_deductions), [
                {"holder_id": holder, "overpayment_id": debt.overpayment_id, "run_id": self.run_id,
                 "payout_id": payout_id, "payee": p.payee, "gross_fen": gross, "amount_fen": take,
                 "status": "planned",
                 "lines_json": None if payout_id else json.dumps({"line_ids": line_ids, "families": families[i]})}
                for i, (debt, take) in enumerate(parts)])


def by_family(lines: list[tuple[str, int]], parts_fen: list[int]) -> list[dict[str, int]]:
    """The lines a recovery kept back whole, by family, shared among its parts (one per
    overpayment) in order: each part takes the families in name order until its amount is met,
    so each part's families add up to its amount and all parts to the lines (a family netting
    below zero is carried by the largest)."""
    totals: dict[str, int] = {}
    for family, fen in lines:
        totals[family] = totals.get(family, 0) + fen
    assert sum(totals.values()) == sum(parts_fen) > 0
    for family in [f for f, fen in totals.items() if fen < 0]:
        largest = max((f for f in totals if totals[f] > 0), key=lambda f: (totals[f], f))
        totals[largest] += totals.pop(family)
    left = sorted((f, fen) for f, fen in totals.items() if fen > 0)
    out: list[dict[str, int]] = []
    for need in parts_fen:
        part: dict[str, int] = {}
        while need:
            family, fen = left[0]
            take = min(fen, need)
            part[family] = part.get(family, 0) + take
            need -= take
            left[0] = (family, fen - take)
            if left[0][1] == 0:
                left.pop(0)
        out.append(part)
    return out


# ---- recording ---------------------------------------------------------------------------

def _refresh(session: Session, overpayment: Overpayment) -> None:
    session.execute(update(overpayments).where(overpayments.c.overpayment_id == overpayment.id).values(
        recovered_fen=to_fen(overpayment.recovered), written_off_fen=to_fen(overpayment.written_off),
        outstanding_fen=to_fen(overpayment.outstanding), status=overpayment.status))


def run_decided(uow: UnitOfWork, run_id: str, approved: bool, on: date) -> None:
    """Approved: each planned deduction is recovered. Rejected: dropped (still outstanding)."""
    session = uow.session
    d = overpayment_deductions
    rows = session.execute(select(d).where(d.c.run_id == run_id, d.c.status == "planned")
                           .order_by(d.c.overpayment_id, d.c.holder_id)).all()
    if not rows:
        return
    if not approved:
        session.execute(update(d).where(d.c.run_id == run_id, d.c.status == "planned").values(status="cancelled"))
        return
    loaded: dict[str, Overpayment] = {}
    for r in rows:
        overpayment = loaded.get(r.overpayment_id) or uow.load(Overpayment, r.overpayment_id)
        assert overpayment is not None, f"deduction for unknown overpayment {r.overpayment_id}"
        loaded[r.overpayment_id] = overpayment
        if from_fen(r.amount_fen) > overpayment.outstanding:  # two runs of different regions planned it at once
            raise conflict(f"overpayment {r.overpayment_id} was recovered by another run since this one was "
                           f"proposed: reject this run and propose it again", overpayment_id=r.overpayment_id)
        whole = json.loads(r.lines_json) if r.lines_json else {"line_ids": [], "families": {}}
        overpayment.recover(run_id, r.payout_id, from_fen(r.amount_fen), from_fen(r.gross_fen), on,
                            tuple(whole["line_ids"]), {f: from_fen(fen) for f, fen in whole["families"].items()})
    for overpayment in loaded.values():
        uow.save(overpayment)
        _refresh(session, overpayment)
    session.execute(update(d).where(d.c.run_id == run_id, d.c.status == "planned").values(status="recovered"))


def payout_returned(uow: UnitOfWork, payout_id: str, run_id: str, on: date, reason: str) -> None:
    """The bank returned the payout: what it kept back is outstanding again (its lines are payable)."""
    session = uow.session
    d = overpayment_deductions
    rows = session.execute(select(d).where(d.c.holder_id == payout_id, d.c.status == "recovered")).all()
    for r in rows:
        overpayment = uow.load(Overpayment, r.overpayment_id)
        assert overpayment is not None
        overpayment.undo(run_id, payout_id, from_fen(r.amount_fen), on, reason)
        uow.save(overpayment)
        _refresh(session, overpayment)
    if rows:
        session.execute(update(d).where(d.c.holder_id == payout_id, d.c.status == "recovered").values(status="undone"))


# ---- views -------------------------------------------------------------------------------

def deductions_view(rows) -> list[dict]:  # noqa: ANN001
    return [{"overpayment_id": r.overpayment_id, "run_id": r.run_id, "payout_id": r.payout_id,
             "held_by": r.holder_id, "gross": yuan_str(int(r.gross_fen)), "amount": yuan_str(int(r.amount_fen)),
             "status": r.status} for r in rows]


def overpayment_view(session: Session, r) -> dict:  # noqa: ANN001 - an overpayments row
    d = overpayment_deductions
    recoveries = session.execute(select(d).where(d.c.overpayment_id == r.overpayment_id)
                                 .order_by(d.c.run_id, d.c.holder_id)).all()
    return {"overpayment_id": r.overpayment_id, "region": r.region, "payee": r.payee, "claim_id": r.claim_id,
            "employer_id": r.employer_id, "status": r.status, "recognized_on": r.recognized_on.isoformat(),
            "recognized_by_run": r.run_id, "recovery_max_share": r.recovery_max_share,
            "amount": yuan_str(int(r.recognized_fen)), "recovered": yuan_str(int(r.recovered_fen)),
            "written_off": yuan_str(int(r.written_off_fen)), "outstanding": yuan_str(int(r.outstanding_fen)),
            "write_off": ({"reason": r.write_off_reason, "written_off_on": r.written_off_on.isoformat()}
                          if r.written_off_on else None),
            "lines": json.loads(r.lines_json), "recoveries": deductions_view(recoveries)}


def run_recoveries(session: Session, run_id: str) -> dict:
    """What a run keeps back: per payout (in its payouts) and in whole (no transfer)."""
    d = overpayment_deductions
    rows = session.execute(select(d).where(d.c.run_id == run_id).order_by(d.c.holder_id, d.c.overpayment_id)).all()
    whole = [r for r in rows if r.payout_id is None]
    return {"count": len(rows), "total": yuan_str(sum(int(r.amount_fen) for r in rows)),
            "kept_back_whole": [{"payee": r.payee, "held_by": r.holder_id, "overpayment_id": r.overpayment_id,
                                 "gross": yuan_str(int(r.gross_fen)), "amount": yuan_str(int(r.amount_fen)),
                                 "status": r.status} for r in whole[:1000]]}


def payout_deductions(session: Session, payout_ids: list[str]) -> dict[str, list]:
    out: dict[str, list] = {}
    d = overpayment_deductions
    for chunk in _chunks(payout_ids):
        for r in session.execute(select(d).where(d.c.holder_id.in_(chunk)).order_by(d.c.overpayment_id)):
            out.setdefault(r.holder_id, []).append(r)
    return out


# ---- writing off -------------------------------------------------------------------------

def write_off(ctx, principal, overpayment_id: str, reason: str, on: date) -> dict:  # noqa: ANN001
    """What is outstanding leaves the books as a loss (agency, with a reason). Not while a
    proposed run plans to keep back part of it: that run is decided first."""
    from libs.web.problems import invalid, not_found

    from .overpayments import NothingOutstanding

    with ctx.uow(principal) as uow:
        session = uow.session
        row = session.execute(select(overpayments).where(overpayments.c.overpayment_id == overpayment_id)).first()
        if row is None:
            raise not_found("overpayment", overpayment_id)
        if on < row.recognized_on:
            raise invalid("written_off_on", f"is before the overpayment was recognized ({row.recognized_on.isoformat()})")
        d = overpayment_deductions
        planned = session.execute(select(d.c.run_id).where(d.c.overpayment_id == overpayment_id,
                                                           d.c.status == "planned").limit(1)).scalar()
        if planned is not None:
            raise conflict(f"payment run {planned} is proposed with a deduction for {overpayment_id}: "
                           "decide that run first", run_id=planned)
        overpayment = uow.load(Overpayment, overpayment_id)
        assert overpayment is not None
        try:
            overpayment.write_off(reason, on)
        except NothingOutstanding as exc:
            raise conflict(f"overpayment {overpayment_id} is {exc.status}: nothing is outstanding",
                           overpayment_status=exc.status) from None
        uow.save(overpayment)
        _refresh(session, overpayment)
        session.execute(update(overpayments).where(overpayments.c.overpayment_id == overpayment_id)
                        .values(write_off_reason=reason, written_off_on=on))
        row = session.execute(select(overpayments).where(overpayments.c.overpayment_id == overpayment_id)).one()
        return overpayment_view(session, row)


def payout_explanation(session: Session, payout, line_fen: list[int]) -> dict:  # noqa: ANN001 - a payouts row
    """A payout's gross (its lines), what it kept back for which overpayment, and its net."""
    gross = sum(line_fen)
    kept = payout_deductions(session, [payout.payout_id]).get(payout.payout_id, [])
    kept_fen = sum(int(r.amount_fen) for r in kept)
    assert gross - kept_fen == int(payout.amount_fen), f"payout {payout.payout_id}: gross − deduction != amount"
    formula = "sum of the lines' amounts = " + " + ".join(yuan_str(f) for f in line_fen) + f" = {yuan_str(gross)}"
    if kept:
        formula += (f"; less the overpayment recovered: {yuan_str(gross)} − {yuan_str(kept_fen)} = "
                    f"{yuan_str(int(payout.amount_fen))}")
    return {"gross": yuan_str(gross), "deduction": yuan_str(kept_fen), "net": yuan_str(int(payout.amount_fen)),
            "recoveries": [{"overpayment_id": r.overpayment_id, "amount": yuan_str(int(r.amount_fen)),
                            "status": r.status,
                            "rule": f"min(outstanding, recovery_max_share × gross {yuan_str(int(r.gross_fen))})"}
                           for r in kept],
            "formula": formula}
