"""A FHIR R4 `Claim` is a medical bill; the answer is a FHIR `ClaimResponse` (R4B models of
fhir.resources, which R4 clients read unchanged).

Mapping: the work-injury claim id is an identifier — `insurance[0].coverage.identifier.value`, or
`patient.identifier.value`, or a `Claim.identifier` with system `CLAIM_SYSTEM`; the hospital is
`provider.identifier.value` (or `provider.reference` `Organization/<id>`); each `item` gives
`productOrService.coding[0].code`, `quantity.value` and `unitPrice.value` (CNY);
`billablePeriod.start`/`end` are the admission and discharge dates.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from pydantic import ValidationError

from libs.money import NotMoney, parse_yuan, yuan_str
from libs.web.problems import invalid, invalid_many

from .adjudication import MAX_ITEMS, MAX_QUANTITY, ItemIn
from .domain import MedicalBillAdjudicated
from .handlers import SubmitBill

CLAIM_SYSTEM = "urn:injuryledger:claim"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
REASON_SYSTEM = "urn:injuryledger:adjudication-reason"
REASON_TEXT = {
    "not_in_catalog": "not in the region's medical catalog",
    "price_capped": "unit price above the catalog maximum: approved at the maximum",
    "partial_share": "only the reimbursable share is approved",
    "price_capped+partial_share": "approved at the catalog maximum, reimbursable share only",
}
MAX_ID_LEN = 64


def _path(loc: tuple[Any, ...]) -> str:
    out = "Claim"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_claim(doc: Any) -> Claim:
    if not isinstance(doc, dict) or doc.get("resourceType") != "Claim":
        raise invalid("Claim.resourceType", "must be \"Claim\"")
    try:
        return Claim.model_validate(doc)
    except ValidationError as exc:
        errors = [{"field": _path(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
                  for e in exc.errors()[:50]]
        raise invalid_many(errors) from None


def _claim_id(claim: Claim) -> str:
    for ins in claim.insurance or []:
        ident = ins.coverage.identifier if ins.coverage else None
        if ident is not None and ident.value:
            return ident.value
    if claim.patient and claim.patient.identifier and claim.patient.identifier.value:
        return claim.patient.identifier.value
    for ident in claim.identifier or []:
        if ident.system == CLAIM_SYSTEM and ident.value:
            return ident.value
    raise invalid("Claim.insurance[0].coverage.identifier.value", "must carry the work-injury claim id")


def _hospital_id(claim: Claim) -> str:
    provider = claim.provider
    if provider.identifier is not None and provider.identifier.value:
        return provider.identifier.value
    if provider.reference and provider.reference.startswith("Organization/"):
        return provider.reference.split("/", 1)[1]
    raise invalid("Claim.provider.identifier.value", "must name the hospital")


def _as_date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise invalid(field, "is required (a date)")


def to_bill(claim: Claim) -> SubmitBill:
    claim_id, hospital_id = _claim_id(claim), _hospital_id(claim)
    for value, field in ((claim_id, "Claim.insurance[0].coverage.identifier.value"),
                         (hospital_id, "Claim.provider.identifier.value")):
        if len(value) > MAX_ID_LEN:
            raise invalid(field, f"at most {MAX_ID_LEN} characters")
    period = claim.billablePeriod
    if period is None:
        raise invalid("Claim.billablePeriod", "is required: start = admitted, end = discharged")
    admitted = _as_date(period.start, "Claim.billablePeriod.start")
    discharged = _as_date(period.end, "Claim.billablePeriod.end")
    items = claim.item or []
    if not 1 <= len(items) <= MAX_ITEMS:
        raise invalid("Claim.item", f"must hold 1..{MAX_ITEMS} items")
    out = []
    for n, item in enumerate(items):
        where = f"Claim.item[{n}]"
        coding = item.productOrService.coding or []
        if not coding or not coding[0].code:
            raise invalid(f"{where}.productOrService.coding[0].code", "is required")
        if item.quantity is None or item.quantity.value is None:
            raise invalid(f"{where}.quantity.value", "is required")
        qty = Decimal(item.quantity.value)
        if qty != qty.to_integral_value() or not 1 <= qty <= MAX_QUANTITY:
            raise invalid(f"{where}.quantity.value", f"must be a whole number 1..{MAX_QUANTITY}")
        if item.unitPrice is None or item.unitPrice.value is None:
            raise invalid(f"{where}.unitPrice.value", "is required")
        if item.unitPrice.currency not in (None, "CNY"):
            raise invalid(f"{where}.unitPrice.currency", "must be CNY")
        try:
            price = parse_yuan(str(item.unitPrice.value))
        except NotMoney as exc:
            raise invalid(f"{where}.unitPrice.value", str(exc)) from None
        code = coding[0].code
        if len(code) > MAX_ID_LEN:
            raise invalid(f"{where}.productOrService.coding[0].code", f"at most {MAX_ID_LEN} characters")
        out.append(ItemIn(code, int(qty), price))
    return SubmitBill(claim_id, hospital_id, admitted, discharged, out)


def _money(amount: Decimal) -> dict:
    return {"value": amount.quantize(Decimal("0.01")), "currency": "CNY"}


def _category(code: str) -> dict:
    return {"coding": [{"system": ADJUDICATION_SYSTEM, "code": code}]}


def claim_response(claim: Claim, e: MedicalBillAdjudicated) -> dict:
    """The ClaimResponse as a plain document (Decimal amounts), checked against the FHIR model."""
    notes, items = [], []
    for n, item in enumerate(e.items):
        sequence = claim.item[n].sequence if claim.item and n < len(claim.item) else n + 1
        adjudication = [{"category": _category("submitted"), "amount": _money(item.claimed)},
                        {"category": _category("benefit"), "amount": _money(item.approved)}]
        entry: dict[str, Any] = {"itemSequence": sequence, "adjudication": adjudication}
        if item.reason:
            adjudication[1]["reason"] = {"coding": [{"system": REASON_SYSTEM, "code": item.reason,
                                                     "display": REASON_TEXT.get(item.reason, item.reason)}]}
            notes.append({"number": len(notes) + 1, "type": "display",
                          "text": f"item {sequence} ({item.code}): {REASON_TEXT.get(item.reason, item.reason)}"})
            entry["noteNumber"] = [len(notes)]
        items.append(entry)
    doc = {
        "resourceType": "ClaimResponse",
        "id": e.bill_id.replace("_", "-"),
        "identifier": [{"system": "urn:injuryledger:bill", "value": e.bill_id}],
        "status": "active",
        "type": claim.type.model_dump(mode="json", exclude_none=True),
        "use": "claim",
        "patient": claim.patient.model_dump(mode="json", exclude_none=True),
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "insurer": {"display": "work-injury insurance fund"},
        "requestor": claim.provider.model_dump(mode="json", exclude_none=True),
        "outcome": "complete",
        "disposition": f"approved {yuan_str(e.approved)} of {yuan_str(e.claimed)} CNY",
        "preAuthRef": None,
        "item": items,
        "total": [{"category": _category("submitted"), "amount": _money(e.claimed)},
                  {"category": _category("benefit"), "amount": _money(e.approved)}],
    }
    if notes:
        doc["processNote"] = notes
    doc = {k: v for k, v in doc.items() if v is not None}
    ClaimResponse.model_validate(doc)  # never answer with an invalid resource
    return doc


_DEC = re.compile(r'"__dec__(-?\d+(?:\.\d+)?)__"')


def to_json(doc: dict) -> bytes:
    """FHIR JSON with decimals written exactly as they are (`260.00`, not a binary number)."""

    def walk(node: Any) -> Any:
        if isinstance(node, Decimal):
            return f"__dec__{node}__"
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, (date, datetime)):
            return node.isoformat()
        return node

    return _DEC.sub(r"\1", json.dumps(walk(doc), ensure_ascii=False)).encode()
