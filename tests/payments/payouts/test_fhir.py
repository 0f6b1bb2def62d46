"""A FHIR R4 Claim is the same bill as the REST one, answered with a ClaimResponse."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

from fhir.resources.R4B.claimresponse import ClaimResponse

from .support import claim, hospital

CLAIM = {
    "resourceType": "Claim",
    "status": "active",
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
    "use": "claim",
    "patient": {"identifier": {"system": "urn:injuryledger:employee", "value": "ee-1"}},
    "created": "2026-01-16",
    "provider": {"identifier": {"system": "urn:injuryledger:hospital", "value": "H1"}},
    "priority": {"coding": [{"code": "normal"}]},
    "insurance": [{"sequence": 1, "focal": True,
                   "coverage": {"identifier": {"system": "urn:injuryledger:claim", "value": "clm-1"}}}],
    "billablePeriod": {"start": "2026-01-10", "end": "2026-01-15"},
    "item": [
        {"sequence": 1, "productOrService": {"coding": [{"code": "A1"}]}, "quantity": {"value": 2},
         "unitPrice": {"value": 130.00, "currency": "CNY"}},
        {"sequence": 2, "productOrService": {"coding": [{"code": "ZZ"}]}, "quantity": {"value": 1},
         "unitPrice": {"value": 12.5, "currency": "CNY"}},
    ],
}
FHIR = {"Content-Type": "application/fhir+json"}


def test_fhir_claim_round_trip(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay)
    claim(runtime, "clm-1")
    response = pay.post("/fhir/Claim", json=CLAIM, headers=FHIR)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    answer = ClaimResponse.model_validate_json(response.content)  # a valid FHIR resource
    raw = json.loads(response.text, parse_float=Decimal)  # the wire keeps two places: 260.00
    assert [str(a["amount"]["value"]) for a in raw["item"][0]["adjudication"]] == ["260.00", "200.00"]
    assert answer.outcome == "complete"
    first, second = answer.item
    amounts = {a.category.coding[0].code: a.amount.value for a in first.adjudication}
    assert amounts == {"submitted": Decimal("260.00"), "benefit": Decimal("200.00")}
    assert {a.amount.currency for a in first.adjudication} == {"CNY"}
    benefit = [a for a in second.adjudication if a.category.coding[0].code == "benefit"][0]
    assert benefit.amount.value == 0 and benefit.reason.coding[0].code == "not_in_catalog"
    assert {t.amount.value for t in answer.total} == {Decimal("272.50"), Decimal("200.00")}
    # the same bill as a REST one: the hospital reads it back
    bills = pay.get("/v1/medical-bills", params={"hospital_id": "H1"}).json()["items"]
    assert [(b["claimed"], b["approved"]) for b in bills] == [("272.50", "200.00")]


def test_invalid_fhir_names_the_fhir_path(pay, runtime) -> None:  # noqa: ANN001
    hospital(pay)
    claim(runtime, "clm-1")
    bad = copy.deepcopy(CLAIM)
    bad["item"][1]["quantity"] = {"value": "lots"}
    response = pay.post("/fhir/Claim", json=bad, headers=FHIR)
    assert response.status_code == 422
    assert any(e["field"].startswith("Claim.item[1].quantity") for e in response.json()["errors"]), response.text
    missing = copy.deepcopy(CLAIM)
    del missing["patient"]
    response = pay.post("/fhir/Claim", json=missing, headers=FHIR)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "Claim.patient"
    fraction = copy.deepcopy(CLAIM)
    fraction["item"][0]["quantity"] = {"value": 1.5}
    response = pay.post("/fhir/Claim", json=fraction, headers=FHIR)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "Claim.item[0].quantity.value"
    assert pay.post("/fhir/Claim", content=b"<x/>", headers={"Content-Type": "application/xml"}).status_code == 422
    assert pay.get("/v1/medical-bills", params={"hospital_id": "H1"}).json()["items"] == []
