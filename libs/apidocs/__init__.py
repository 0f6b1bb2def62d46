"""The API documentation pages, /docs (Swagger UI) and /redoc, with their scripts and styles
served from this package (static/, provenance in README.md), never from a CDN: a fund's network
is usually closed. Both runtimes mount the same routes: the embedded app and the gateway."""
from __future__ import annotations

from pathlib import Path

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
ASSETS = "/docs-assets"
SWAGGER_UI = f"{ASSETS}/swagger-ui"
# validatorUrl None: no validity badge fetched from an outside validator.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def docs_routes(title: str, openapi_url: str = "/openapi.json") -> list[BaseRoute]:
    """GET /docs, GET /redoc and the assets they load; for a FastAPI app made with
    docs_url=None, redoc_url=None, or a plain Starlette app (before any catch-all route)."""

    async def swagger_ui(_request: Request) -> Response:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - API", swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css", swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS)

    async def redoc(_request: Request) -> Response:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{title} - API", redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png", with_google_fonts=False)

    return [
        Route("/docs", swagger_ui, methods=["GET"], include_in_schema=False),
        Route("/redoc", redoc, methods=["GET"], include_in_schema=False),
        Mount(ASSETS, app=StaticFiles(directory=STATIC), name="docs-assets"),
    ]
