"""Care amounts as fund lines of `entitlement_lines` (owned by the entitlements part, written here
like the medical lines of hospital bills): a payment run pays them to their payee, the
entitlements list shows them, and `/v1/payouts/{line_id}/explain` explains them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, insert, select
from sqlalchemy.orm import Session

from libs.money import to_fen

from ..entitlements.rules import Calc
from ..entitlements.tables import in_months
from ..payouts.tables import entitlement_lines, hospitals, payee_accounts


@dataclass(frozen=True)
class CareLine:
    line_id: str
    claim_id: str
    employer_id: str | None
    region: str
    kind: str  # out_of_region | rehabilitation | assistive_device (libs.policy PAYER_KINDS)
    family: str  # the fund statement's family of expenditure
    start: date
    end: date
    amount: Decimal
    payer: str
    payee: str  # employee:<id> or hospital:<provider or supplier id>
    reason: str
    calc: Calc
    policy_ref: dict[str, Any]
    source_event_ids: tuple[str, ...]
    extra: dict[str, Any]  # what else the explanation shows (the referral, the plan, the device)


def account_of(session: Session, payee: str) -> tuple[str | None, str | None, str | None]:
    """The payee's bank account as known now (a run looks it up again when it pays)."""
    kind, _, ident = payee.partition(":")
    if kind == "hospital":
        row = session.execute(select(hospitals.c.bank_code, hospitals.c.account_no, hospitals.c.holder)
                              .where(hospitals.c.hospital_id == ident)).first()
    else:
        row = session.execute(select(payee_accounts.c.bank_code, payee_accounts.c.account_no,
                                     payee_accounts.c.holder).where(payee_accounts.c.payee == payee)).first()
    return (row.bank_code, row.account_no, row.holder) if row else (None, None, None)


def record_line(session: Session, line: CareLine, now: datetime) -> bool:
    """Insert the line once (its id derives from the event that created it)."""
    assert line.amount > 0 and line.start <= line.end
    if not inspect(session.connection()).has_table("entitlement_lines"):
        return False
    el = entitlement_lines
    if session.execute(select(el.c.line_id).where(in_months(el, session, "line_id", [line.line_id]))).first() is not None:
        return False
    bank_code, account_no, holder = account_of(session, line.payee)
    explain = {"article": line.calc.article, "formula": line.calc.formula, "inputs": dict(line.calc.inputs),
               "notes": list(line.calc.notes), **line.extra}
    session.execute(insert(el).values(
        line_id=line.line_id, claim_id=line.claim_id, employer_id=line.employer_id, region=line.region,
        kind=line.kind, family=line.family, period=line.end.strftime("%Y-%m"), period_start=line.start,
        period_end=line.end, amount_fen=to_fen(line.amount), payer=line.payer, payee=line.payee,
        bank_code=bank_code, account_no=account_no, holder=holder, adjusts=None, reason=line.reason, known_at=now,
        explain_json=json.dumps(explain, ensure_ascii=False), policy_ref_json=json.dumps(line.policy_ref),
        source_event_ids_json=json.dumps(list(line.source_event_ids))))
    return True
