"""RFC 9457 problem responses: every error the API gives, in one shape.

`errors` names each bad field (`{"field": "lines.3.wage", "message": ...}`), so a client can
point at it. A 500 says only that something went wrong and gives the correlation id to quote.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.events.store import ConcurrencyConflict

from .context import correlation_id

log = logging.getLogger("injuryledger.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://injuryledger.example/problems/"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.type = type_ or TYPE_BASE + title.lower().replace(" ", "-")
        self.errors, self.extra = errors, extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = self.errors
        doc.update(self.extra)
        cid = correlation_id.get()
        if cid:
            doc["correlation_id"] = cid
        return doc


def invalid(field: str, message: str) -> Problem:
    """A 422 naming one bad field."""
    return Problem(422, "Invalid input", f"{field}: {message}", errors=[{"field": field, "message": message}])


def invalid_many(errors: list[dict[str, str]]) -> Problem:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(422, "Invalid input", detail, errors=errors)


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, "Not found", f"{what} {ident} does not exist")


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, "Conflict", detail, **extra)


def forbidden(detail: str = "this token may not do that") -> Problem:
    return Problem(403, "Forbidden", detail)


def unauthorized(detail: str = "a valid bearer token is required") -> Problem:
    return Problem(401, "Unauthorized", detail)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        problem.body(str(request.url.path) if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def field_of(loc: tuple[Any, ...]) -> str:
    """("body", "lines", 3, "wage") → "lines.3.wage"; query and path keep their place."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for e in errors[:100]:
        if e.get("type") == "json_invalid":  # loc is ("body", <character position>)
            reason = (e.get("ctx") or {}).get("error", "JSON decode error")
            at = [p for p in e.get("loc", ()) if isinstance(p, int)]
            where = f" at character {at[-1]}" if at else ""
            out.append({"field": "body", "message": f"is not valid JSON: {reason}{where}"})
            continue
        msg = str(e.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append({"field": field_of(tuple(e.get("loc", ()))), "message": msg})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid_many(validation_errors(list(exc.errors()))), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        title = titles.get(exc.status_code, "HTTP error")
        return problem_response(Problem(exc.status_code, title, str(exc.detail)), request)

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return problem_response(conflict(str(exc)), request)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return _unavailable(request)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return _unavailable(request)
        log.exception("database error")
        return problem_response(Problem(500, "Internal error", "the request failed; quote the correlation id"), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers an unhandled error outside every middleware, after the request's
        # correlation id was reset: take it back from the scope, for the log line and the answer.
        cid = correlation_id.get() or request.scope.get("state", {}).get("correlation_id")
        token = correlation_id.set(cid)
        try:
            log.exception("unhandled error")
            response = problem_response(Problem(500, "Internal error", "the request failed; quote the correlation id"),
                                        request)
        finally:
            correlation_id.reset(token)
        if cid:
            response.headers["x-correlation-id"] = cid
        return response


def _unavailable(request: Request) -> JSONResponse:
    response = problem_response(
        Problem(503, "Service unavailable", "the database is unavailable; nothing was changed, retry later"),
        request,
    )
    response.headers["Retry-After"] = "1"
    return response
