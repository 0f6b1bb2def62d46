"""The claims service's REST routes (contract: shared/domain/API.md). Agency only."""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import insert

from libs.db import writing
from libs.events.envelope import utc_now
from libs.events.tables import access_log
from libs.identifiers import InvalidIdentifier, check_account_no, check_cnaps, check_id_number
from libs.imports.api import import_router
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.context import correlation_id

from . import handlers, imports
from .documents import api as documents_api
from .domain.events import BankAccount
from .domain.model import MAX_DEPENDENTS, NewDependent

STATUSES = ("applied", "recognized", "deemed", "rejected", "on_treatment_leave", "appraised", "terminated",
            "deceased", "closed")
Text = Field(default="", max_length=2000)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimApplication(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "employer_id": "er_0123456789abcdef", "employee_id": "ee_0123456789abcdef", "kind": "accident",
        "occurred_on": "2026-03-02", "applied_on": "2026-03-10", "applicant": "employer",
        "description": "fell from a scaffold", "clear_case": False}]})
    employer_id: str = Field(min_length=1, max_length=64)
    employee_id: str = Field(min_length=1, max_length=64)
    kind: Literal["accident", "occupational_disease", "death"]
    occurred_on: date = Field(description="the accident, or the diagnosis of an occupational disease")
    applied_on: date
    applicant: Literal["employer", "worker"]
    description: str = Text
    clear_case: bool = Field(default=False, description="a clear case: decided within the shorter limit (R.20)")


class Recognition(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "recognized", "decided_on": "2026-04-01", "basis": "R.14(1)"}]})
    decision: Literal["recognized", "deemed", "rejected"]
    decided_on: date
    basis: str = Text


class TreatmentLeave(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"start": "2026-03-02", "end": "2026-09-01"}]})
    start: date
    end: date


class AppraisalBody(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"grade": 7, "care_level": "none", "concluded_on": "2026-10-15"}]})
    grade: int | None = Field(ge=1, le=10, description="1 (most severe) to 10, or null for no disability")
    care_level: Literal["none", "partial", "mostly", "full"]
    concluded_on: date


class BankAccountIn(_Body):
    bank_code: str = Field(description="12-digit CNAPS code of the branch")
    account_no: str
    holder: str = Field(min_length=1, max_length=200)

    @field_validator("bank_code")
    @classmethod
    def _cnaps(cls, v: str) -> str:
        return _checked(check_cnaps, v)

    @field_validator("account_no")
    @classmethod
    def _account(cls, v: str) -> str:
        return _checked(check_account_no, v)


def _checked(check, value: str):  # noqa: ANN001, ANN202
    try:
        return check(value)
    except InvalidIdentifier as exc:
        raise ValueError(exc.message) from None


class DependentIn(_Body):
    id_number: str = Field(description="GB 11643 resident identity number")
    name: str = Field(min_length=1, max_length=200)
    relation: Literal["spouse", "child", "parent", "grandparent", "grandchild", "sibling"]
    born_on: date
    orphan_or_lone_elder: bool = False
    bank_account: BankAccountIn | None = None

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str) -> str:
        return _checked(check_id_number, v).value

    @field_validator("born_on")
    @classmethod
    def _born_matches(cls, v: date, info: ValidationInfo) -> date:
        id_number = info.data.get("id_number")
        if id_number and check_id_number(id_number).birth_date != v:
            raise ValueError(f"does not match the birth date in id_number ({check_id_number(id_number).birth_date})")
        return v


class Death(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "died_on": "2027-01-05", "dependents": [{
            "id_number": "11010119900307803X", "name": "Li Na", "relation": "spouse", "born_on": "1990-03-07",
            "orphan_or_lone_elder": False,
            "bank_account": {"bank_code": "102100099996", "account_no": "6222020200000000001", "holder": "Li Na"}}]}]})
    died_on: date
    dependents: list[DependentIn] = Field(default_factory=list, max_length=MAX_DEPENDENTS)


class Termination(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"terminated_on": "2026-11-01"}]})
    terminated_on: date


class WorkArrangement(_Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra={"examples": [
        {"arranged": True, "from": "2026-11-01"}]})
    arranged: bool = Field(description="true: the employer has arranged suitable work from that day (no allowance)")
    from_: date = Field(alias="from", description="the day the arrangement (or its end) takes effect")


class AppealIn(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"subject": "recognition", "route": "reconsideration", "lodged_on": "2026-04-20", "lodged_by": "worker"},
        {"subject": "appraisal", "route": "appraisal_committee", "lodged_on": "2026-10-20", "lodged_by": "employer"}]})
    subject: Literal["recognition", "appraisal"]
    route: Literal["reconsideration", "litigation", "appraisal_committee"] = Field(
        description="行政复议 or 行政诉讼 for a recognition (R.55); 再次鉴定 by the provincial committee for an "
                    "appraisal (R.26)")
    lodged_on: date
    lodged_by: Literal["worker", "employer"]


class AppealDecisionIn(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "overturned", "decided_on": "2026-06-10", "decision": "recognized"},
        {"outcome": "modified", "decided_on": "2026-11-30", "grade": 6, "care_level": "none"},
        {"outcome": "upheld", "decided_on": "2026-06-10"}]})
    outcome: Literal["upheld", "overturned", "modified"]
    decided_on: date
    decision: Literal["recognized", "deemed", "rejected"] | None = Field(
        default=None, description="an overturned or modified recognition: the new decision")
    grade: int | None = Field(default=None, ge=1, le=10,
                              description="an overturned or modified appraisal: the new grade (null: no disability)")
    care_level: Literal["none", "partial", "mostly", "full"] | None = None


class Closure(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"closed_on": "2027-02-01", "reason": "all benefits settled"}]})
    closed_on: date
    reason: str = Field(min_length=1, max_length=500)


def _summary(claim) -> dict:  # noqa: ANN001
    return {"claim_id": claim.id, "status": claim.status, "version": claim.version}


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["claims"])

    @router.post("/v1/claims", status_code=201, summary="Apply for recognition of a work injury (R.17)")
    def apply(body: ClaimApplication, principal: Principal = Depends(agency_only)) -> dict:
        claim = handlers.apply_for_injury(ctx, principal, handlers.Application(**body.model_dump()))
        return {**_summary(claim), "employer_late_days": claim.app.employer_late_days,
                "decision_due_on": claim.app.decision_due_on}

    @router.post("/v1/claims/{claim_id}/recognition", summary="Decide: recognized, deemed or rejected (R.14–20)")
    def recognition(claim_id: str, body: Recognition, principal: Principal = Depends(agency_only)) -> dict:
        claim = handlers.decide(ctx, principal, claim_id, body.decision, body.decided_on, body.basis)
        wage = claim.history.wages[-1] if claim.history.wages else None
        return {**_summary(claim), "insured_wage": None if wage is None else str(wage.insured_wage)}

    @router.post("/v1/claims/{claim_id}/treatment-leave", summary="Grant or extend treatment leave (R.33)")
    def treatment_leave(claim_id: str, body: TreatmentLeave, principal: Principal = Depends(agency_only)) -> dict:
        claim = handlers.grant_treatment_leave(ctx, principal, claim_id, body.start, body.end)
        return {**_summary(claim), "extension": claim.history.leaves[-1].extension}

    @router.post("/v1/claims/{claim_id}/appraisals", summary="Record an appraisal or re-appraisal (R.21–28)")
    def appraisals(claim_id: str, body: AppraisalBody, principal: Principal = Depends(agency_only)) -> dict:
        claim = handlers.appraise(ctx, principal, claim_id, body.grade, body.care_level, body.concluded_on)
        return {**_summary(claim), "grade": claim.grade, "reappraisal": claim.history.appraisals[-1].reappraisal}

    @router.post("/v1/claims/{claim_id}/death", summary="Record the worker's death and the dependents (R.39)")
    def death(claim_id: str, body: Death, principal: Principal = Depends(agency_only)) -> dict:
        dependents = [
            NewDependent(d.id_number, d.name, d.relation, d.born_on, d.orphan_or_lone_elder,
                         BankAccount(**d.bank_account.model_dump()) if d.bank_account else None)
            for d in body.dependents]
        claim = handlers.record_death(ctx, principal, claim_id, body.died_on, dependents)
        return {**_summary(claim), "grade_at_death": claim.grade_at_death,
                "dependents": [{"dependent_id": d.dependent_id, "relation": d.relation,
                                "qualifies_until": d.qualifies_until} for d in claim.history.dependents]}

    @router.post("/v1/claims/{claim_id}/termination", summary="End the employment, grades 5–10 (R.36–37)")
    def termination(claim_id: str, body: Termination, principal: Principal = Depends(agency_only)) -> dict:
        return _summary(handlers.terminate(ctx, principal, claim_id, body.terminated_on))

    @router.post("/v1/claims/{claim_id}/work-arrangement",
                 summary="Grades 5–6 while employed: whether suitable work is arranged from a day on (R.36)")
    def work_arrangement(claim_id: str, body: WorkArrangement, principal: Principal = Depends(agency_only)) -> dict:
        claim = handlers.arrange_work(ctx, principal, claim_id, body.arranged, body.from_)
        return {**_summary(claim), "work_arrangements": [
            {"arranged": a.arranged, "from": a.effective_from} for a in claim.history.arrangements]}

    @router.post("/v1/claims/{claim_id}/appeals", status_code=201,
                 summary="Lodge an appeal: reconsideration or litigation of the recognition (R.55), the provincial "
                         "committee on the appraisal (R.26); late is a 422 naming lodged_on")
    def appeals(claim_id: str, body: AppealIn, principal: Principal = Depends(agency_only)) -> dict:
        claim, appeal_id = handlers.lodge_appeal(ctx, principal, claim_id, body.subject, body.route, body.lodged_on,
                                                 body.lodged_by)
        return {"claim_id": claim.id, "claim_status": claim.status, "version": claim.version,
                **handlers.appeal_view(claim.appeal(appeal_id))}

    @router.post("/v1/claims/{claim_id}/appeals/{appeal_id}/decision",
                 summary="Decide an appeal: upheld, overturned or modified; the new decision or conclusion replaces "
                         "the disputed one from its own date")
    def appeal_decision(claim_id: str, appeal_id: str, body: AppealDecisionIn,
                        principal: Principal = Depends(agency_only)) -> dict:
        grade = body.grade if "grade" in body.model_fields_set else handlers.UNSET
        claim = handlers.decide_appeal(ctx, principal, claim_id, appeal_id[:80], body.outcome, body.decided_on,
                                       body.decision, grade, body.care_level)
        return {"claim_id": claim.id, "claim_status": claim.status, "version": claim.version,
                "claim_decision": claim.decision, "claim_grade": claim.grade,
                **handlers.appeal_view(claim.appeal(appeal_id))}

    @router.post("/v1/claims/{claim_id}/closure", summary="Close the claim")
    def closure(claim_id: str, body: Closure, principal: Principal = Depends(agency_only)) -> dict:
        return _summary(handlers.close(ctx, principal, claim_id, body.closed_on, body.reason))

    @router.get("/v1/claims/{claim_id}", summary="A claim: status, history, deadlines, insured wage, dependents")
    def get_claim(request: Request, claim_id: str,
                  on: date | None = Query(None, description="the day deadlines are judged on"),
                  principal: Principal = Depends(agency_only)) -> dict:
        view = handlers.claim_view(ctx, claim_id, on or handlers.today())
        with writing(ctx.session_factory) as session:  # a read of a person's record is recorded
            session.execute(insert(access_log).values(
                client_id=principal.client_id, method=request.method, path=request.url.path[:300],
                subject_id=view["employee_id"], correlation_id=correlation_id.get(), recorded_at=utc_now()))
        return view

    @router.get("/v1/claims", summary="Claims, filtered; `overdue=true&on=DATE` is the worklist of late decisions "
                                      "and appraisals")
    def list_claims(
        employee_id: str | None = Query(None, max_length=64),
        employer_id: str | None = Query(None, max_length=64),
        status: Literal[STATUSES] | None = Query(None),  # type: ignore[valid-type]
        overdue: bool | None = Query(None),
        on: date | None = Query(None, description="the day deadlines are judged on (default today)"),
        region: str | None = Query(None, pattern=r"^\d{6}$"),
        order: Literal["claim_id", "deadline"] = Query("claim_id", description="`deadline`: the earliest open "
                                                       "deadline first (the overdue first), then claims awaiting none"),
        cursor: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=handlers.MAX_PAGE),
        _p: Principal = Depends(agency_only),
    ) -> dict:
        return handlers.list_claims(ctx, employee_id=employee_id, employer_id=employer_id, status=status,
                                    overdue=overdue, on=on or handlers.today(), cursor=cursor, limit=limit,
                                    region=region, order=order)

    router.include_router(documents_api.build_router(ctx))
    router.include_router(import_router(ctx, imports.KINDS))  # going live: claims, dependents
    return router
