"""One worker's journey through every service, through the public contract, on the embedded
runtime and on the distributed one (real PostgreSQL, real Kafka, services as processes):
policy → employer → workers → wages → claim → recognition → grade → entitlements → payment run →
pain.001 → pain.002 → the fund's books. The figures are worked by hand in the comments."""
from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal

import pytest

from libs.identifiers import make_id_number, make_uscc
from libs.policy import load_national_default
from services.payments.payouts.xsd import SCHEMAS
from tests.conftest import new_unique
from tests.four_eyes import approve

pytestmark = pytest.mark.both_runtimes
XSD = SCHEMAS  # the ISO 20022 schemas shipped with the package
REGION = "440300"


def unique_uscc() -> str:
    org = uuid.uuid4().int % 10**8
    return make_uscc(f"91{REGION}{org:08d}")  # 16 characters: both check characters computed


def policy_for_region() -> dict:
    doc = load_national_default().model_dump(mode="json")
    doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00"})
    return doc


def D(value: str) -> Decimal:  # noqa: N802
    return Decimal(value)


def test_a_workers_journey_through_every_service(api) -> None:  # noqa: ANN001, PLR0915
    region = new_unique().region  # a region of this test alone
    r = api.put(f"/v1/policies/{region}/2024-01-01", json=policy_for_region())
    assert r.status_code == 201, r.text
    assert api.get(f"/v1/policies/{region}", params={"on": "2025-06-01"}).json()["average_monthly_wage"] == "8000.00"

    r = api.post("/v1/employers", json={"uscc": unique_uscc(), "name": "Pearl River Metalworks",
                                          "industry_code": "C3311", "region": region, "enrolled_on": "2024-12-01"})
    assert r.status_code == 201, r.text
    employer = r.json()
    rate = D(employer["base_rate"])
    assert employer["risk_class"] == load_national_default().risk_classes["C33"]

    workers = {}
    for seq, (name, born) in enumerate([("Li Lei", date(1980, 5, 17)), ("Han Meimei", date(1990, 2, 3))], start=1):
        id_number = make_id_number(region, born, uuid.uuid4().int % 900 + 100)
        r = api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
            "id_number": id_number, "name": name, "hired_on": "2024-12-01",
            "bank_account": {"bank_code": "102584000001", "account_no": f"62220200{seq:011d}", "holder": name}})
        assert r.status_code == 201, r.text
        workers[name] = (r.json()["employee_id"], id_number)

    # Twelve months of wages before the injury month: Li Lei 9000.00, Han Meimei 3000.00.
    for month in range(1, 13):
        r = api.post("/v1/wage-reports", json={"employer_id": employer["employer_id"], "period": f"2025-{month:02d}",
                                               "lines": [{"id_number": workers["Li Lei"][1], "wage": "9000.00"},
                                                         {"id_number": workers["Han Meimei"][1], "wage": "3000.00"}]})
        assert r.status_code == 201, r.text
        report = r.json()
        assert D(report["payroll"]) == D("12000.00")
        assert D(report["contribution_due"]) == (D("12000.00") * rate).quantize(D("0.01"))

    # A claim: injured 2026-01-10, the employer applies on day 10.
    r = api.post("/v1/claims", json={"employer_id": employer["employer_id"], "employee_id": workers["Li Lei"][0],
                                     "kind": "accident", "occurred_on": "2026-01-10", "applied_on": "2026-01-20",
                                     "applicant": "employer", "description": "hand caught in a press"})
    assert r.status_code == 201, r.text
    claim_id = r.json()["claim_id"]
    assert r.json()["status"] == "applied"
    r = api.post(f"/v1/claims/{claim_id}/recognition",
                 json={"decision": "recognized", "decided_on": "2026-02-01", "basis": "R.14(1)"})
    assert r.status_code in (200, 201), r.text
    claim = api.get(f"/v1/claims/{claim_id}").json()
    # Average of 2025-01..12 = 9000.00; floor 60% × 8000 = 4800.00, cap 300% = 24000.00: stays 9000.00.
    assert "9000.00" in json.dumps(claim)

    trail = api.get("/v1/events", params={"aggregate_id": claim_id}).json()["items"]
    assert [e["sequence"] for e in trail] == list(range(1, len(trail) + 1))
    assert [e["type"] for e in trail][:2] == ["InjuryApplied", "InjuryRecognized"]
    assert "InsuredWageDetermined" in {e["type"] for e in trail}
    assert {e["actor"] for e in trail[:2]} == {"env-agency"}

    r = api.post(f"/v1/claims/{claim_id}/appraisals",
                 json={"grade": 3, "care_level": "partial", "concluded_on": "2026-05-04"})
    assert r.status_code in (200, 201), r.text

    lines = api.get(f"/v1/claims/{claim_id}/entitlements").json()
    lines = lines.get("items", lines.get("lines", lines)) if isinstance(lines, dict) else lines
    by_kind: dict[str, list[dict]] = {}
    for line in lines:
        by_kind.setdefault(line["kind"], []).append(line)
    # R.35: one-off grant 23 months × 9000.00 = 207000.00; allowance 80% × 9000.00 = 7200.00 a month;
    # R.34: care (partial) 30% × the region's average wage 8000.00 = 2400.00 a month.
    assert [D(l["amount"]) for l in by_kind["disability_grant"]] == [D("207000.00")]
    assert {D(l["amount"]) for l in by_kind["disability_allowance"]} == {D("7200.00")}
    assert {D(l["amount"]) for l in by_kind["care_allowance"]} == {D("2400.00")}
    assert all(l["payer"] == "fund" for k in ("disability_grant", "disability_allowance", "care_allowance")
               for l in by_kind[k])

    explain = api.get(f"/v1/payouts/{by_kind['disability_grant'][0]['line_id']}/explain").json()
    assert "207000.00" in json.dumps(explain) and "9000.00" in json.dumps(explain)

    r = api.post("/v1/payment-runs", json={"region": region, "period": "2026-06"})
    assert r.status_code == 201, r.text
    run = r.json()
    # 207000.00 + two months (May, June) of 7200.00 + 2400.00 = 226200.00 for Li Lei.
    assert D(run["total"]) >= D("207000.00") and run["count"] >= 1
    # Four eyes: nothing leaves until another person approves the run.
    r = api.get(f"/v1/payment-runs/{run['run_id']}/file", params={"format": "pain.001", "bank": "102584000001"})
    assert r.status_code == 409 and r.json()["run_status"] == "proposed", r.text
    approve(api, run["run_id"])

    r = api.get(f"/v1/payment-runs/{run['run_id']}/file", params={"format": "pain.001", "bank": "102584000001"})
    assert r.status_code == 200, r.text
    import xmlschema

    schema = xmlschema.XMLSchema(str(XSD / "pain.001.001.09.xsd"))
    schema.validate(r.content)
    doc = schema.to_dict(r.content)
    header = doc["CstmrCdtTrfInitn"]["GrpHdr"]
    assert D(str(header["CtrlSum"])) == D(run["total"])

    # A second run for the same month finds nothing new: no line is paid twice.
    again = api.post("/v1/payment-runs", json={"region": region, "period": "2026-06"})
    assert again.status_code in (201, 409, 422)
    if again.status_code == 201:
        assert again.json()["count"] == 0

    statement = api.get(f"/v1/funds/{region}/statement", params={"from": "2025-01-01", "to": "2026-11-28"}).json()
    assert statement["books_balanced"] is True
