"""The operator console at /console: server-rendered pages (Jinja2, htmx) over the public API.

Every page and action asks the API with the signed-in person's own token (api.py), so the API's
role checks decide what they may see and do, and each action is their event in the audit trail;
the console itself keeps nothing but sessions (in the serving process's database: sessions.py).
Mounted by the embedded app and by the gateway,
so it is the same on both runtimes.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import charts, i18n
from .api import Api, ApiError
from .sessions import COOKIE, PRE_COOKIE, ConsoleSession, SessionStore, same

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
MAX_FORM_BYTES = 64 * 1024
FUND_MONTHS = 12
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

Handler = Callable[[Request, "Page"], Awaitable[Response]]


class Page:
    """What a handler has at hand: the session, the API as its person, the language, rendering."""

    def __init__(self, console: "Console", request: Request, session: ConsoleSession) -> None:
        self.console, self.request, self.session = console, request, session
        self.lang = lang_of(request)
        self.api = Api(console.target, session.token)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.console.render(self.request, template, status, session=self.session, **context)


def lang_of(request: Request) -> str:
    lang = request.cookies.get(i18n.COOKIE, i18n.DEFAULT)
    return lang if lang in i18n.LANGS else i18n.DEFAULT


def today() -> date:
    return datetime.now(timezone.utc).date()


class Console:
    def __init__(self, target: Callable[[], Any], sessions: sessionmaker[Session], idle_minutes: int) -> None:
        self.target = target
        self.sessions = SessionStore(sessions, idle_minutes * 60_000)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)

    # ---- rendering and protection ----------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = self.env.get_template(template).render(
            t=i18n.translator(lang), label=i18n.labeller(lang), lang=lang, prefix=PREFIX, here=here,
            switch_to="en" if lang == "zh" else "zh", quote=quote, urlencode=urlencode, **context)
        return secured(HTMLResponse(html, status_code=status))

    def page(self, handler: Handler, *, writes: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """A route that needs a live agency session (and, for a write, the session's CSRF token)."""

        async def endpoint(request: Request) -> Response:
            session = await run_in_threadpool(self.sessions.get, request.cookies.get(COOKIE))
            if session is None:
                return to_sign_in(request, expired=COOKIE in request.cookies)
            if writes or request.method == "POST":
                form = await request.form(max_fields=200, max_part_size=MAX_FORM_BYTES)
                given = request.headers.get("x-csrf-token") or form.get("csrf")
                if not same(str(given or ""), session.csrf):
                    return self.render(request, "error.html", 403, session=session, message_key="csrf")
            page = Page(self, request, session)
            try:
                async with page.api:
                    return await handler(request, page)
            except ApiError as exc:
                if exc.status == 401:  # revoked meanwhile: the session ends with the token
                    await run_in_threadpool(self.sessions.drop, session.sid)
                    return to_sign_in(request, expired=True)
                return page.render("error.html", exc.status, problem=exc.problem,
                                   message_key="forbidden" if exc.status == 403 else "error")

        return endpoint

    # ---- sign-in ---------------------------------------------------------------------------

    async def sign_in_form(self, request: Request) -> Response:
        pre = secrets.token_urlsafe(24)
        response = self.render(request, "sign_in.html", csrf=pre, expired=request.query_params.get("expired"))
        set_cookie(response, request, PRE_COOKIE, pre, max_age=900)
        return response

    async def sign_in(self, request: Request) -> Response:
        form = await request.form(max_fields=10, max_part_size=4096)
        if not same(str(form.get("csrf") or ""), request.cookies.get(PRE_COOKIE)):
            return self.render(request, "error.html", 403, message_key="csrf")
        token = str(form.get("token") or "").strip()
        refused = None
        me: dict = {}
        if not token or len(token) > 256:
            refused = "sign_in.refused"
        else:
            async with Api(self.target, token) as api:
                try:
                    me = await api.get("/v1/clients/me")
                except ApiError:
                    refused = "sign_in.refused"
            if refused is None and "agency" not in me.get("roles", []):
                refused = "sign_in.not_agency"
        if refused:
            pre = secrets.token_urlsafe(24)
            response = self.render(request, "sign_in.html", 401, csrf=pre, refused=refused)
            set_cookie(response, request, PRE_COOKIE, pre, max_age=900)
            return response
        session = await run_in_threadpool(self.sessions.create, token, me["client_id"], me["name"], me.get("person"))
        response = RedirectResponse(f"{PREFIX}/claims", status_code=303)
        set_cookie(response, request, COOKIE, session.sid)
        response.delete_cookie(PRE_COOKIE, path=PREFIX)
        return secured(response)

    async def sign_out(self, request: Request, page: Page) -> Response:
        await run_in_threadpool(self.sessions.drop, page.session.sid)
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return secured(response)

    async def language(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        back = request.query_params.get("next", "")
        if not back.startswith(f"{PREFIX}/") or back.startswith("//"):
            back = f"{PREFIX}/claims"
        response = RedirectResponse(back, status_code=303)
        if lang in i18n.LANGS:
            response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, path=PREFIX, samesite="strict",
                                httponly=True)
        return secured(response)


def secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def to_sign_in(request: Request, expired: bool = False) -> Response:
    if request.headers.get("hx-request"):  # htmx: send the whole page to the sign-in form
        response = Response(status_code=204, headers={"HX-Redirect": f"{PREFIX}/sign-in?expired=1"})
    else:
        response = RedirectResponse(f"{PREFIX}/sign-in" + ("?expired=1" if expired else ""), status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return secured(response)


def console_routes(target: Callable[[], Any], sessions: sessionmaker[Session], idle_minutes: int = 15) -> list:
    """`/console` (to its worklist) and the console mounted under it, for the embedded app and the
    gateway; `sessions` is the serving process's database, where the console sessions are kept."""
    return [Route(PREFIX, lambda _r: secured(RedirectResponse(f"{PREFIX}/claims", status_code=303))),
            Mount(PREFIX, app=console_app(target, sessions, idle_minutes))]


def console_app(target: Callable[[], Any], sessions: sessionmaker[Session], idle_minutes: int = 15) -> Starlette:
    """The console as an ASGI app to mount at /console; `target()` is the app it asks the API of."""
    from . import views

    console = Console(target, sessions, idle_minutes)
    p = console.page
    routes = [
        Route("/", lambda r: secured(RedirectResponse(f"{PREFIX}/claims", status_code=303))),
        Route("/sign-in", console.sign_in_form, methods=["GET"]),
        Route("/sign-in", console.sign_in, methods=["POST"]),
        Route("/sign-out", p(console.sign_out, writes=True), methods=["POST"]),
        Route("/lang/{lang}", console.language),
        *views.routes(p),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="console-static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app
