"""Hostile input: oversized and deeply nested bodies, malformed CSV wage reports, malformed and
malicious XML bank returns, broken FHIR claims. Each is refused with a problem response naming
what is wrong, records nothing (no event in any service), and the next request is served."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from libs.events.tables import events
from libs.runtime.demo import LI, ZHANG, load_demo
from libs.runtime.embedded import EmbeddedRuntime
from libs.web.problems import PROBLEM_JSON
from services.levy.handlers import MAX_LINES_PER_REPORT
from tests.conftest import AGENCY_TOKEN, embedded_settings, fresh_data_dir

MAX_BODY = 4 * 1024 * 1024  # the test's INJURYLEDGER_MAX_BODY_BYTES: room for 50,001 wage lines
PAIN002 = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory,
            migrated_data_dir: Path) -> Iterator[tuple[EmbeddedRuntime, TestClient, dict]]:
    settings = embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path_factory.mktemp("hostile") / "data"))
    settings.max_body_bytes = MAX_BODY
    rt = EmbeddedRuntime(settings)
    app = rt.app()
    load_demo(app, AGENCY_TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}, raise_server_exceptions=False) as c:
        soft = next(e for e in c.get("/v1/employers").json()["items"] if e["industry_code"] == "I6510")
        yield rt, c, {"employer_id": soft["employer_id"]}
    rt.close()


def event_counts(rt: EmbeddedRuntime) -> dict[str, int]:
    out = {}
    for name, wired in rt.services.items():
        with wired.ctx.session_factory() as session:
            out[name] = session.execute(select(func.count()).select_from(events)).scalar_one()
    return out


def refused(hostile, method: str, path: str, status: int, naming: str, **kwargs: Any) -> dict:  # noqa: ANN001
    """Send it; expect a problem of `status` whose text names `naming`; nothing recorded; the
    process serves the next request."""
    rt, client, _ = hostile
    before = event_counts(rt)
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    problem = r.json()
    assert {"type", "title", "status"} <= problem.keys() and problem["status"] == status
    assert naming.lower() in json.dumps(problem, ensure_ascii=False).lower(), problem
    if status == 422:
        assert problem["errors"] and all(e["field"] for e in problem["errors"])
    assert event_counts(rt) == before, "a refused request recorded events"
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/policies/440300").status_code == 200
    return problem


def wage_report(employer_id: str, n: int) -> dict:
    return {"employer_id": employer_id, "period": "2025-09", "lines": [{"id_number": ZHANG, "wage": "8000.00"}] * n}


# ---- sizes and nesting --------------------------------------------------------------------

def test_a_body_over_the_limit_is_413(hostile) -> None:  # noqa: ANN001
    big = b"{" + b" " * MAX_BODY + b"}"
    refused(hostile, "POST", "/v1/employers", 413, f"{MAX_BODY} bytes", content=big,
            headers={"content-type": "application/json"})


def test_a_streamed_body_over_the_limit_is_413_without_a_declared_length(hostile) -> None:  # noqa: ANN001
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    refused(hostile, "POST", "/v1/wage-reports", 413, "larger than", content=chunks(),
            headers={"content-type": "application/json"})


def test_a_wage_report_beyond_the_line_limit_is_refused_naming_the_limit(hostile) -> None:  # noqa: ANN001
    employer_id = hostile[2]["employer_id"]
    problem = refused(hostile, "POST", "/v1/wage-reports", 422, str(MAX_LINES_PER_REPORT),
                      json=wage_report(employer_id, MAX_LINES_PER_REPORT + 1))
    assert problem["errors"][0]["field"] == "lines"
    csv_body = "id_number,wage\n" + f"{ZHANG},8000.00\n" * (MAX_LINES_PER_REPORT + 1)
    problem = refused(hostile, "POST", "/v1/wage-reports", 422, str(MAX_LINES_PER_REPORT), content=csv_body,
                      params={"employer_id": employer_id, "period": "2025-09"}, headers={"content-type": "text/csv"})
    assert problem["errors"][0]["field"] == "lines"


@pytest.mark.parametrize("path", ["/v1/employers", "/v1/wage-reports", "/v1/claims", "/fhir/Claim"])
def test_json_nested_too_deep_is_422(hostile, path: str) -> None:  # noqa: ANN001
    deep = "[" * 100_000 + "]" * 100_000
    ctype = "application/fhir+json" if path.startswith("/fhir") else "application/json"
    refused(hostile, "POST", path, 422, "nests deeper", content=deep, headers={"content-type": ctype})


def test_a_json_body_that_is_not_utf8_or_not_json_names_the_body(hostile) -> None:  # noqa: ANN001
    p = refused(hostile, "POST", "/v1/employers", 422, "UTF-8", content=b'{"name": "\xff\xfe"}',
                headers={"content-type": "application/json"})
    assert p["errors"][0]["field"] == "body"
    p = refused(hostile, "POST", "/v1/employers", 422, "not valid JSON", content=b'{"name": ',
                headers={"content-type": "application/json"})
    assert p["errors"][0]["field"] == "body"


# ---- CSV wage reports -----------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field", "naming"), [
    (b"wage,id_number\n" + ZHANG.encode() + b",8000.00\n", "body", "header"),
    (b"", "body", "header"),
    (b"id_number,wage\n\"" + ZHANG.encode() + b",8000.00\n", "lines.0", "2 fields"),
    (b"id_number,wage\n" + ZHANG.encode() + b",8000.00,extra\n", "lines.0", "2 fields"),
    (b"id_number,wage\n" + ZHANG.encode() + b"\r,8000.00\n", "lines.0", "2 fields"),
    (b"id_number,wage\n\xff\xfe\xfd,8000.00\n", "body", "UTF-8"),
    ("id_number,wage\n" .encode() + "张三".encode("gb18030") + b",8000.00\n", "body", "UTF-8"),
    (b"id_number,wage\n" + ZHANG.encode() + b",1e5\n", "lines.0.wage", "wage"),
    (b"id_number,wage\n" + ZHANG.encode() + b",12.345\n", "lines.0.wage", "two decimal places"),
    (b"id_number,wage\n" + ZHANG.encode() + b",-1.00\n", "lines.0.wage", "wage"),
    (b"id_number,wage\n" + ZHANG.encode() + b",NaN\n", "lines.0.wage", "wage"),
    (b"id_number,wage\n440304198804120114,8000.00\n", "lines.0.id_number", "id_number"),
])
def test_malformed_csv_wage_reports_are_refused(hostile, body: bytes, field: str, naming: str) -> None:  # noqa: ANN001
    employer_id = hostile[2]["employer_id"]
    problem = refused(hostile, "POST", "/v1/wage-reports", 422, naming, content=body,
                      params={"employer_id": employer_id, "period": "2025-09"}, headers={"content-type": "text/csv"})
    assert problem["errors"][0]["field"] == field, problem


def test_a_malformed_csv_upload_as_a_form_is_refused(hostile) -> None:  # noqa: ANN001
    employer_id = hostile[2]["employer_id"]
    data = {"employer_id": employer_id, "period": "2025-09"}
    p = refused(hostile, "POST", "/v1/wage-reports", 422, "UTF-8", data=data,
                files={"file": ("wages.csv", b"id_number,wage\n\xff,1\n", "text/csv")})
    assert p["errors"][0]["field"] == "file"
    refused(hostile, "POST", "/v1/wage-reports", 422, "header", data=data,
            files={"file": ("wages.csv", b"wage\n1\n", "text/csv")})


def test_a_good_csv_report_still_goes_through(hostile) -> None:  # noqa: ANN001
    rt, client, ids = hostile
    r = client.post("/v1/wage-reports", params={"employer_id": ids["employer_id"], "period": "2025-09"},
                    content=f"id_number,wage\n{ZHANG},8000.00\n{LI},6000.50\n", headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    assert r.json()["payroll"] == "14000.50"


# ---- XML bank returns -----------------------------------------------------------------------

def pain002(body: str, ns: str = PAIN002) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><CstmrPmtStsRpt>'
            f"<GrpHdr><MsgId>S1</MsgId><CreDtTm>2026-04-02T10:00:00</CreDtTm></GrpHdr>{body}"
            "</CstmrPmtStsRpt></Document>")


GOOD_GROUP = ("<OrgnlGrpInfAndSts><OrgnlMsgId>run_x-102</OrgnlMsgId></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts>"
              "<TxInfAndSts><OrgnlEndToEndId>po_1</OrgnlEndToEndId><TxSts>RJCT</TxSts></TxInfAndSts>"
              "</OrgnlPmtInfAndSts>")
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + f']><Document xmlns="{PAIN002}"><CstmrPmtStsRpt>&lol9;</CstmrPmtStsRpt></Document>')
XXE = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       f'<Document xmlns="{PAIN002}"><CstmrPmtStsRpt><GrpHdr><MsgId>&xxe;</MsgId></GrpHdr></CstmrPmtStsRpt>'
       "</Document>")


@pytest.mark.parametrize(("body", "naming"), [
    (b"this is not XML nor a CSV of returns\n", "end_to_end_id"),
    (b"<Document><unclosed>", "not well-formed"),
    (pain002(GOOD_GROUP)[:-40].encode(), "not well-formed"),
    (pain002(GOOD_GROUP, ns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09").encode(), "pain.002"),
    (b'<?xml version="1.0"?><Document xmlns="urn:example:other"/>', "pain.002"),
    (pain002("").encode(), "OrgnlGrpInfAndSts"),
    (LAUGHS.encode(), "DTD or entity"),
    (XXE.encode(), "DTD or entity"),
    (b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd"><Document/>', "DTD or entity"),
    (b"<a>" * 5000 + b"</a>" * 5000, "pain.002"),
    (b"\xff\xfe<\x00D\x00", "UTF-8"),
])
def test_malformed_bank_returns_are_refused(hostile, body: bytes, naming: str) -> None:  # noqa: ANN001
    for ctype in ("application/xml", "text/csv"):
        problem = refused(hostile, "POST", "/v1/payment-runs/run_x/returns", 422, naming, content=body,
                          headers={"content-type": ctype})
        assert "root:" not in json.dumps(problem)  # nothing of /etc/passwd comes back


# ---- FHIR claims ----------------------------------------------------------------------------

def fhir_claim(**changes: Any) -> dict:
    doc = {"resourceType": "Claim", "status": "active", "use": "claim", "created": "2026-01-16",
           "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                "code": "institutional"}]},
           "patient": {"identifier": {"value": "ee-1"}}, "provider": {"identifier": {"value": "H-440300-001"}},
           "priority": {"coding": [{"code": "normal"}]},
           "insurance": [{"sequence": 1, "focal": True, "coverage": {"identifier": {"value": "clm-unknown"}}}],
           "billablePeriod": {"start": "2026-01-10", "end": "2026-01-15"},
           "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "A1"}]}, "quantity": {"value": 2},
                     "unitPrice": {"value": 130, "currency": "CNY"}}]}
    doc.update(changes)
    return doc


def nested(depth: int) -> dict:
    node: dict = {"value": "x"}
    for _ in range(depth):
        node = {"extension": [{"url": "urn:x", "valueString": "y", "extension": [node]}]}
    return node


@pytest.mark.parametrize(("doc", "field"), [
    (fhir_claim(status=["active"]), "Claim.status"),
    (fhir_claim(billablePeriod={"start": "not-a-date"}), "Claim.billablePeriod"),
    (fhir_claim(created="yesterday"), "Claim.created"),
    (fhir_claim(item=[{"sequence": "one"}]), "Claim.item"),
    (fhir_claim(resourceType="Patient"), "Claim.resourceType"),
    ({"status": "active"}, "Claim.resourceType"),
    ([fhir_claim()], "Claim.resourceType"),
    (fhir_claim(extension=[nested(10)]), "body"),  # deeper than 32 levels
])
def test_broken_fhir_claims_are_refused(hostile, doc: Any, field: str) -> None:  # noqa: ANN001
    problem = refused(hostile, "POST", "/fhir/Claim", 422, field, content=json.dumps(doc),
                      headers={"content-type": "application/fhir+json"})
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem


def test_a_fhir_claim_that_is_not_json_is_refused(hostile) -> None:  # noqa: ANN001
    refused(hostile, "POST", "/fhir/Claim", 422, "not JSON", content=b"<Claim/>",
            headers={"content-type": "application/fhir+json"})
    refused(hostile, "POST", "/fhir/Claim", 422, "content-type", content=b"<Claim/>",
            headers={"content-type": "application/xml"})
