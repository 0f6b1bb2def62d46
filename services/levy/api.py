"""The levy service's REST routes (contract: shared/domain/API.md "Levy"): request models with
examples, auth, one handler call, the answer."""
from __future__ import annotations

import csv
import io
import json
import re
from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.imports.api import import_router
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.problems import Problem, invalid, invalid_many, validation_errors
from starlette.concurrency import run_in_threadpool

from . import bulk, handlers, imports, prevention, statement_months
from .handlers import MAX_LINES_PER_REPORT, ReportedLine

REGION = re.compile(r"^\d{6}$")
CSV_HEADER = ["id_number", "wage"]
WAGE_REPORT_EXAMPLE = {"employer_id": "er_0123456789abcdef", "period": "2026-03",
                       "lines": [{"id_number": "440304199003070018", "wage": "8123.45"}]}


@contextmanager
def answering() -> Iterator[None]:
    try:
        yield
    except handlers.Invalid as exc:
        raise invalid_many(exc.errors) from exc
    except handlers.NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except handlers.Conflict as exc:
        raise Problem(409, "Conflict", str(exc)) from exc


class WageLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=32, description="GB 11643 ID number of a worker employed that month")
    wage: str = Field(max_length=32, description="the month's wage in yuan, a decimal string with at most two places")


class WageReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [WAGE_REPORT_EXAMPLE]})
    employer_id: str = Field(max_length=64)
    period: str = Field(max_length=16, description="the month, YYYY-MM")
    lines: list[WageLineIn] = Field(max_length=MAX_LINES_PER_REPORT,
                                    description=f"one line per worker, at most {MAX_LINES_PER_REPORT}")
    reported_on: date | None = Field(default=None, description="the day the report was received; default today")


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"employer_id": "er_0123456789abcdef", "amount": "1500.00", "paid_on": "2026-04-20"}]})
    employer_id: str = Field(max_length=64)
    amount: str = Field(max_length=32, description="yuan, a decimal string with at most two places, > 0")
    paid_on: date


class RateReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"region": "440300", "year": 2027}]})
    region: str = Field(pattern=r"^\d{6}$", description="6-digit administrative division code")
    year: int = Field(description="the year the floating rates apply to")


_WAGE_REPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["employer_id", "period", "lines"], "properties": {
                "employer_id": {"type": "string"}, "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                "reported_on": {"type": "string", "format": "date"},
                "lines": {"type": "array", "maxItems": MAX_LINES_PER_REPORT, "items": {
                    "type": "object", "required": ["id_number", "wage"],
                    "properties": {"id_number": {"type": "string"}, "wage": {"type": "string"}}}}}},
            "example": WAGE_REPORT_EXAMPLE,
        },
        "text/csv": {
            "schema": {"type": "string"},
            "example": "id_number,wage\n440304199003070018,8123.45\n",
        },
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary", "description": "the CSV: id_number,wage"},
                "employer_id": {"type": "string"}, "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}}},
        },
    },
}


BULK_EXAMPLE = {"reports": [{**WAGE_REPORT_EXAMPLE, "reported_on": "2026-04-05"}]}
_BULK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["reports"], "properties": {"reports": {
                "type": "array", "maxItems": bulk.MAX_REPORTS_PER_REQUEST,
                "items": _WAGE_REPORT_BODY["content"]["application/json"]["schema"]}}},
            "example": BULK_EXAMPLE,
        },
        "text/csv": {
            "schema": {"type": "string", "description": "consecutive rows of one employer, month and reported_on "
                                                        "are one report; an empty reported_on is today"},
            "example": ",".join(bulk.CSV_HEADER) + "\ner_0123456789abcdef,2026-03,2026-04-05,440304199003070018,8123.45\n",
        },
    },
}
_BULK_ANSWER = {"reports": 1, "lines": 1, "refused": [
    {"report": 1, "employer_id": "er_0123456789abcdef", "period": "2026-13",
     "errors": [{"field": "reports.1.period", "message": "not a month YYYY-MM"}]}],
    "results": ["… one answer of POST /v1/wage-reports per report recorded, in order"]}


def _csv_lines(text: str) -> list[ReportedLine]:
    try:
        return _read_csv_lines(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    except csv.Error as exc:  # e.g. an unterminated quote
        raise invalid("body", f"not a readable CSV: {exc}") from None


def _read_csv_lines(reader: Iterator[list[str]]) -> list[ReportedLine]:
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != CSV_HEADER:
        raise invalid("body", f"a CSV report starts with the header {','.join(CSV_HEADER)}")
    lines: list[ReportedLine] = []
    for i, row in enumerate(reader):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(lines) >= MAX_LINES_PER_REPORT:
            raise invalid("lines", f"at most {MAX_LINES_PER_REPORT} lines per report")
        if len(row) != 2:
            raise invalid(f"lines.{len(lines)}", f"row {i + 2} must have 2 fields: id_number,wage")
        lines.append(ReportedLine(row[0].strip(), row[1].strip()))
    return lines


class PreventionProjectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"year": 2026, "name": "Safety training for small metalworking shops", "budget": "250000.00"}]})
    year: int = Field(description="the year of the project: its budget counts against that year's cap")
    name: str = Field(min_length=1, max_length=200)
    budget: str = Field(max_length=32, description="yuan; the year's budgets together stay within prevention_share "
                                                   "of the previous year's contributions collected")


class PreventionSpendingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "18000.00", "paid_on": "2026-04-20", "payee": "深圳市安全生产培训中心"}]})
    amount: str = Field(max_length=32, description="yuan, > 0; never beyond the project's budget")
    paid_on: date
    payee: str = Field(min_length=1, max_length=200, description="who was paid (a training centre, a printer...)")


def _region(region: str) -> str:
    if not REGION.match(region):
        raise invalid("region", "must be a 6-digit administrative division code")
    return region


STATEMENT_FIRST_DAY, STATEMENT_LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)

def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["levy"])

    @router.post("/v1/wage-reports", status_code=201, openapi_extra={"requestBody": _WAGE_REPORT_BODY},
                 summary="Report a month's wages (JSON, or a text/csv upload); a second report corrects the first")
    async def report_wages(request: Request,
                           employer_id: str | None = Query(None, max_length=64, description="CSV upload only"),
                           period: str | None = Query(None, max_length=16, description="CSV upload only"),
                           reported_on: date | None = Query(None, description="CSV upload only; default today"),
                           principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if content_type in ("text/csv", "application/csv", "text/plain"):
            missing = [{"field": f"query.{n}", "message": "is required with a CSV upload"}
                       for n, v in (("employer_id", employer_id), ("period", period)) if not v]
            if missing:
                raise invalid_many(missing)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise invalid("body", "a CSV report is UTF-8 text") from None
            lines: list[Any] = _csv_lines(text)
            eid, per = employer_id, period
        elif content_type == "multipart/form-data":
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise invalid("file", "attach the CSV as the form field `file`")
            try:
                text = (await upload.read()).decode("utf-8")
            except UnicodeDecodeError:
                raise invalid("file", "a CSV report is UTF-8 text") from None
            lines = _csv_lines(text)
            eid = employer_id or str(form.get("employer_id") or "") or None
            per = period or str(form.get("period") or "") or None
            if not eid or not per:
                raise invalid("employer_id" if not eid else "period", "is required with a CSV upload")
        else:
            try:
                parsed = WageReportRequest.model_validate_json(body or b"{}")
            except ValidationError as exc:
                raise invalid_many(validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])) \
                    from None
            lines, eid, per, reported_on = parsed.lines, parsed.employer_id, parsed.period, parsed.reported_on
        with answering():
            return await run_in_threadpool(handlers.report_wages, ctx, principal, eid, per, lines, reported_on)

    @router.post("/v1/wage-reports/bulk", status_code=201, openapi_extra={"requestBody": _BULK_BODY},
                 responses={201: {"content": {"application/json": {"example": _BULK_ANSWER}}},
                            422: {"description": "the body is not a list of reports (nothing recorded), or every "
                                                 "report was refused"}},
                 summary="Extension: many employers' wage reports in one request (JSON or CSV), each checked, "
                         "assessed and booked exactly as POST /v1/wage-reports; a bad report is refused alone")
    async def report_wages_bulk(request: Request, principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        with answering():
            if content_type in ("text/csv", "application/csv", "text/plain"):
                bulk.csv_header(body)
                reports: Any = bulk.parse_csv(body)
            else:
                try:
                    doc = json.loads(body or b"null")
                except ValueError:
                    raise handlers.Invalid.one("body", "is not JSON") from None
                reports = bulk.parse_json(doc)
                del doc, body
            answer = await run_in_threadpool(bulk.report_many, ctx, principal, reports)
        if not answer["reports"] and answer["refused"]:  # nothing recorded: a plain 422
            raise invalid_many([{**e, "report": r["report"]} for r in answer["refused"] for e in r["errors"]])
        return answer

    @router.post("/v1/contribution-payments", status_code=201,
                 summary="Record a payment: oldest debt first, late fees then contributions; the rest is credit")
    def pay(body: PaymentRequest, principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.pay_contribution(ctx, principal, body.employer_id, body.amount, body.paid_on)

    @router.get("/v1/employers/{employer_id}/account",
                summary="An employer's contribution account as of a date (late fees up to it)")
    def account(employer_id: str, on: date | None = Query(None, description="default: today"),
                _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.account_view(ctx, employer_id, on or handlers.today())

    @router.post("/v1/rate-reviews", summary="The annual experience rating of a region's employers")
    def review(body: RateReviewRequest, principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.review_rates(ctx, principal, body.region, body.year)

    @router.get("/v1/funds/{region}/statement",
                summary="The fund's income and expenditure of a region between two dates, from balanced books")
    def statement(region: str, from_: date = Query(alias="from"), to: date = Query(),
                  by: str | None = Query(None, description="`month`: also `months`, the statement of each "
                                                           "calendar month in the range (at most 120)"),
                  _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        if not REGION.match(region):
            raise invalid("region", "must be a 6-digit administrative division code")
        for field, day in (("from", from_), ("to", to)):  # the books' dates; keeps date arithmetic in range
            if not STATEMENT_FIRST_DAY <= day <= STATEMENT_LAST_DAY:
                raise invalid(field, f"must lie between {STATEMENT_FIRST_DAY} and {STATEMENT_LAST_DAY}")
        if by is not None and by != "month":
            raise invalid("by", "must be month (or left out)")
        with answering():
            if by == "month":
                return statement_months.fund_statement_by_month(ctx, region, from_, to)
            return handlers.fund_statement(ctx, region, from_, to)

    @router.get("/v1/pooling/consolidations/{consolidation_id}", tags=["pooling"],
                summary="What a consolidation of pools moved, and the balances it carried over")
    def get_consolidation(consolidation_id: str = Path(max_length=40),
                          _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return handlers.consolidation_view(ctx, consolidation_id)

    @router.post("/v1/funds/{region}/prevention-projects", status_code=201,
                 summary="A prevention project of a year; 422 naming `budget` past the year's cap")
    def post_prevention_project(region: str, body: PreventionProjectRequest,
                                principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return prevention.approve_project(ctx, principal, _region(region), body.year, body.name, body.budget)

    @router.get("/v1/funds/{region}/prevention-projects",
                summary="A year's prevention projects: the cap, the budgets and the spending")
    def get_prevention_projects(region: str, year: int = Query(ge=2000, le=9999),
                                _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return prevention.projects_view(ctx, _region(region), year)

    @router.post("/v1/funds/{region}/prevention-projects/{project_id}/spending", status_code=201,
                 summary="Spending recorded against a prevention project; 422 naming `amount` past its budget")
    def post_prevention_spending(region: str, project_id: str, body: PreventionSpendingRequest,
                                 principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        with answering():
            return prevention.record_spending(ctx, principal, _region(region), project_id, body.amount, body.paid_on,
                                              body.payee)

    router.include_router(import_router(ctx, imports.KINDS))  # going live: wages, accounts
    return router
