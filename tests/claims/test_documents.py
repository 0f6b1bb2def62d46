"""Written decisions (issue 14): a worker's recognition decision, appraisal conclusion and payment
advice, each a PDF in Chinese with the facts, the article, the amounts and a verification code,
its SHA-256 kept; listed and downloaded by the agency alone. The text is read back out of each
PDF and its figures checked."""
from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from pypdf import PdfReader

from libs.policy import load_national_default
from tests.four_eyes import approve
from tests.payments.payouts.support import FUND

pytestmark = pytest.mark.both_runtimes


def ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def graded_and_paid(api, unique) -> dict:  # noqa: ANN001
    """Li Lei (9000.00 a month), injured 2026-01-10, recognized, grade 3 with partial care, paid
    for up to June 2026 by an approved run whose bank settled it."""
    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00", "fund_account": FUND})
    ok(api.put(f"/v1/policies/{unique.region}/2024-01-01", json=doc), 201)
    employer = ok(api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "珠江五金制品有限公司",
                                                  "industry_code": "C3311", "region": unique.region,
                                                  "enrolled_on": "2024-12-01"}), 201)
    id_number = unique.id_number(date(1980, 5, 17), 123)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": id_number, "name": "李雷", "hired_on": "2024-12-01",
        "bank_account": {"bank_code": "102584000001", "account_no": "6222020200012345678", "holder": "李雷"}}), 201)
    for month in range(1, 13):
        ok(api.post("/v1/wage-reports", json={"employer_id": employer["employer_id"], "period": f"2025-{month:02d}",
                                              "lines": [{"id_number": id_number, "wage": "9000.00"}]}), 201)
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer",
        "description": "手被冲床压伤"}), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{claim_id}/recognition",
                json={"decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14(1)"}))
    ok(api.post(f"/v1/claims/{claim_id}/appraisals", json={"grade": 3, "care_level": "partial",
                                                           "concluded_on": "2026-05-04"}))
    run = ok(api.post("/v1/payment-runs", json={"region": unique.region, "period": "2026-06"}), 201)
    assert run["total"] == "226200.00"  # 207000.00 + 2 × (7200.00 + 2400.00)
    approve(api, run["run_id"])
    payout_id = ok(api.get(f"/v1/payment-runs/{run['run_id']}"))["payouts"][0]["payout_id"]
    settled = ok(api.post(f"/v1/payment-runs/{run['run_id']}/returns", content=f"{payout_id},ACSC,\n".encode(),
                          headers={"Content-Type": "text/csv"}))
    assert settled["settled"] == [payout_id]
    return {"claim_id": claim_id, "employer_id": employer["employer_id"], "run_id": run["run_id"]}


def test_each_kind_is_rendered_with_its_figures_and_served_to_the_agency_alone(api, unique) -> None:  # noqa: ANN001
    world = graded_and_paid(api, unique)
    claim_id = world["claim_id"]
    listed = ok(api.get(f"/v1/claims/{claim_id}/documents"))["items"]
    assert [d["kind"] for d in listed] == ["recognition", "appraisal", "payment_advice"]
    assert [d["issued_on"] for d in listed][:2] == ["2026-02-01", "2026-05-04"]
    assert len({d["verification_code"] for d in listed}) == 3
    assert listed[0]["sha256"] and listed[1]["sha256"] and listed[2]["sha256"] is None  # an advice: when asked
    trail = {e["event_id"]: e["type"] for e in api.get("/v1/events", params={"aggregate_id": claim_id}).json()["items"]}
    assert [trail[d["source_event_id"]] for d in listed[:2]] == ["InjuryRecognized", "GradeAssigned"]

    texts = {}
    for d in listed:
        r = api.get(d["href"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
        assert r.headers["x-document-sha256"] == hashlib.sha256(r.content).hexdigest()
        assert d["sha256"] in (None, hashlib.sha256(r.content).hexdigest())
        text = text_of(r.content)
        assert d["verification_code"] in text and d["document_id"] in text
        texts[d["kind"]] = text

    recognition = texts["recognition"]
    for expected in ("工伤认定决定书", "李雷", "珠江五金制品有限公司", "认定为工伤", "2026-01-10", "2026-02-01",
                     "第十四条", "R.14(1)", unique.region):
        assert expected in recognition, (expected, recognition)
    appraisal = texts["appraisal"]
    for expected in ("劳动能力鉴定结论书", "伤残三级", "生活部分不能自理", "2026-05-04", "第二十一条", "9000.00"):
        assert expected in appraisal, (expected, appraisal)
    advice = texts["payment_advice"]
    for expected in ("工伤保险待遇支付通知书", "李雷", world["run_id"], "一次性伤残补助金  207000.00",
                     "伤残津贴  7200.00", "生活护理费  2400.00", "226200.00", "第三十条"):
        assert expected in advice, (expected, advice)

    # the advice's hash is recorded at its first rendering; the same bytes are served ever after
    again = ok(api.get(f"/v1/claims/{claim_id}/documents"))["items"][2]
    first = api.get(again["href"]).content
    assert again["sha256"] == hashlib.sha256(first).hexdigest() and api.get(again["href"]).content == first

    hospital = ok(api.post("/v1/clients", json={"name": "H", "role": "hospital", "hospital_id": "H-docs"}), 201)
    as_hospital = {"Authorization": f"Bearer {hospital['token']}"}
    assert api.get(f"/v1/claims/{claim_id}/documents", headers=as_hospital).status_code == 403
    assert api.get(listed[0]["href"], headers=as_hospital).status_code == 403
    assert api.get(f"/v1/claims/{claim_id}/documents/doc_{'0' * 24}").status_code == 404


def test_a_rejection_is_a_decision_too(api, unique) -> None:  # noqa: ANN001
    employer = ok(api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "深圳建安有限公司",
                                                  "industry_code": "E4700", "region": unique.region,
                                                  "enrolled_on": "2025-01-01"}), 201)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": unique.id_number(date(1990, 3, 7), 1), "name": "王五", "hired_on": "2025-06-01"}), 201)
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-03-02", "applied_on": "2026-03-10", "applicant": "employer",
        "description": "下班途中醉酒摔伤"}), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{claim_id}/recognition",
                json={"decision": "rejected", "decided_on": "2026-04-01", "basis": "R.16(2)"}))
    [document] = ok(api.get(f"/v1/claims/{claim_id}/documents"))["items"]
    text = text_of(api.get(document["href"]).content)
    for expected in ("工伤认定决定书", "王五", "不予认定为工伤", "第十六条", "R.16(2)", "2026-04-01"):
        assert expected in text, (expected, text)


def test_each_appeal_decision_is_a_document_naming_its_route_outcome_and_what_it_replaces(api, unique) -> None:  # noqa: ANN001
    """Rejected on 2026-02-01, overturned on reconsideration (R.55) on 2026-04-10; the employer's
    suit upheld on 2026-06-01 (R.55); appraised grade 5 with partial care on 2026-06-10 and modified
    by the provincial committee (R.26) on 2026-06-24 to grade 4 with mostly no self-care."""
    employer = ok(api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "东莞精工模具厂",
                                                  "industry_code": "C3311", "region": unique.region,
                                                  "enrolled_on": "2024-12-01"}), 201)
    id_number = unique.id_number(date(1985, 9, 2), 77)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
        "id_number": id_number, "name": "韩梅梅", "hired_on": "2024-12-01"}), 201)
    claim_id = ok(api.post("/v1/claims", json={
        "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
        "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "worker",
        "description": "模具坠落砸伤左脚"}), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{claim_id}/recognition",
                json={"decision": "rejected", "decided_on": "2026-02-01", "basis": "R.16(1)"}))

    def appeal(subject: str, route: str, lodged_on: str, by: str, outcome: str, decided_on: str, **new) -> str:  # noqa: ANN003
        appeal_id = ok(api.post(f"/v1/claims/{claim_id}/appeals", json={
            "subject": subject, "route": route, "lodged_on": lodged_on, "lodged_by": by}), 201)["appeal_id"]
        ok(api.post(f"/v1/claims/{claim_id}/appeals/{appeal_id}/decision",
                    json={"outcome": outcome, "decided_on": decided_on, **new}))
        return appeal_id

    first = appeal("recognition", "reconsideration", "2026-03-01", "worker", "overturned", "2026-04-10",
                   decision="recognized")
    second = appeal("recognition", "litigation", "2026-04-20", "employer", "upheld", "2026-06-01")
    ok(api.post(f"/v1/claims/{claim_id}/appraisals", json={"grade": 5, "care_level": "partial",
                                                           "concluded_on": "2026-06-10"}))
    third = appeal("appraisal", "appraisal_committee", "2026-06-15", "worker", "modified", "2026-06-24",
                   grade=4, care_level="mostly")

    listed = ok(api.get(f"/v1/claims/{claim_id}/documents"))["items"]
    assert [(d["kind"], d["issued_on"]) for d in listed] == [
        ("recognition", "2026-02-01"), ("appeal_decision", "2026-04-10"), ("appeal_decision", "2026-06-01"),
        ("appraisal", "2026-06-10"), ("appeal_decision", "2026-06-24")]
    assert [d["title"] for d in listed if d["kind"] == "appeal_decision"] == [
        "行政复议决定通知书", "行政诉讼裁判结果通知书", "再次鉴定结论通知书"]
    assert all(d["sha256"] for d in listed) and len({d["verification_code"] for d in listed}) == 5
    trail = {e["event_id"]: e["type"] for e in api.get("/v1/events", params={"aggregate_id": claim_id}).json()["items"]}
    assert [trail[d["source_event_id"]] for d in listed if d["kind"] == "appeal_decision"] == ["AppealDecided"] * 3

    texts = []
    for d in (d for d in listed if d["kind"] == "appeal_decision"):
        r = api.get(d["href"])
        assert r.status_code == 200 and r.headers["x-document-sha256"] == d["sha256"] == \
            hashlib.sha256(r.content).hexdigest()
        text = text_of(r.content)
        assert d["verification_code"] in text and d["document_id"] in text and "韩梅梅" in text, text
        assert "东莞精工模具厂" in text and unique.region in text, text
        texts.append(text.replace("\n", ""))  # a long line is wrapped at 44 characters
    reconsideration, litigation, committee = texts
    for expected in ("行政复议决定通知书", f"案号：{first}", "途径：行政复议（R.55）", "申请日期：2026-03-01；申请人：职工",
                     "工伤认定决定（2026-02-01）：不予认定为工伤", "决定：撤销原决定。自2026-02-01起，认定结果为：认定为工伤。",
                     "决定日期：2026-04-10", "第五十五条"):
        assert expected in reconsideration, (expected, reconsideration)
    for expected in ("行政诉讼裁判结果通知书", f"案号：{second}", "途径：行政诉讼（R.55）", "申请日期：2026-04-20；申请人：用人单位",
                     "工伤认定决定（2026-02-01）：认定为工伤", "决定：维持原决定。", "决定日期：2026-06-01", "第五十五条"):
        assert expected in litigation, (expected, litigation)
    assert "认定结果为" not in litigation  # upheld: nothing replaced
    for expected in ("再次鉴定结论通知书", f"案号：{third}", "途径：再次鉴定（R.26）", "申请日期：2026-06-15",
                     "劳动能力鉴定结论（2026-06-10）：伤残五级（等级 5），生活部分不能自理",
                     "决定：变更原决定。自2026-06-10起，鉴定结论为：伤残四级（等级 4），生活大部分不能自理。",
                     "决定日期：2026-06-24", "第二十六条", "最终结论"):
        assert expected in committee, (expected, committee)
