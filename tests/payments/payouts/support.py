"""Helpers for the paying-out tests: a region policy, claim facts fed through the real
projection, and fund lines in `entitlement_lines` (created here only while the entitlements
part has not created it)."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import (BigInteger, Column, Date, DateTime, MetaData, String, Table, Text, insert, inspect)

from libs.events.envelope import Envelope
from libs.runtime.embedded import EmbeddedRuntime
from services.payments.payouts.projection import PayoutFactsProjection
from services.payments.payouts.xsd import SCHEMAS

REGION = "440300"
XSD = SCHEMAS  # the ISO 20022 schemas shipped with the package
FUND = {"name": "Shenzhen work-injury fund", "bank_code": "102584000002", "account_no": "40000234092001",
        "bic": "ICBKCNBJSZN"}
CATALOG = {
    "A1": {"name": "bed-day", "max_unit_price": "100.00", "reimbursable_share": "1.00"},
    "B2": {"name": "drug", "max_unit_price": "50.00", "reimbursable_share": "0.80"},
}

_test_metadata = MetaData()
_lines_ddl = Table(
    "entitlement_lines", _test_metadata,
    Column("line_id", String(120), primary_key=True), Column("claim_id", String(64)),
    Column("employer_id", String(64)), Column("region", String(6)), Column("kind", String(64)),
    Column("family", String(32)), Column("period", String(7)), Column("period_start", Date),
    Column("period_end", Date), Column("amount_fen", BigInteger), Column("payer", String(16)),
    Column("payee", String(80)), Column("bank_code", String(12)), Column("account_no", String(34)),
    Column("holder", String(140)), Column("adjusts", String(120)), Column("reason", Text),
    Column("known_at", DateTime(timezone=True)), Column("explain_json", Text), Column("policy_ref_json", Text),
    Column("source_event_ids_json", Text),
)


def payments(runtime: EmbeddedRuntime):  # noqa: ANN201
    return runtime.services["payments"].ctx


def ensure_lines_table(runtime: EmbeddedRuntime) -> None:
    engine = payments(runtime).engine
    if not inspect(engine).has_table("entitlement_lines"):
        _lines_ddl.create(engine)


def publish_policy(api, region: str = REGION, effective_from: str = "2025-01-01", **changes) -> dict:  # noqa: ANN001
    doc = api.get("/v1/policies/000000", params={"on": effective_from}).json()
    for key in ("region", "effective_from", "version"):
        doc.pop(key, None)
    doc.update({"medical_catalog": CATALOG, "fund_account": FUND, **changes})
    response = api.put(f"/v1/policies/{region}/{effective_from}", json=doc)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _envelope(type_: str, aggregate_id: str, sequence: int, payload: dict) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), type=type_, schema_version=1, aggregate_type="claim",
                    aggregate_id=aggregate_id, sequence=sequence, occurred_on=date(2026, 1, 1),
                    recorded_at=datetime.now(timezone.utc), actor="test", payload=payload)


def feed(runtime: EmbeddedRuntime, *envelopes: Envelope) -> None:
    """Events of other services through the real projection, into the payments database."""
    projection = PayoutFactsProjection()
    with payments(runtime).session_factory() as session, session.begin():
        for e in envelopes:
            projection.handle(session, e)


def claim(runtime: EmbeddedRuntime, claim_id: str, *, occurred_on: str = "2026-01-10", decision: str | None = "recognized",
          employer_id: str = "emp-1", employee_id: str = "ee-1", region: str = REGION, applied_on: str | None = None,
          employer_late_days: int = 0) -> None:
    events = [_envelope("InjuryApplied", claim_id, 1, {
        "claim_id": claim_id, "employer_id": employer_id, "employee_id": employee_id, "region": region,
        "kind": "accident", "occurred_on": occurred_on, "applied_on": applied_on or occurred_on, "applicant": "employer",
        "description": "fall", "birth_date": "1990-01-01", "sex": "male", "employer_late_days": employer_late_days})]
    if decision in ("recognized", "deemed"):
        events.append(_envelope("InjuryRecognized", claim_id, 2, {
            "claim_id": claim_id, "decision": decision, "decided_on": occurred_on, "basis": "R.14"}))
    elif decision == "rejected":
        events.append(_envelope("InjuryRejected", claim_id, 2, {
            "claim_id": claim_id, "decided_on": occurred_on, "basis": "R.16"}))
    feed(runtime, *events)


def bank_account_changed(runtime: EmbeddedRuntime, employee_id: str, bank_code: str, account_no: str) -> None:
    feed(runtime, _envelope("BankAccountChanged", employee_id, 2, {
        "employee_id": employee_id, "changed_on": "2026-03-01",
        "bank_account": {"bank_code": bank_code, "account_no": account_no, "holder": "张三"}}))


def add_line(runtime: EmbeddedRuntime, line_id: str, amount_fen: int, *, payee: str = "employee:ee-1",
             period: str = "2026-02", payer: str = "fund", bank_code: str | None = "105584000005",
             account_no: str | None = "6217000012345678", region: str = REGION, kind: str = "disability_allowance",
             family: str = "long_term", employer_id: str = "emp-1", claim_id: str = "clm-1") -> None:
    ensure_lines_table(runtime)
    with payments(runtime).session_factory() as session, session.begin():
        session.execute(insert(_lines_ddl).values(
            line_id=line_id, claim_id=claim_id, employer_id=employer_id, region=region, kind=kind, family=family,
            period=period, period_start=None, period_end=None, amount_fen=amount_fen, payer=payer, payee=payee,
            bank_code=bank_code, account_no=account_no, holder="张三" if bank_code else None, adjusts=None,
            reason=None, known_at=datetime.now(timezone.utc), explain_json=json.dumps({}), policy_ref_json="{}",
            source_event_ids_json="[]"))


def hospital(api, hospital_id: str = "H1", bank_code: str = "102584000123", account_no: str = "4000023409200123") -> None:  # noqa: ANN001
    response = api.put(f"/v1/hospitals/{hospital_id}", json={
        "name": f"Hospital {hospital_id}", "region": REGION,
        "bank_account": {"bank_code": bank_code, "account_no": account_no, "holder": f"医院 {hospital_id}"}})
    assert response.status_code in (200, 201), response.text
