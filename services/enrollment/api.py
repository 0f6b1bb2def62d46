"""The enrollment service's REST routes (contract: shared/domain/API.md, "Policy" and
"Enrollment"): request models with examples, auth, one handler call, the answer."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import insert, select

from libs import identifiers
from libs.db import writing
from libs.events.envelope import utc_now
from libs.events.tables import access_log
from libs.policy import average_rate_flag
from libs.policy.projection import policy_in_force
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only, require
from libs.web.context import correlation_id
from libs.imports.api import import_router
from libs.web.problems import Problem, conflict, invalid, invalid_many, not_found, validation_errors

from . import handlers, imports
from .domain import commands
from .domain.model import Conflict, Invalid, NotFound
from .tables import employers, employments, workers

MAX_PAGE = 1000
DEFAULT_PAGE = 100
# Keys a GET of a policy adds to the document; a client may PUT the GET answer back as it is.
POLICY_ENVELOPE_KEYS = ("region", "effective_from", "version", "flags")

any_role = require("agency", "hospital", "bank")
agency_or_hospital = require("agency", "hospital")

SHENZHEN_SOFT = {"uscc": "91440300MA5FTE0T3R", "name": "深圳前海软件有限公司", "industry_code": "I6510",
                 "region": "440300", "enrolled_on": "2025-07-01"}


@contextmanager
def answering() -> Iterator[None]:
    """Domain refusals become problems: Invalid → 422 naming the field, Conflict → 409,
    NotFound → 404, a pydantic ValidationError (a policy document) → 422 naming each field."""
    try:
        yield
    except Invalid as exc:
        raise invalid(exc.field, exc.message) from exc
    except Conflict as exc:
        raise conflict(exc.message, **exc.extra) from exc
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except ValidationError as exc:
        raise invalid_many(validation_errors(list(exc.errors()))) from exc


def parse_date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "must be an ISO date such as 2026-01-01") from None


def parse_region(value: str) -> str:
    try:
        return identifiers.check_region(value)
    except identifiers.InvalidIdentifier as exc:
        raise invalid("region", exc.message) from exc


# ------------------------------------------------------------------------- request models

class EmployerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SHENZHEN_SOFT]})
    uscc: str = Field(max_length=64, description="GB 32100 unified social credit code, 18 characters")
    name: str = Field(min_length=1, max_length=200)
    industry_code: str = Field(max_length=16, description="GB/T 4754-2011 code, e.g. C3311 or I65")
    region: str = Field(max_length=16, description="6-digit administrative division code")
    enrolled_on: date


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"status": "suspended", "changed_on": "2025-09-01"}]})
    status: Literal["active", "suspended", "closed"]
    changed_on: date


class ChangesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"changed_on": "2025-09-01", "industry_code": "C3311"}]})
    changed_on: date
    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry_code: str | None = Field(default=None, max_length=16)


class BankAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"bank_code": "102584000011", "account_no": "6222020200112233445", "holder": "张三"}]})
    bank_code: str = Field(max_length=32, description="12-digit CNAPS code of the branch")
    account_no: str = Field(max_length=64, description="8 to 32 digits")
    holder: str = Field(min_length=1, max_length=200)

    def command(self) -> commands.BankAccountInput:
        return commands.BankAccountInput(self.bank_code, self.account_no, self.holder)


class BankAccountChangeRequest(BankAccountRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"bank_code": "102584000011", "account_no": "6222020200112233445", "holder": "张三",
                      "changed_on": "2025-08-01"}]})
    changed_on: date | None = Field(default=None, description="default: today")


class EmployeeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id_number": "440304199003070018", "name": "张三", "hired_on": "2025-07-01",
        "bank_account": {"bank_code": "102584000011", "account_no": "6222020200112233445", "holder": "张三"}}]})
    id_number: str = Field(max_length=32, description="GB 11643 resident identity number, 18 characters")
    name: str = Field(min_length=1, max_length=200)
    hired_on: date
    bank_account: BankAccountRequest | None = None


class SeparationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"separated_on": "2025-12-31"}]})
    separated_on: date


class ConsolidationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"into_region": "440000", "from_regions": ["440300", "440100"], "effective_from": "2027-01-01"}]})
    into_region: str = Field(max_length=16, description="the pool the others move into (6-digit code)")
    from_regions: list[str] = Field(min_length=1, max_length=100, description="the pools consolidated into it")
    effective_from: date = Field(description="a month's first day; from it the new region's policy applies")

    @field_validator("from_regions")
    @classmethod
    def _short_codes(cls, value: list[str]) -> list[str]:
        if any(len(r) > 16 for r in value):
            raise ValueError("a region is a 6-digit code")
        return value


# ------------------------------------------------------------------------------- views

def policy_view(version: Any) -> dict[str, Any]:
    document = version.document
    view = document.model_dump(mode="json")
    check = average_rate_flag(document)
    view.update(region=version.region, effective_from=version.effective_from.isoformat(), version=version.version,
                flags={"average_rate": str(check.average_rate), "average_rate_control": str(check.control_rate),
                       "exceeds_average_rate_control": check.exceeds})
    return view


def employer_row_view(row: Any) -> dict[str, Any]:
    return {"employer_id": row.employer_id, "uscc": row.uscc, "name": row.name, "industry_code": row.industry_code,
            "division": row.division, "region": row.region, "risk_class": row.risk_class,
            "base_rate": row.base_rate, "status": row.status, "enrolled_on": row.enrolled_on.isoformat(),
            "changed_on": row.changed_on.isoformat() if row.changed_on else None}


def worker_view(row: Any, jobs: list[Any], in_full: bool) -> dict[str, Any]:
    account = None
    if row.bank_code is not None:
        account = {"bank_code": row.bank_code, "holder": row.holder,
                   "account_no": row.account_no if in_full else identifiers.mask_account_no(row.account_no)}
    return {
        "employee_id": row.employee_id,
        "id_number": row.id_number if in_full else identifiers.check_id_number(row.id_number).masked,
        "name": row.name, "birth_date": row.birth_date.isoformat(), "sex": row.sex, "bank_account": account,
        "employments": [{"employer_id": j.employer_id, "hired_on": j.hired_on.isoformat(),
                         "separated_on": j.separated_on.isoformat() if j.separated_on else None,
                         "active": j.separated_on is None} for j in jobs],
    }


# ------------------------------------------------------------------------------ routes

def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["enrollment"])

    # -- policy

    @router.put("/v1/policies/{region}/{effective_from}", status_code=201, tags=["policy"],
                summary="Publish a region's policy from a date (a new version; never an edit)",
                responses={200: {"description": "the same document is already the newest version for that date"},
                           422: {"description": "a field of the document is invalid; `errors[].field` names it"}})
    def publish_policy(
        region: str, effective_from: str, response: Response,
        document: dict[str, Any] = Body(description="the flat policy document (RULES.md fields at the top level)",
                                        examples=[{"average_monthly_wage": "12964.00", "due_day": 15}]),
        principal: Principal = Depends(agency_only),
    ) -> dict[str, Any]:
        region = parse_region(region)
        on = parse_date("effective_from", effective_from)
        body = {k: v for k, v in document.items() if k not in POLICY_ENVELOPE_KEYS}
        with answering():
            result = handlers.publish_policy(ctx, principal, commands.PublishPolicy(region, on, body))
        if not result["published"]:
            response.status_code = 200
        return {**result["document"], "region": result["region"],
                "effective_from": result["effective_from"].isoformat(), "version": result["version"]}

    @router.get("/v1/policies/{region}", tags=["policy"],
                summary="The policy in force in a region on a date (falls back to the national 000000)")
    def get_policy(region: str, on: date | None = Query(None, description="default: today"),
                   _p: Principal = Depends(any_role)) -> dict[str, Any]:
        region = parse_region(region)
        with ctx.session_factory() as session:
            version = policy_in_force(session, region, on or handlers.today())
        if version is None:
            raise not_found("policy in force in region", f"{region} on {(on or handlers.today()).isoformat()}")
        return policy_view(version)

    # -- employers

    @router.post("/v1/employers", status_code=201, summary="Enroll an employer (class and rate from the policy)",
                 responses={409: {"description": "the USCC is already enrolled; `employer_id` names it"}})
    def enroll_employer(body: EmployerRequest, principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.enroll_employer(ctx, principal, commands.EnrollEmployer(
                body.uscc, body.name, body.industry_code, body.region, body.enrolled_on))

    @router.get("/v1/employers", summary="Employers, by id, optionally of one region")
    def list_employers(region: str | None = Query(None, max_length=6), cursor: str | None = Query(None, max_length=64),
                       limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
                       _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        stmt = select(employers).order_by(employers.c.employer_id).limit(limit + 1)
        if region is not None:
            stmt = stmt.where(employers.c.region == parse_region(region))
        if cursor:
            stmt = stmt.where(employers.c.employer_id > cursor)
        with ctx.session_factory() as session:
            rows = session.execute(stmt).all()
        page = rows[:limit]
        return {"items": [employer_row_view(r) for r in page],
                "next_cursor": page[-1].employer_id if len(rows) > limit else None}

    @router.get("/v1/employers/{employer_id}", summary="An employer as enrolled now")
    def get_employer(employer_id: str, _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with ctx.session_factory() as session:
            row = session.execute(select(employers).where(employers.c.employer_id == employer_id)).first()
        if row is None:
            raise not_found("employer", employer_id)
        return employer_row_view(row)

    @router.post("/v1/employers/{employer_id}/status", summary="Suspend, reactivate or close an employer")
    def change_status(employer_id: str, body: StatusRequest,
                      principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.change_employer_status(ctx, principal, commands.ChangeEmployerStatus(
                employer_id, body.status, body.changed_on))

    @router.post("/v1/employers/{employer_id}/changes",
                 summary="Rename an employer or change its industry (the risk class is mapped anew)")
    def change_employer(employer_id: str, body: ChangesRequest,
                        principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.change_employer(ctx, principal, commands.ChangeEmployer(
                employer_id, body.changed_on, body.name, body.industry_code))

    # -- employees

    @router.post("/v1/employers/{employer_id}/employees", status_code=201,
                 summary="Enroll a worker at an employer (the same person keeps one employee_id everywhere)",
                 responses={409: {"description": "the worker is already employed there; `employee_id` names it"}})
    def enroll_employee(employer_id: str, body: EmployeeRequest,
                        principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.enroll_employee(ctx, principal, commands.EnrollEmployee(
                employer_id, body.id_number, body.name, body.hired_on,
                body.bank_account.command() if body.bank_account else None))

    @router.get("/v1/employers/{employer_id}/employees", summary="The workers ever employed by an employer")
    def list_employees(employer_id: str, cursor: str | None = Query(None, max_length=64),
                       limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
                       _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        if cursor is not None and not cursor.isdigit():
            raise invalid("query.cursor", "must be a cursor this list returned")
        stmt = (select(employments).where(employments.c.employer_id == employer_id)
                .where(employments.c.id > int(cursor or 0)).order_by(employments.c.id).limit(limit + 1))
        with ctx.session_factory() as session:
            rows = session.execute(stmt).all()
        page = rows[:limit]
        return {"items": [{"employee_id": r.employee_id, "hired_on": r.hired_on.isoformat(),
                           "separated_on": r.separated_on.isoformat() if r.separated_on else None} for r in page],
                "next_cursor": str(page[-1].id) if len(rows) > limit else None}

    @router.get("/v1/employers/{employer_id}/employees/{employee_id}",
                summary="A worker with every employment; ID and account numbers in full only to the agency")
    def get_employee(employer_id: str, employee_id: str, request: Request,
                     principal: Principal = Depends(agency_or_hospital)) -> dict[str, Any]:
        with writing(ctx.session_factory) as session:
            row = session.execute(select(workers).where(workers.c.employee_id == employee_id)).first()
            jobs = session.execute(select(employments).where(employments.c.employee_id == employee_id)
                                   .order_by(employments.c.hired_on, employments.c.id)).all()
            if row is None or not any(j.employer_id == employer_id for j in jobs):
                raise not_found("employee", f"{employee_id} of employer {employer_id}")
            session.execute(insert(access_log).values(
                client_id=principal.client_id, method=request.method, path=request.url.path[:300],
                subject_id=employee_id, correlation_id=correlation_id.get(), recorded_at=utc_now()))
        return worker_view(row, jobs, in_full=principal.role == "agency")

    @router.put("/v1/employers/{employer_id}/employees/{employee_id}/bank-account",
                summary="Record the account a worker's benefits are paid to")
    def change_bank_account(employer_id: str, employee_id: str, body: BankAccountChangeRequest,
                            principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.change_bank_account(ctx, principal, commands.ChangeBankAccount(
                employer_id, employee_id, body.command(), body.changed_on or handlers.today()))

    @router.post("/v1/employers/{employer_id}/employees/{employee_id}/separation",
                 summary="A worker leaves an employer")
    def separate(employer_id: str, employee_id: str, body: SeparationRequest,
                 principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.separate_employee(ctx, principal, commands.SeparateEmployee(
                employer_id, employee_id, body.separated_on))

    # -- pooling (what moved: GET /v1/pooling/consolidations/{id}, served by levy, which holds the books)

    @router.post("/v1/pooling/consolidations", status_code=201, tags=["pooling"],
                 summary="Consolidate pools into one region from a date (pooling moves up)",
                 responses={200: {"description": "the same consolidation was recorded already: it, unchanged"},
                            409: {"description": "a region named was consolidated away already"},
                            422: {"description": "`errors[].field` names the bad field"}})
    def consolidate(body: ConsolidationRequest, response: Response,
                    principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            view, new = handlers.consolidate_pools(ctx, principal, commands.ConsolidatePools(
                body.into_region, tuple(body.from_regions), body.effective_from))
        if not new:
            response.status_code = 200
        response.headers["Location"] = f"/v1/pooling/consolidations/{view['consolidation_id']}"
        return view

    router.include_router(import_router(ctx, imports.KINDS))  # going live: employers, employees
    return router
