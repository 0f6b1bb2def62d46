"""The operator console over HTTP on both runtimes: sign-in with a personal agency token for a
session cookie (HttpOnly, SameSite=Strict), CSRF on every form, every page and action through the
API as the person signed in (so it is theirs in the audit trail), four eyes on a payment run."""
from __future__ import annotations

import pytest

from libs.console.sessions import SessionStore
from tests.four_eyes import personal_client

from .support import another_console, browser_like, csrf_of, sign_in, signed_in

pytestmark = pytest.mark.both_runtimes
PAGES = ["/console/claims", "/console/employers", "/console/funds?region=440300", "/console/payment-runs",
         "/console/ops"]


def test_pages_need_a_session_and_only_an_agency_token_gets_one(api) -> None:  # noqa: ANN001
    browser = browser_like(api)
    for path in PAGES:
        r = browser.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in"), path
    form = browser.get("/console/sign-in")
    assert form.headers["content-security-policy"].startswith("default-src 'self'")
    assert "https://" not in form.text and "http://" not in form.text  # nothing from outside
    refused = sign_in(browser, "il_" + "x" * 43)
    assert refused.status_code == 401 and "console" not in refused.cookies
    bank = api.post("/v1/clients", json={"name": "bank", "role": "bank", "bank_code": "102584000002"}).json()
    admin = personal_client(api, "root", role="admin")
    for token in (bank["token"], admin["Authorization"].removeprefix("Bearer ")):
        r = sign_in(browser, token)
        assert r.status_code == 401 and "agency" in r.text, r.text[:300]
    no_csrf = browser.post("/console/sign-in", data={"token": "whatever"}, follow_redirects=False)
    assert no_csrf.status_code == 403


def test_a_session_cookie_is_httponly_strict_and_every_page_answers(api) -> None:  # noqa: ANN001
    headers = personal_client(api, "page-reader")
    browser = browser_like(api)
    r = sign_in(browser, headers["Authorization"].removeprefix("Bearer "))
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("il_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    for path in PAGES:
        page = browser.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert 'lang="zh-CN"' in page.text and "page-reader" in page.text
    english = browser.get("/console/lang/en", params={"next": "/console/payment-runs"})
    assert english.status_code == 200 and 'lang="en"' in english.text and "Payment runs" in english.text
    assert browser.get("/console/lang/en", params={"next": "https://elsewhere.example/"},
                       follow_redirects=False).headers["location"] == "/console/claims"
    out = browser.post("/console/sign-out", data={"csrf": csrf_of(browser.get("/console/claims").text)},
                       follow_redirects=False)
    assert out.status_code == 303
    assert browser.get("/console/claims", follow_redirects=False).status_code == 303


def test_four_eyes_through_the_console_each_action_the_persons_own(api, unique) -> None:  # noqa: ANN001
    maker, maker_headers = signed_in(api, f"maker-{unique.n}")
    checker, checker_headers = signed_in(api, f"checker-{unique.n}")
    page = maker.get("/console/payment-runs")
    forged = maker.post("/console/payment-runs", data={"region": unique.region, "period": "2026-03"},
                        follow_redirects=False)
    assert forged.status_code == 403  # no CSRF token: refused, nothing proposed
    assert api.get("/v1/payment-runs", params={"region": unique.region}).json()["items"] == []
    proposed = maker.post("/console/payment-runs", data={"csrf": csrf_of(page.text), "region": unique.region,
                                                         "period": "2026-03"}, follow_redirects=False)
    assert proposed.status_code == 303, proposed.text
    run_path = proposed.headers["location"]
    run_id = run_path.rsplit("/", 1)[1]
    own = maker.get(run_path)
    assert "disabled" in own.text  # the proposer's buttons are off; the API refuses anyway
    refused = maker.post(f"{run_path}/approval", data={"csrf": csrf_of(own.text), "decision": "approved"})
    assert refused.status_code == 403 and "another person" in refused.text
    review = checker.get(run_path)
    assert review.status_code == 200 and "disabled" not in review.text
    approved = checker.post(f"{run_path}/approval", data={"csrf": csrf_of(review.text), "decision": "approved",
                                                          "note": "looked at the changes"}, follow_redirects=False)
    assert approved.status_code == 303
    view = api.get(f"/v1/payment-runs/{run_id}").json()
    assert view["status"] == "approved"
    assert (view["proposed_by"]["person"], view["approved_by"]["person"]) == (f"maker-{unique.n}", f"checker-{unique.n}")
    trail = api.get("/v1/events", params={"aggregate_id": run_id}).json()["items"]
    me = {who: api.get("/v1/clients/me", headers=h).json()["client_id"]
          for who, h in (("maker", maker_headers), ("checker", checker_headers))}
    assert [(e["type"], e["actor"]) for e in trail] == [("PaymentRunCreated", me["maker"]),
                                                        ("PaymentRunApproved", me["checker"])]


def test_a_revoked_token_ends_its_console_session(api) -> None:  # noqa: ANN001
    r = api.post("/v1/clients", json={"name": "desk", "role": "agency", "person": "leaver"})
    issued = r.json()
    browser = browser_like(api)
    assert sign_in(browser, issued["token"]).status_code == 303
    assert browser.get("/console/claims").status_code == 200
    api.post(f"/v1/clients/{issued['client_id']}/revocation", json={"reason": "left"})
    r = browser.get("/console/payment-runs", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/sign-in?expired=1")


def test_a_session_made_through_one_process_works_through_another_on_the_same_database(api) -> None:  # noqa: ANN001
    headers = personal_client(api, "roaming")
    browser = browser_like(api)
    assert sign_in(browser, headers["Authorization"].removeprefix("Bearer ")).status_code == 303
    sid = browser.cookies.get("il_console")
    with another_console(api) as other:
        cookie = {"Cookie": f"il_console={sid}"}
        page = other.get("/console/payment-runs", headers=cookie)
        assert page.status_code == 200 and "roaming" in page.text, page.text[:300]
        assert other.get("/console/payment-runs", follow_redirects=False).status_code == 303  # no cookie, no page
        # a form of this process posted to the other: the CSRF token is the session's, kept with it
        assert browser.post("/console/sign-out", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
        out = browser.post("/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert out.status_code == 303
        gone = other.get("/console/claims", headers=cookie, follow_redirects=False)
        assert (gone.status_code, gone.headers["location"]) == (303, "/console/sign-in?expired=1")


def test_an_idle_session_ends_and_the_database_holds_no_token_or_session_id(db_url: str) -> None:
    from sqlalchemy import select

    from libs.console.sessions import console_sessions
    from libs.db import make_engine, session_factory

    engine = make_engine(db_url)
    now = [1_000_000]  # ms
    store = SessionStore(session_factory(engine), idle_ms=900_000, clock_ms=lambda: now[0])
    other = SessionStore(session_factory(engine), idle_ms=900_000, clock_ms=lambda: now[0])  # another process
    session = store.create("il_secret-token", "cl_1", "desk", "wang")
    with engine.connect() as conn:
        row = conn.execute(select(console_sessions)).one()
    assert session.sid not in str(tuple(row)) and "il_secret-token" not in str(tuple(row))
    assert row.idle_until_ms == 1_900_000
    now[0] += 899_000
    seen = other.get(session.sid)  # a request restarts the idle clock, whichever process it reaches
    assert (seen.token, seen.client_id, seen.who, seen.csrf) == ("il_secret-token", "cl_1", "wang", session.csrf)
    now[0] += 899_000
    assert store.get(session.sid).token == "il_secret-token"
    assert other.get(session.sid[:-1] + ("A" if session.sid[-1] != "A" else "B")) is None
    now[0] += 901_000
    assert store.get(session.sid) is None and other.get(session.sid) is None
    with engine.connect() as conn:
        assert conn.execute(select(console_sessions)).all() == []  # the idle one is gone
    engine.dispose()


def test_a_sealed_token_opens_only_under_its_own_session_id_and_unaltered() -> None:
    import base64

    from libs.console.sessions import seal, unseal

    sealed = seal("sid-one", "il_secret-token")
    assert "il_secret-token" not in sealed and seal("sid-one", "il_secret-token") != sealed  # a nonce each time
    assert unseal("sid-one", sealed) == "il_secret-token"
    assert unseal("sid-two", sealed) is None
    raw = bytearray(base64.urlsafe_b64decode(sealed))
    raw[-1] ^= 1  # one bit of the tag
    assert unseal("sid-one", base64.urlsafe_b64encode(bytes(raw)).decode()) is None
