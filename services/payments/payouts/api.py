"""Paying out over HTTP: hospitals, medical bills (REST and FHIR), payment runs, bank files,
bank returns and employers' obligations (contract: shared/domain/API.md)."""
from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, inspect, select
from starlette.concurrency import run_in_threadpool

from libs.money import NotMoney, parse_yuan, yuan_str
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only, require
from libs.web.problems import Problem, conflict, forbidden, invalid, not_found

from . import fhir, pain001, pain002, xsd
from ..care.handlers import submit_rehabilitation_bill
from .adjudication import MAX_ITEMS, MAX_QUANTITY, ItemIn
from .domain import BankAccount
from .handlers import (
    PutHospital,
    SubmitBill,
    bill_view,
    is_rejected,
    may_act_for_hospital,
    put_hospital,
    submit_bill,
)
from .projection import policy_terms
from .approval import decide_run, record_release, require_approved
from .run_view import by_bank, run_view, summary
from .recovery import run_recoveries
from .runs import StatusEntry, apply_returns, bank_part, create_run
from .tables import entitlement_line_texts, entitlement_lines, hospitals, medical_bills, payment_runs, payouts

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
REGION = r"^\d{6}$"
FHIR_JSON = "application/fhir+json"
MAX_FHIR_DEPTH = 32
MAX_RUN_MONTHS_AHEAD = 12
FHIR_CLAIM_EXAMPLE = {
    "resourceType": "Claim", "status": "active", "use": "claim", "created": "2026-03-10",
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
    "patient": {"identifier": {"system": "urn:injuryledger:employee", "value": "ee_0123456789abcdef"}},
    "provider": {"identifier": {"system": "urn:injuryledger:hospital", "value": "H-440300-001"}},
    "priority": {"coding": [{"code": "normal"}]},
    "insurance": [{"sequence": 1, "focal": True,
                   "coverage": {"identifier": {"system": "urn:injuryledger:claim", "value": "clm_6f1c2a"}}}],
    "billablePeriod": {"start": "2026-03-02", "end": "2026-03-09"},
    "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "250101001"}]}, "quantity": {"value": 2},
              "unitPrice": {"value": 35, "currency": "CNY"}}]}
PAIN002_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
    '<GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-04-02T10:00:00</CreDtTm></GrpHdr>'
    '<OrgnlGrpInfAndSts><OrgnlMsgId>run_6f1c2a-102</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>'
    '</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>run_6f1c2a-102</OrgnlPmtInfId><TxInfAndSts>'
    '<OrgnlEndToEndId>po_0123456789abcdef</OrgnlEndToEndId><TxSts>RJCT</TxSts>'
    '<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf></TxInfAndSts></OrgnlPmtInfAndSts>'
    '</CstmrPmtStsRpt></Document>\n')
RETURNS_CSV_EXAMPLE = "end_to_end_id,status,reason\npo_0123456789abcdef,RJCT,AC04\n"
log = logging.getLogger("injuryledger.payouts")


class BankAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank_code: str = Field(pattern=r"^\d{12}$", description="12-digit CNAPS code of the branch",
                           examples=["102584000002"])
    account_no: str = Field(pattern=r"^[0-9A-Za-z-]{4,34}$", examples=["6222020200012345678"])
    holder: str = Field(min_length=1, max_length=140, examples=["深圳市人民医院"])


class HospitalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Shenzhen People's Hospital", "region": "440300",
        "bank_account": {"bank_code": "102584000002", "account_no": "4000023409200123456",
                         "holder": "深圳市人民医院"}}]})
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(pattern=REGION)
    bank_account: BankAccountIn
    kind: Literal["hospital", "rehabilitation", "supplier"] = Field(
        "hospital", description="a hospital, an agreement rehabilitation provider, or an assistive-device supplier")


class BillItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, examples=["250101001"])
    quantity: int = Field(ge=1, le=MAX_QUANTITY, examples=[2])
    unit_price: str = Field(description="yuan, a decimal string with at most two places", examples=["35.00"])
    on: date | None = Field(None, description="the day of the service, within the stay (default: admitted_on); "
                                              "a rehabilitation bill's items are checked against the plan's period")

    @field_validator("unit_price")
    @classmethod
    def _price(cls, v: str) -> str:
        try:
            parse_yuan(v)
        except NotMoney as exc:
            raise ValueError(str(exc)) from None
        return v


class BillIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "claim_id": "clm_6f1c2a", "hospital_id": "H-440300-001", "admitted_on": "2026-03-02",
        "discharged_on": "2026-03-09", "items": [{"code": "250101001", "quantity": 2, "unit_price": "35.00"}]}]})
    claim_id: str = Field(pattern=ID)
    hospital_id: str = Field(pattern=ID)
    admitted_on: date
    discharged_on: date
    items: list[BillItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    kind: Literal["medical", "rehabilitation"] = Field(
        "medical", description="`rehabilitation`: a provider's bill under an approved plan (`plan_id`), adjudicated "
                               "against the rehabilitation catalog and the plan's period and budget")
    plan_id: str | None = Field(None, pattern=ID, description="the approved rehabilitation plan billed against")


class BillOut(BaseModel):
    bill_id: str
    claimed: str
    approved: str
    rejected_items: list[dict]
    items: list[dict]
    policy_ref: dict
    kind: str = "medical"
    plan_id: str | None = None


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"region": "440300",
                                                                               "period": "2026-03"}]})
    region: str = Field(pattern=REGION)
    period: str = Field(pattern=r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$",
                        description="YYYY-MM (1900–2999): lines up to this month")
    execution_date: date | None = Field(default=None, description="ReqdExctnDt of the files; default today")


class RunOut(BaseModel):
    run_id: str
    status: Literal["proposed"] = Field(description="no file and no return until another person approves it")
    count: int
    total: str
    by_bank: list[dict] = Field(description="per CNAPS bank part: count and total")
    waiting_for_account: list[dict]
    waiting_net_not_positive: list[dict]
    recoveries: dict = Field(default_factory=dict, description="overpayments kept back of the run's payouts "
                             "(recorded when the run is approved): count, total, and payees kept back whole")


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "approved", "note": "checked against the March register"},
        {"decision": "rejected", "note": "payee 3 has a new account pending"}]})
    decision: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=500)


def _depth_ok(doc: Any, limit: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def _bill_out(e) -> BillOut:  # noqa: ANN001 - MedicalBillAdjudicated
    items = [i.model_dump(mode="json") for i in e.items]
    return BillOut(bill_id=e.bill_id, claimed=yuan_str(e.claimed), approved=yuan_str(e.approved),
                   rejected_items=[{"index": n, "code": i["code"], "reason": i["reason"]}
                                   for n, i in enumerate(items) if is_rejected(i["reason"])],
                   items=items, policy_ref=e.policy_ref, kind=e.kind, plan_id=e.plan_id)


def _file_bank(principal: Principal, bank: str | None) -> str | None:
    """The bank part a file is for: a bank token sees only its own bank's files."""
    if bank is not None and not re.fullmatch(r"\d{3}|\d{12}", bank):
        raise invalid("bank", "a 3-digit CNAPS bank part or a 12-digit CNAPS code")
    wanted = bank_part(bank) if bank else None
    if principal.role == "bank":
        own = bank_part(principal.bank_code or "")
        if wanted is not None and wanted != own:
            raise forbidden("this token sees only the files addressed to its own bank")
        return own
    return wanted


ARTICLES = {  # the benefit kinds of libs.policy (PAYER_KINDS) and the article that grants each
    "medical": "R.30", "meal_subsidy": "R.30", "treatment_leave_wage": "R.33", "treatment_leave_care": "R.33",
    "disability_grant": "R.35-37", "disability_allowance": "R.35", "disability_allowance_5_6": "R.36",
    "care_allowance": "R.34", "termination_medical_grant": "R.36-37", "termination_employment_grant": "R.36-37",
    "funeral_grant": "R.39", "survivor_pension": "R.39", "death_grant": "R.39",
    "out_of_region": "R.30", "rehabilitation": "R.30", "assistive_device": "R.32"}


def _notice(r) -> dict:  # noqa: ANN001 - an entitlement_lines row
    explain = json.loads(r.explain_json) if r.explain_json else {}
    article = (explain.get("article") if isinstance(explain, dict) else None) or ARTICLES.get(r.kind) or \
        ("R.17" if (r.reason or "").startswith("late") else "R.62" if "uninsured" in (r.reason or "") else "R.33-37")
    when = r.period or ""
    if r.period_start and r.period_end:
        when = f"{r.period_start.isoformat()} to {r.period_end.isoformat()}"
    text = (f"Under {article} of the Regulation on Work-Related Injury Insurance, the employer pays "
            f"{r.holder or r.payee} the {r.kind.replace('_', ' ')} for {when}: {yuan_str(r.amount_fen)} yuan "
            f"(claim {r.claim_id}).")
    return {"what": r.kind, "family": r.family, "for_whom": r.payee, "holder": r.holder, "claim_id": r.claim_id,
            "period": r.period, "period_start": r.period_start.isoformat() if r.period_start else None,
            "period_end": r.period_end.isoformat() if r.period_end else None, "amount": yuan_str(r.amount_fen),
            "article": article, "text": text}


def _checked_pain001(ctx: ServiceContext, header: pain001.FileHeader) -> xsd.CheckedFile:
    """The whole file, validated against pain.001.001.09 before its first byte is served: a file
    that breaks the schema is a bug of ours, logged loudly and answered 500, never sent to a bank."""
    try:
        return xsd.checked(pain001.pain001(ctx.session_factory, header), xsd.PAIN001)
    except xsd.InvalidDocument as exc:
        log.error("BANK FILE REFUSED: %s for run %s failed its schema check and was not served: %s",
                  header.message_id, header.run_id, "; ".join(exc.errors))
        raise Problem(500, "Bank file failed its schema check",
                      f"the {exc.name} file {header.message_id} broke its ISO 20022 schema and was not served; "
                      "quote the correlation id to the operators") from None


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["payouts"])
    hospital_or_agency = require("agency", "hospital")
    bank_or_agency = require("agency", "bank")

    # -- hospitals
    @router.put("/v1/hospitals/{hospital_id}", summary="Register or change a hospital (HospitalRegistered/Changed)",
                responses={201: {"description": "registered"}, 200: {"description": "changed or unchanged"}})
    def put(body: HospitalIn, response: Response, hospital_id: str = Path(pattern=ID),
            principal: Principal = Depends(agency_only)) -> dict:
        a = body.bank_account
        created, changed = put_hospital(ctx, principal, PutHospital(
            hospital_id, body.name, body.region, BankAccount(bank_code=a.bank_code, account_no=a.account_no,
                                                             holder=a.holder), body.kind))
        response.status_code = 201 if created and changed else 200
        return {"hospital_id": hospital_id, "created": created, "changed": changed}

    @router.get("/v1/hospitals/{hospital_id}", summary="A hospital (agency, or the hospital itself)")
    def get_hospital(hospital_id: str = Path(pattern=ID), principal: Principal = Depends(hospital_or_agency)) -> dict:
        may_act_for_hospital(principal, hospital_id)
        with ctx.session_factory() as s:
            r = s.execute(select(hospitals).where(hospitals.c.hospital_id == hospital_id)).first()
        if r is None:
            raise not_found("hospital", hospital_id)
        return {"hospital_id": r.hospital_id, "name": r.name, "region": r.region, "kind": r.kind,
                "bank_account": {"bank_code": r.bank_code, "account_no": r.account_no, "holder": r.holder}}

    # -- medical bills
    @router.post("/v1/medical-bills", status_code=201, response_model=BillOut,
                 summary="Submit a medical bill: adjudicated line by line against the region's catalog (R.30)")
    def post_bill(body: BillIn, principal: Principal = Depends(hospital_or_agency)) -> BillOut:
        cmd = SubmitBill(body.claim_id, body.hospital_id, body.admitted_on, body.discharged_on,
                         [ItemIn(i.code, i.quantity, parse_yuan(i.unit_price)) for i in body.items])
        if (body.kind == "rehabilitation") != (body.plan_id is not None):
            raise invalid("plan_id", "a rehabilitation bill names its plan, and only a rehabilitation bill does")
        for n, i in enumerate(body.items):
            if i.on is not None and not body.admitted_on <= i.on <= body.discharged_on:
                raise invalid(f"items.{n}.on", "is outside the stay (admitted_on to discharged_on)")
        if body.kind == "rehabilitation":
            days = [i.on or body.admitted_on for i in body.items]
            return _bill_out(submit_rehabilitation_bill(ctx, principal, cmd, body.plan_id, days))
        return _bill_out(submit_bill(ctx, principal, cmd))

    @router.get("/v1/medical-bills", summary="A hospital's bills (a hospital token sees only its own)")
    def list_bills(hospital_id: str = Query(pattern=ID), cursor: str | None = Query(None, max_length=64),
                   limit: int = Query(100, ge=1, le=1000),
                   principal: Principal = Depends(hospital_or_agency)) -> dict:
        may_act_for_hospital(principal, hospital_id)
        mb = medical_bills
        stmt = select(mb).where(mb.c.hospital_id == hospital_id)
        if cursor:
            stmt = stmt.where(mb.c.bill_id > cursor)
        with ctx.session_factory() as s:
            rows = s.execute(stmt.order_by(mb.c.bill_id).limit(limit + 1)).all()
        page = rows[:limit]
        return {"items": [bill_view(r) for r in page],
                "next_cursor": page[-1].bill_id if len(rows) > limit else None}

    # -- FHIR
    @router.post("/fhir/Claim", status_code=201, tags=["fhir"],
                 summary="A FHIR R4 Claim is a medical bill; answered with a ClaimResponse",
                 openapi_extra={"requestBody": {"required": True, "content": {FHIR_JSON: {
                     "schema": {"type": "object", "required": ["resourceType"],
                                "properties": {"resourceType": {"type": "string", "enum": ["Claim"]}}},
                     "example": FHIR_CLAIM_EXAMPLE}}}},
                 responses={201: {"content": {FHIR_JSON: {}}}})
    async def post_fhir_claim(request: Request, principal: Principal = Depends(hospital_or_agency)) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in (FHIR_JSON, "application/json"):
            raise invalid("content-type", f"must be {FHIR_JSON} or application/json")
        body = await request.body()
        try:
            doc = json.loads(body)
        except ValueError:
            raise invalid("Claim", "the body is not JSON") from None
        if not _depth_ok(doc, MAX_FHIR_DEPTH):
            raise invalid("Claim", f"nested deeper than {MAX_FHIR_DEPTH} levels")
        claim = fhir.parse_claim(doc)  # a 422 names the FHIR path of what is wrong
        cmd = fhir.to_bill(claim)
        event = await run_in_threadpool(submit_bill, ctx, principal, cmd)
        response = fhir.claim_response(claim, event)
        return Response(fhir.to_json(response), status_code=201, media_type=FHIR_JSON)

    # -- payment runs
    @router.post("/v1/payment-runs", status_code=201, response_model=RunOut,
                 summary="Pay every payable fund line of a region up to a month: one payout per payee and account")
    def post_run(body: RunIn, principal: Principal = Depends(agency_only)) -> RunOut:
        execution_date = body.execution_date or datetime.now(timezone.utc).date()
        today = datetime.now(timezone.utc).date()
        latest = f"{today.year + (today.month + MAX_RUN_MONTHS_AHEAD - 1) // 12:04d}-" \
                 f"{(today.month + MAX_RUN_MONTHS_AHEAD - 1) % 12 + 1:02d}"
        if body.period > latest:  # lines are derived month by month up to the period: keep it bounded
            raise invalid("period", f"a run pays at most {MAX_RUN_MONTHS_AHEAD} months ahead, up to {latest}")
        created = create_run(ctx, principal, body.region, body.period, execution_date)
        with ctx.session_factory() as s:
            banks = by_bank(s, created.run_id)
            kept = run_recoveries(s, created.run_id)
        return RunOut(run_id=created.run_id, status="proposed", count=created.count,
                      total=yuan_str(created.total_fen), by_bank=banks,
                      waiting_for_account=[{**w, "amount": yuan_str(w["amount"])} for w in created.waiting_for_account],
                      waiting_net_not_positive=[{**w, "net": str(w["net"])} for w in created.waiting_net_not_positive],
                      recoveries=kept)

    @router.get("/v1/payment-runs", summary="A region's payment runs, newest first (filter by status)")
    def list_runs(region: str | None = Query(None, pattern=REGION),
                  status: Literal["proposed", "approved", "rejected"] | None = Query(None),
                  cursor: str | None = Query(None, pattern=r"^\d+$", max_length=9),
                  limit: int = Query(100, ge=1, le=1000), _p: Principal = Depends(agency_only)) -> dict:
        r = payment_runs.c
        stmt = select(payment_runs)
        if region:
            stmt = stmt.where(r.region == region)
        if status:
            stmt = stmt.where(r.status == status)
        offset = int(cursor or 0)
        with ctx.session_factory() as s:
            rows = s.execute(stmt.order_by(r.created_at.desc(), r.run_id.desc()).offset(offset).limit(limit + 1)).all()
        return {"items": [summary(row) for row in rows[:limit]],
                "next_cursor": str(offset + limit) if len(rows) > limit else None}

    @router.get("/v1/payment-runs/{run_id}", summary="A payment run: its status, who proposed and who decided "
                "it, totals by bank, its changes against the region's previous run, its payouts' states")
    def get_run(run_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict:
        with ctx.session_factory() as s:
            run = s.execute(select(payment_runs).where(payment_runs.c.run_id == run_id)).first()
            if run is None:
                raise not_found("payment run", run_id)
            return run_view(s, run)

    @router.post("/v1/payment-runs/{run_id}/approval",
                 summary="Four eyes: approve (its files may leave) or reject (its lines wait for the next run)",
                 description="The decider must be an agency client naming a `person` other than the one who "
                             "proposed the run (the same person: 403). A run already decided: 409.")
    def approval(body: ApprovalIn, run_id: str = Path(pattern=ID), principal: Principal = Depends(agency_only)) -> dict:
        decided = decide_run(ctx, principal, run_id, body.decision == "approved", body.note)
        with ctx.session_factory() as s:
            run = s.execute(select(payment_runs).where(payment_runs.c.run_id == run_id)).one()
        return {**summary(run), "lines_released": decided.lines_released}

    @router.get("/v1/payment-runs/{run_id}/file", summary="The run's bank file: pain.001.001.09 XML or CSV, per bank",
                description="`bank` is the CNAPS bank part (first three digits, e.g. `102`) or a full 12-digit "
                            "CNAPS code, which stands for its bank part. A bank token sees only its own bank's file. "
                            "A pain.001 file is validated whole against the ISO 20022 schema before it is "
                            "served: one that fails it is a 500 problem, never a file. Only an approved run's "
                            "files are served (otherwise 409 naming its status); each file served is recorded "
                            "(PaymentRunFileReleased).",
                responses={200: {"content": {"application/xml": {}, "text/csv": {}}}})
    def get_file(run_id: str = Path(pattern=ID), format: Literal["pain.001", "csv"] = Query("pain.001"),  # noqa: A002
                 bank: str | None = Query(None, examples=["102"]),
                 principal: Principal = Depends(bank_or_agency)) -> StreamingResponse:
        wanted = _file_bank(principal, bank)
        with ctx.session_factory() as s:
            run = s.execute(select(payment_runs).where(payment_runs.c.run_id == run_id)).first()
            if run is None:
                raise not_found("payment run", run_id)
            require_approved(run.status, run_id, "its files leave")
            count, total_fen = pain001.totals(s, run_id, wanted)
            terms = policy_terms(s, run.region, run.execution_date)
        if count == 0:  # a bank file holds at least one transfer (pain.001: PmtInf needs a CdtTrfTxInf)
            raise not_found("payouts of the run for bank", f"{wanted or 'any'} in {run_id}")
        debtor = terms.fund_account if terms else {}
        if format == "pain.001" and not all(debtor.get(k) for k in ("name", "bank_code", "account_no")):
            raise conflict(f"the policy in force in {run.region} has no fund_account to pay from")
        header = pain001.FileHeader(run_id, wanted, count, total_fen, run.execution_date,
                                    datetime.now(timezone.utc), debtor)
        name = f"{header.message_id}.{'xml' if format == 'pain.001' else 'csv'}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "csv":
            record_release(ctx, principal, run_id, format, wanted, count, total_fen)
            return StreamingResponse(pain001.payouts_csv(ctx.session_factory, header), media_type="text/csv",
                                     headers=disposition)
        checked = _checked_pain001(ctx, header)
        record_release(ctx, principal, run_id, format, wanted, count, total_fen)
        return StreamingResponse(checked, media_type="application/xml",
                                 headers={**disposition, "Content-Length": str(checked.size)})

    @router.post("/v1/payment-runs/{run_id}/returns", summary="The bank's status report: pain.002 (v03 or v12) or CSV",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     "application/xml": {"schema": {"type": "string"}, "example": PAIN002_EXAMPLE},
                     "text/csv": {"schema": {"type": "string"}, "example": RETURNS_CSV_EXAMPLE}}}})
    async def post_returns(request: Request, run_id: str = Path(pattern=ID),
                           principal: Principal = Depends(bank_or_agency)) -> dict:
        body = await request.body()
        report = pain002.parse(body)
        return await run_in_threadpool(_returns, principal, run_id, report)

    def _returns(principal: Principal, run_id: str, report: pain002.Report) -> dict:
        if report.original_message_id is not None and not report.original_message_id.startswith(run_id):
            raise invalid("OrgnlGrpInfAndSts.OrgnlMsgId", f"does not answer run {run_id}")
        entries = report.entries
        if len(entries) == 1 and entries[0].end_to_end_id == "*":  # a group status for the whole file
            only = entries[0]
            where = [payouts.c.run_id == run_id]
            if principal.role == "bank":
                where.append(payouts.c.bank_part == bank_part(principal.bank_code or ""))
            elif report.original_message_id and "-" in report.original_message_id[len(run_id):]:
                where.append(payouts.c.bank_part == report.original_message_id[len(run_id) + 1:])
            with ctx.session_factory() as s:
                ids = s.execute(select(payouts.c.payout_id).where(*where)).scalars().all()
            entries = [StatusEntry(i, only.status, only.reason, only.where) for i in ids]
        decided_on = report.created_on or datetime.now(timezone.utc).date()
        out = apply_returns(ctx, principal, run_id, entries, decided_on)
        return {"run_id": run_id, "format": report.version, "settled": out.settled, "rejected": out.rejected,
                "unchanged": out.unchanged, "pending": out.pending, "conflicting": out.conflicting}

    # -- employers' obligations
    @router.get("/v1/employers/{employer_id}/obligations",
                summary="What the employer itself owes (payer `employer`), with a notice for each line")
    def obligations(employer_id: str = Path(pattern=ID), format: Literal["json", "text"] = Query("json"),  # noqa: A002
                    _p: Principal = Depends(agency_only)) -> Any:
        el = entitlement_lines
        with ctx.session_factory() as s:
            if not inspect(s.connection()).has_table("entitlement_lines"):
                rows = []
            else:
                texts = entitlement_line_texts
                explained = func.coalesce(texts.c.explain_json, el.c.explain_json).label("explain_json")
                rows = s.execute(select(*(c for c in el.c if c.name != "explain_json"), explained)
                                 .select_from(el.outerjoin(texts, texts.c.texts_id == el.c.texts_id))
                                 .where(el.c.payer == "employer", el.c.employer_id == employer_id,
                                        el.c.settled_outside.is_(None))  # not what it paid before going live
                                 .order_by(el.c.period, el.c.line_id).limit(10_000)).all()
        notices = [_notice(r) for r in rows]
        total = sum((Decimal(n["amount"]) for n in notices), Decimal("0.00"))
        if format == "text":
            lines = [f"Notice to employer {employer_id}: benefits you owe under the work-injury regulation.", ""]
            lines += [n["text"] for n in notices] + ["", f"Total: {yuan_str(total)} yuan."]
            return Response("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8")
        return {"employer_id": employer_id, "total": yuan_str(total),
                "items": [{**n, "line_id": r.line_id} for n, r in zip(notices, rows)]}

    return router
