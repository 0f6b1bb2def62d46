"""The console's pages and actions: each reads or writes through the public API as the person
signed in (app.Page.api)."""
from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from . import charts
from .api import ApiError
from .i18n import labeller, translator
from .app import FUND_MONTHS, PREFIX, Page, secured, today

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
REGION = re.compile(r"^\d{6}$")
CLAIM_STATES = ("applied", "recognized", "deemed", "on_treatment_leave", "appraised", "terminated", "rejected",
                "deceased", "closed")
PAGE = 50


def _id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not ID.match(value):
        raise ApiError(404, {"title": "Not found", "detail": f"{name} {value[:64]!r} does not exist"})
    return value


def _region(value: str | None) -> str | None:
    return value if value and REGION.match(value) else None


def back_to(path: str, **flash: str) -> Response:
    query = "&".join(f"{k}={v}" for k, v in flash.items())
    return secured(RedirectResponse(f"{PREFIX}{path}" + (f"?{query}" if query else ""), status_code=303))


# ---- claims ---------------------------------------------------------------------------------

async def claims(request: Request, page: Page) -> Response:
    q = request.query_params
    status = q.get("status") if q.get("status") in CLAIM_STATES else None
    employer = q.get("employer_id") if q.get("employer_id") and ID.match(q["employer_id"]) else None
    region = _region(q.get("region"))
    found = await page.api.get("/v1/claims", order="deadline", region=region, status=status, employer_id=employer,
                               cursor=q.get("cursor") if (q.get("cursor") or "").startswith("@") else None,
                               limit=PAGE)
    for c in found["items"]:
        c["due_on"] = c["decision_due_on"] if c["status"] == "applied" else c["appraisal_due_on"]
    return page.render("claims.html", items=found["items"], next_cursor=found["next_cursor"], states=CLAIM_STATES,
                       filters={"region": region or "", "status": status or "", "employer_id": employer or ""})


async def claim(request: Request, page: Page, problem: dict | None = None, status: int = 200) -> Response:
    claim_id = _id(request, "claim_id")
    view, trail, lines, documents = await asyncio.gather(
        page.api.get(f"/v1/claims/{claim_id}"),
        page.api.get("/v1/events", aggregate_id=claim_id, limit=1000),
        page.api.get(f"/v1/claims/{claim_id}/entitlements", limit=1000),
        page.api.get(f"/v1/claims/{claim_id}/documents"))
    items = lines.get("items", [])
    chart = charts.entitlements_by_month(items, translator(page.lang)("entitlements.chart"), labeller(page.lang))
    return page.render("claim.html", status, claim=view, trail=trail["items"], lines=items, chart=chart,
                       documents=documents["items"],
                       today=today().isoformat(), problem=problem, saved=request.query_params.get("saved"))


async def _act(request: Request, page: Page, path: str, body: dict[str, Any]) -> Response:
    """A command through the API; its problem (422, 409) is shown on the claim's page."""
    claim_id = _id(request, "claim_id")
    try:
        await page.api.post(f"/v1/claims/{claim_id}/{path}", body)
    except ApiError as exc:
        if exc.status in (409, 422):
            return await claim(request, page, problem=exc.problem, status=exc.status)
        raise
    return back_to(f"/claims/{claim_id}", saved="1")


async def recognition(request: Request, page: Page) -> Response:
    form = await request.form()
    return await _act(request, page, "recognition", {
        "decision": form.get("decision"), "decided_on": form.get("decided_on"), "basis": form.get("basis", "")})


async def appraisal(request: Request, page: Page) -> Response:
    form = await request.form()
    grade = form.get("grade")
    return await _act(request, page, "appraisals", {
        "grade": int(grade) if grade and str(grade).isdigit() else None, "care_level": form.get("care_level"),
        "concluded_on": form.get("concluded_on")})


async def document(request: Request, page: Page) -> Response:
    """A written decision's PDF through the API, as the person signed in."""
    claim_id, document_id = _id(request, "claim_id"), _id(request, "document_id")
    response = await page.api.raw("GET", f"/v1/claims/{claim_id}/documents/{document_id}")
    if response.status_code >= 400:
        raise ApiError(response.status_code, response.json())
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "content-disposition")}
    return secured(Response(response.content, headers=headers))


async def explain(request: Request, page: Page) -> Response:
    line_id = _id(request, "line_id")
    return page.render("explain.html", line_id=line_id, explain=await page.api.get(f"/v1/payouts/{line_id}/explain"))


# ---- employers ------------------------------------------------------------------------------

async def employers(request: Request, page: Page) -> Response:
    region = _region(request.query_params.get("region")) or "440300"
    found = await page.api.get("/v1/employers", region=region, limit=200)
    return page.render("employers.html", items=found.get("items", []), region=region)


async def employer(request: Request, page: Page) -> Response:
    employer_id = _id(request, "employer_id")
    view, account = await asyncio.gather(page.api.get(f"/v1/employers/{employer_id}"),
                                         page.api.get(f"/v1/employers/{employer_id}/account"))
    return page.render("employer.html", employer=view, account=account)


# ---- the fund -------------------------------------------------------------------------------

async def fund(request: Request, page: Page) -> Response:
    region = _region(request.query_params.get("region")) or "440300"
    try:
        to = date.fromisoformat(request.query_params.get("to") or "")
    except ValueError:
        to = today()
    months = charts.months_back(to, FUND_MONTHS)
    whole = await page.api.get(f"/v1/funds/{region}/statement",
                               **{"from": months[0][0].isoformat(), "to": to.isoformat(), "by": "month"})
    monthly = whole.pop("months")  # each calendar month of the range, as months_back cuts them
    figures = charts.fund_charts([(a.strftime("%Y-%m"), s) for (a, _), s in zip(months, monthly)],
                                 translator(page.lang), labeller(page.lang))
    return page.render("fund.html", region=region, to=to.isoformat(), statement=whole, charts=figures,
                       months=[(a.strftime("%Y-%m"), s) for (a, _), s in zip(months, monthly)])


# ---- payment runs ---------------------------------------------------------------------------

async def runs(request: Request, page: Page, problem: dict | None = None, status: int = 200) -> Response:
    region = _region(request.query_params.get("region"))
    found = await page.api.get("/v1/payment-runs", region=region, limit=100)
    return page.render("runs.html", status, items=found["items"], region=region or "", problem=problem,
                       period=today().strftime("%Y-%m"), execution_date=today().isoformat())


async def propose(request: Request, page: Page) -> Response:
    form = await request.form()
    body = {"region": form.get("region"), "period": form.get("period")}
    if form.get("execution_date"):
        body["execution_date"] = form.get("execution_date")
    try:
        created = await page.api.post("/v1/payment-runs", body)
    except ApiError as exc:
        if exc.status in (409, 422):
            return await runs(request, page, problem=exc.problem, status=exc.status)
        raise
    return back_to(f"/payment-runs/{created['run_id']}")


async def run(request: Request, page: Page, problem: dict | None = None, status: int = 200) -> Response:
    run_id = _id(request, "run_id")
    view = await page.api.get(f"/v1/payment-runs/{run_id}")
    proposer = view.get("proposed_by") or {}
    own = proposer.get("client_id") == page.session.client_id or (
        page.session.person is not None and proposer.get("person") == page.session.person)
    return page.render("run.html", status, run=view, own=own, problem=problem,
                       chart=charts.by_bank(view["by_bank"], translator(page.lang)("by_bank")))


async def decide(request: Request, page: Page) -> Response:
    run_id = _id(request, "run_id")
    form = await request.form()
    try:
        await page.api.post(f"/v1/payment-runs/{run_id}/approval",
                            {"decision": form.get("decision"), "note": form.get("note", "")})
    except ApiError as exc:
        if exc.status in (403, 409, 422):
            return await run(request, page, problem=exc.problem, status=exc.status)
        raise
    return back_to(f"/payment-runs/{run_id}")


async def run_file(request: Request, page: Page) -> Response:
    """The bank file through the API as the person signed in (the API records who took it)."""
    run_id = _id(request, "run_id")
    fmt = "csv" if request.query_params.get("format") == "csv" else "pain.001"
    bank = request.query_params.get("bank") or None
    response = await page.api.raw("GET", f"/v1/payment-runs/{run_id}/file",
                                  params={"format": fmt, **({"bank": bank} if bank else {})})
    if response.status_code >= 400:
        raise ApiError(response.status_code, response.json())
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "content-disposition")}
    return secured(Response(response.content, headers=headers))


# ---- operations -----------------------------------------------------------------------------

async def ops(request: Request, page: Page) -> Response:
    status, ready = await asyncio.gather(page.api.get("/v1/ops/status"), page.api.raw("GET", "/readyz"))
    return page.render("ops.html", services=status["services"], ready=ready.json(), ready_ok=ready.status_code == 200)


def routes(p: Callable) -> list[Route]:  # noqa: ANN001 - Console.page
    return [
        Route("/claims", p(claims)),
        Route("/claims/{claim_id}", p(claim)),
        Route("/claims/{claim_id}/recognition", p(recognition, writes=True), methods=["POST"]),
        Route("/claims/{claim_id}/appraisal", p(appraisal, writes=True), methods=["POST"]),
        Route("/claims/{claim_id}/documents/{document_id}", p(document)),
        Route("/explain/{line_id:path}", p(explain)),
        Route("/employers", p(employers)),
        Route("/employers/{employer_id}", p(employer)),
        Route("/funds", p(fund)),
        Route("/payment-runs", p(runs)),
        Route("/payment-runs", p(propose, writes=True), methods=["POST"]),
        Route("/payment-runs/{run_id}", p(run)),
        Route("/payment-runs/{run_id}/approval", p(decide, writes=True), methods=["POST"]),
        Route("/payment-runs/{run_id}/file", p(run_file)),
        Route("/ops", p(ops)),
    ]
