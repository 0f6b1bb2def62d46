"""The API documentation pages in a real browser with no way out. Headless Chromium (Debian's
package; deploy/browser.sh installs it, Playwright drives it, nothing is downloaded) opens /docs
and /redoc of a real server, the embedded runtime under uvicorn and the distributed runtime's
gateway, with every request that is not to that server aborted, and finds every operation of
the server's OpenAPI document listed. Screenshots go to tests/output/ (not committed)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import uvicorn

from libs.runtime.embedded import EmbeddedRuntime
from tests.conftest import embedded_settings, fresh_data_dir

pytestmark = pytest.mark.browser
OUTPUT = Path(__file__).resolve().parents[1] / "output"
WAIT_MS = 60_000  # a loaded two-core machine renders 60 operations slowly
METHODS = ("get", "put", "post", "delete", "patch")


def browser_required_or_skip(reason: str) -> None:
    """Outside CI a missing browser skips with one loud line; with CI=true it fails the test."""
    line = f"!!! BROWSER MISSING: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(line + " (CI=true: the browser tests are required)", pytrace=False)
    pytest.skip(line)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a Playwright Browser
    path = os.environ.get("INJURYLEDGER_CHROMIUM") or shutil.which("chromium")
    if not path:
        browser_required_or_skip("Debian's chromium is not installed (bash deploy/browser.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_required_or_skip("Playwright is not installed (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=path, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@contextmanager
def embedded_server(data_dir: Path) -> Iterator[str]:
    """The embedded runtime under uvicorn on a free port, in a thread. The socket listens before
    uvicorn starts, so the first request simply waits in its backlog: no polling for readiness."""
    runtime = EmbeddedRuntime(embedded_settings(data_dir))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(runtime.app(), log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        runtime.close()


@pytest.fixture(params=["embedded", pytest.param("distributed", marks=[pytest.mark.kafka, pytest.mark.postgres])])
def server(request, tmp_path):  # noqa: ANN001, ANN201 - (kind, base URL)
    if request.param == "distributed":
        yield request.param, request.getfixturevalue("cluster").gateway
        return
    with embedded_server(fresh_data_dir(request.getfixturevalue("migrated_data_dir"), tmp_path / "data")) as url:
        yield request.param, url


def operations(base: str) -> set[tuple[str, str]]:
    spec = httpx.get(f"{base}/openapi.json", timeout=60).json()
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}


def open_closed_network(browser, base: str, path: str):  # noqa: ANN001, ANN201 - (Page, outside URLs asked for)
    """A page of `base` whose every request elsewhere is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def gate(route) -> None:  # noqa: ANN001
        if route.request.url.startswith(f"{base}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route(re.compile(".*"), gate)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}{path}")
    return page, outside, errors


def assert_only_own_assets(base: str, path: str) -> None:
    html = httpx.get(f"{base}{path}", timeout=30).text
    links = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html)
    assert links and all(u.startswith("/") and not u.startswith("//") for u in links), links
    assert "https://" not in html and "http://" not in html


def test_swagger_ui_lists_every_operation_with_nothing_from_outside(browser, server) -> None:  # noqa: ANN001
    kind, base = server
    assert_only_own_assets(base, "/docs")
    expected = operations(base)
    assert ("POST", "/v1/claims") in expected
    page, outside, errors = open_closed_network(browser, base, "/docs")
    page.locator(".opblock-summary-path[data-path='/v1/claims']").first.wait_for()
    listed = page.evaluate("""() => [...document.querySelectorAll('.opblock')].map(o => [
        o.querySelector('.opblock-summary-method').textContent,
        o.querySelector('.opblock-summary-path').getAttribute('data-path')])""")
    assert {tuple(op) for op in listed} == expected
    assert page.get_by_text("/v1/claims", exact=True).count() >= 1
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"docs-{kind}.png"))
    assert outside == [] and errors == []


def test_redoc_lists_every_operation_with_nothing_from_outside(browser, server) -> None:  # noqa: ANN001
    kind, base = server
    assert_only_own_assets(base, "/redoc")
    expected = operations(base)
    page, outside, errors = open_closed_network(browser, base, "/redoc")
    page.get_by_text("/v1/claims", exact=True).first.wait_for()
    listed = page.evaluate("""() => [...document.querySelectorAll('span.http-verb')].map(v => [
        v.textContent.toUpperCase(), v.nextElementSibling ? v.nextElementSibling.textContent : ''])""")
    assert {tuple(op) for op in listed} == expected
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"redoc-{kind}.png"))
    assert outside == [] and errors == []
