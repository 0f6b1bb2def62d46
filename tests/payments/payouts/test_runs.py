"""Payment runs, bank files (validated against the pain.001.001.09 XSD) and bank returns in
pain.002.001.03, pain.002.001.12 (validated against their XSDs) and CSV."""
from __future__ import annotations

import threading
from decimal import Decimal

import xmlschema
from lxml import etree
from sqlalchemy import select

from services.payments.payouts.runs import position
from services.payments.payouts.tables import payout_lines

from tests.four_eyes import approve

from .support import XSD, add_line, bank_account_changed, payments

P001 = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"
_schemas: dict[str, xmlschema.XMLSchema] = {}


def schema(name: str) -> xmlschema.XMLSchema:
    if name not in _schemas:
        _schemas[name] = xmlschema.XMLSchema(str(XSD / f"{name}.xsd"))
    return _schemas[name]


def run(api, period: str = "2026-03", region: str = "440300", approved: bool = True) -> dict:  # noqa: ANN001
    """A run proposed by the bootstrap token and, unless told otherwise, approved by a second person."""
    response = api.post("/v1/payment-runs", json={"region": region, "period": period, "execution_date": "2026-04-01"})
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "proposed"
    if approved:
        approve(api, response.json()["run_id"])
    return response.json()


def status_report(version: str, run_id: str, statuses: list[tuple[str, str, str | None]]) -> bytes:
    """A bank's pain.002 status report, built the way a bank would, valid against the XSD."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:{version}"
    txs = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else "")
        + "</TxInfAndSts>" for e2e, status, reason in statuses)
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><CstmrPmtStsRpt>'
           f"<GrpHdr><MsgId>BANK-{run_id[-8:]}</MsgId><CreDtTm>2026-04-02T10:00:00</CreDtTm></GrpHdr>"
           f"<OrgnlGrpInfAndSts><OrgnlMsgId>{run_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
           f"</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>{run_id}</OrgnlPmtInfId>{txs}"
           f"</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>").encode()
    schema(version).validate(etree.fromstring(xml))
    return xml


def payouts_of(api, run_id: str) -> dict[str, dict]:  # noqa: ANN001
    return {p["payee"]: p for p in api.get(f"/v1/payment-runs/{run_id}").json()["payouts"]}


def returns(api, run_id: str, body: bytes, content_type: str = "application/xml", headers=None):  # noqa: ANN001, ANN201
    return api.post(f"/v1/payment-runs/{run_id}/returns", content=body,
                    headers={"Content-Type": content_type, **(headers or {})})


def test_a_run_nets_recoveries_and_pays_each_payee_once(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 300_000, payee="employee:a")
    add_line(runtime, "l2", 120_050, payee="employee:a", period="2026-03")
    add_line(runtime, "l3", -20_000, payee="employee:a", period="2026-03")     # a recovery, netted
    add_line(runtime, "l4", 50_000, payee="employee:b", period="2026-04")      # after the run's month
    add_line(runtime, "l5", 70_000, payee="employee:c", bank_code=None, account_no=None)  # no account
    add_line(runtime, "l6", 10_000, payee="employee:d")
    add_line(runtime, "l7", -30_000, payee="employee:d")                       # net ≤ 0: waits
    add_line(runtime, "l8", 99_999, payee="employer:x", payer="employer")      # not fund money
    add_line(runtime, "l9", 10_000, payee="employee:e", region="510100")       # another region
    created = run(pay)
    assert (created["count"], created["total"]) == (1, "4000.50")
    assert [w["payee"] for w in created["waiting_for_account"]] == ["employee:c"]
    assert [w["payee"] for w in created["waiting_net_not_positive"]] == ["employee:d"]
    assert payouts_of(pay, created["run_id"])["employee:a"]["lines"] == 3
    trail = pay.get("/v1/events", params={"aggregate_id": created["run_id"]}).json()["items"]
    assert [(e["type"], e["payload"].get("count"), e["payload"].get("total")) for e in trail] == \
        [("PaymentRunCreated", 1, "4000.50"), ("PaymentRunApproved", None, None)]
    again = run(pay)  # nothing is paid twice
    assert (again["count"], again["total"]) == (0, "0.00")
    later = run(pay, period="2026-04")
    assert (later["count"], later["total"]) == (1, "500.00")
    with payments(runtime).session_factory() as s:
        assert position(s, "440300") == {"settled": 0, "open": 450_050, "payable": 70_000 - 20_000, "settled_outside": 0,
                                             "total": 500_050}


def test_pain001_file_is_valid_and_adds_up_per_bank(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 100_000, payee="employee:a", bank_code="105584000005", account_no="6217000012345678")
    add_line(runtime, "l2", 23_456, payee="employee:b", bank_code="105100000017", account_no="6217000099999999")
    add_line(runtime, "l3", 77_700, payee="employee:c", bank_code="102584000123", account_no="6222020200012345")
    created = run(pay)
    run_id = created["run_id"]
    whole = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001"})
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("application/xml")
    schema("pain.001.001.09").validate(etree.fromstring(whole.content))
    for bank, expected in (("105", [("employee:a", "1000.00"), ("employee:b", "234.56")]),
                           ("102584000123", [("employee:c", "777.00")])):
        response = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001", "bank": bank})
        doc = etree.fromstring(response.content)
        schema("pain.001.001.09").validate(doc)
        txs = doc.findall(f".//{P001}CdtTrfTxInf")
        amounts = [Decimal(t.find(f"{P001}Amt/{P001}InstdAmt").text) for t in txs]
        assert doc.findtext(f".//{P001}GrpHdr/{P001}NbOfTxs") == str(len(expected)) == str(len(txs))
        assert Decimal(doc.findtext(f".//{P001}GrpHdr/{P001}CtrlSum")) == sum(amounts) == \
            sum(Decimal(a) for _, a in expected)
        assert {t.find(f"{P001}Amt/{P001}InstdAmt").get("Ccy") for t in txs} == {"CNY"}
        ids = [t.findtext(f"{P001}PmtId/{P001}EndToEndId") for t in txs]
        assert len(set(ids)) == len(ids) and all(i.startswith("po_") for i in ids)
        for t in txs:
            assert len(t.findtext(f".//{P001}CdtrAgt//{P001}MmbId")) == 12
        assert doc.findtext(f".//{P001}DbtrAcct/{P001}Id/{P001}Othr/{P001}Id") == "40000234092001"
        assert doc.findtext(f".//{P001}ReqdExctnDt/{P001}Dt") == "2026-04-01"
    csv_file = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "csv", "bank": "105"})
    lines = csv_file.text.strip().splitlines()
    assert lines[0].startswith("end_to_end_id,amount") and len(lines) == 3


def test_a_bank_token_sees_only_its_own_bank(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 100_000, payee="employee:a", bank_code="105584000005")
    add_line(runtime, "l2", 50_000, payee="employee:b", bank_code="102584000123")
    run_id = run(pay)["run_id"]
    token = pay.post("/v1/clients", json={"name": "CCB", "role": "bank", "bank_code": "105584000005"}).json()["token"]
    as_bank = pay.as_token(token)
    own = pay.get(f"/v1/payment-runs/{run_id}/file", headers=as_bank)
    assert own.status_code == 200
    assert etree.fromstring(own.content).findtext(f".//{P001}GrpHdr/{P001}CtrlSum") == "1000.00"
    assert pay.get(f"/v1/payment-runs/{run_id}/file", params={"bank": "102"}, headers=as_bank).status_code == 403
    other = payouts_of(pay, run_id)["employee:b"]["payout_id"]
    refused = returns(pay, run_id, f"{other},ACSC,\n".encode(), "text/csv", headers=as_bank)
    assert refused.status_code == 403
    assert pay.post("/v1/payment-runs", json={"region": "440300", "period": "2026-03"},
                    headers=as_bank).status_code == 403


def test_returns_in_both_pain002_versions_and_csv(pay, runtime) -> None:  # noqa: ANN001
    for n, payee in enumerate("abcdef"):
        add_line(runtime, f"l{n}", 10_000 * (n + 1), payee=f"employee:{payee}")
    run_id = run(pay)["run_id"]
    ids = {payee.split(":")[1]: p["payout_id"] for payee, p in payouts_of(pay, run_id).items()}
    v03 = status_report("pain.002.001.03", run_id, [(ids["a"], "ACSC", None), (ids["b"], "RJCT", "AM04")])
    v12 = status_report("pain.002.001.12", run_id, [(ids["c"], "ACCP", None), (ids["d"], "RJCT", "MS03")])
    first = returns(pay, run_id, v03)
    assert first.status_code == 200, first.text
    assert (first.json()["settled"], first.json()["rejected"]) == ([ids["a"]], [ids["b"]])
    assert returns(pay, run_id, v12).json()["format"] == "pain.002.001.12"
    csv_report = f"end_to_end_id,status,reason\n{ids['e']},ACSC,\n{ids['f']},RJCT,AC04\n".encode()
    assert returns(pay, run_id, csv_report, "text/csv").json()["rejected"] == [ids["f"]]
    # idempotent: the same reports again change nothing
    for body, ctype in ((v03, "application/xml"), (v12, "application/xml"), (csv_report, "text/csv")):
        again = returns(pay, run_id, body, ctype).json()
        assert again["settled"] == again["rejected"] == [] and again["unchanged"]
    # settled once: a later rejection of a settled payout is reported, not applied
    late = returns(pay, run_id, f"{ids['a']},RJCT,AC04\n".encode(), "text/csv").json()
    assert late["rejected"] == [] and late["conflicting"][0]["status"] == "settled"
    trail = pay.get("/v1/events", params={"aggregate_id": ids["b"]}).json()["items"]
    assert [e["type"] for e in trail] == ["PayoutRejected"]
    assert trail[0]["payload"]["reason"] == "AM04" and trail[0]["payload"]["lines"][0]["amount"] == "200.00"
    assert set(trail[0]["payload"]["lines"][0]) >= {"line_id", "claim_id", "employer_id", "kind", "family", "amount"}
    settled = pay.get("/v1/events", params={"aggregate_id": ids["a"]}).json()["items"]
    assert settled[0]["type"] == "PayoutSettled" and settled[0]["payload"]["settled_on"] == "2026-04-02"
    # b and d were rejected for reasons that are not the account: payable again at once;
    # f's account is closed (AC04): it waits for a new account
    rerun = run(pay)
    assert (rerun["count"], rerun["total"]) == (2, "600.00")
    assert [w["payee"] for w in rerun["waiting_for_account"]] == ["employee:f"]
    bank_account_changed(runtime, "f", "103584000001", "6228480012345678")
    third = run(pay)
    assert (third["count"], third["total"]) == (1, "600.00")
    assert payouts_of(pay, third["run_id"])["employee:f"]["bank_code"] == "103584000001"


def test_bad_reports_change_nothing(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 10_000, payee="employee:a")
    run_id = run(pay)["run_id"]
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><x>&lol2;</x></Document>')
    response = returns(pay, run_id, bomb)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "report"
    external = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "http://example.com/x">]><d>&x;</d>')
    assert returns(pay, run_id, external).status_code == 422
    unknown = returns(pay, run_id, b"po_nothere,ACSC,\n", "text/csv")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "line.1.end_to_end_id"
    payout_id = payouts_of(pay, run_id)["employee:a"]["payout_id"]
    mixed = returns(pay, run_id, f"{payout_id},ACSC,\npo_nothere,RJCT,AC04\n".encode(), "text/csv")
    assert mixed.status_code == 422
    assert returns(pay, run_id, f"{payout_id},WHAT,\n".encode(), "text/csv").status_code == 422
    assert payouts_of(pay, run_id)["employee:a"]["status"] == "open"


def test_two_threads_creating_runs_at_once_never_share_a_line(pay, runtime) -> None:  # noqa: ANN001
    for n in range(60):
        add_line(runtime, f"l{n}", 1_000 + n, payee=f"employee:{n % 7}")
    results: list[dict] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        results.append(run(pay, approved=False))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["count"] for r in results) == [0, 7]
    assert sum(Decimal(r["total"]) for r in results) == Decimal(sum(1_000 + n for n in range(60))) / 100
    with payments(runtime).session_factory() as s:
        assert len(s.execute(select(payout_lines.c.line_id)).all()) == 60
