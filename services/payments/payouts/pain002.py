"""Reading a bank's status report: ISO 20022 `pain.002.001.03` or `pain.002.001.12`, or CSV
(`end_to_end_id,status,reason`).

XML is parsed with defusedxml: no DTD at all (so no entity expansion, no billion laughs), no
external entities, no network. A report that carries one is refused with a 422.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from libs.web.problems import invalid

from .runs import StatusEntry

NAMESPACES = {
    "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03": "pain.002.001.03",
    "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12": "pain.002.001.12",
}
MAX_REPORT_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 200_000
MAX_CODE_LEN = 35


@dataclass(frozen=True)
class Report:
    version: str  # pain.002.001.03 | pain.002.001.12 | csv
    original_message_id: str | None
    created_on: date | None
    entries: list[StatusEntry]


def parse(body: bytes) -> Report:
    if len(body) > MAX_REPORT_BYTES:
        raise invalid("report", f"a report is at most {MAX_REPORT_BYTES} bytes")
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return parse_xml(body)
    return parse_csv(body)


def parse_xml(body: bytes) -> Report:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise invalid("report", f"a DTD or entity is not accepted in a status report ({type(exc).__name__})") from None
    except ParseError as exc:
        raise invalid("report", f"not well-formed XML: {exc}") from None
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    version = NAMESPACES.get(ns)
    if version is None or local != "Document":
        raise invalid("report", "expected a pain.002.001.03 or pain.002.001.12 Document")
    q = lambda path: "/".join(f"{{{ns}}}{p}" for p in path.split("/"))  # noqa: E731
    report = root.find(q("CstmrPmtStsRpt"))
    if report is None:
        raise invalid("CstmrPmtStsRpt", "is missing")
    created = _text(report, q("GrpHdr/CreDtTm"))
    group = report.find(q("OrgnlGrpInfAndSts"))
    if group is None:
        raise invalid("CstmrPmtStsRpt.OrgnlGrpInfAndSts", "is missing")
    original = _text(group, q("OrgnlMsgId"))
    group_status, group_reason = _text(group, q("GrpSts")), _text(group, q("StsRsnInf/Rsn/Cd"))
    entries: list[StatusEntry] = []
    for i, pmt in enumerate(report.findall(q("OrgnlPmtInfAndSts"))):
        pmt_status, pmt_reason = _text(pmt, q("PmtInfSts")), _text(pmt, q("StsRsnInf/Rsn/Cd"))
        for j, tx in enumerate(pmt.findall(q("TxInfAndSts"))):
            where = f"OrgnlPmtInfAndSts.{i}.TxInfAndSts.{j}"
            e2e = _text(tx, q("OrgnlEndToEndId"))
            if not e2e:
                raise invalid(f"{where}.OrgnlEndToEndId", "is missing")
            status = _text(tx, q("TxSts")) or pmt_status or group_status
            if not status:
                raise invalid(f"{where}.TxSts", "is missing, and no payment or group status stands for it")
            reason = _text(tx, q("StsRsnInf/Rsn/Cd")) or _text(tx, q("StsRsnInf/Rsn/Prtry")) or pmt_reason \
                or group_reason
            entries.append(StatusEntry(e2e[:MAX_CODE_LEN], status.upper()[:4], reason, where))
            if len(entries) > MAX_ENTRIES:
                raise invalid("report", f"at most {MAX_ENTRIES} transactions per report")
    if not entries and group_status:
        # A group status without transactions answers for the whole message (e.g. RJCT of all).
        entries.append(StatusEntry("*", group_status.upper()[:4], group_reason, "OrgnlGrpInfAndSts.GrpSts"))
    return Report(version, original, _date(created), entries)


def _text(node: Element, path: str) -> str | None:
    found = node.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise invalid("GrpHdr.CreDtTm", "is not an ISO date-time") from None


def parse_csv(body: bytes) -> Report:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("report", "a CSV report must be UTF-8") from None
    try:
        return _csv_entries(text)
    except csv.Error as exc:  # e.g. an unterminated quote
        raise invalid("report", f"not a readable CSV: {exc}") from None


def _csv_entries(text: str) -> Report:
    entries: list[StatusEntry] = []
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
        if not row or all(not c.strip() for c in row):
            continue
        cells = [c.strip() for c in row]
        if n == 0 and cells[0].lower() == "end_to_end_id":
            continue
        where = f"line.{n + 1}"
        if len(cells) not in (2, 3):
            raise invalid(where, "expected end_to_end_id,status,reason")
        e2e, status = cells[0], cells[1].upper()
        reason = cells[2] if len(cells) == 3 and cells[2] else None
        if not e2e or len(e2e) > MAX_CODE_LEN:
            raise invalid(f"{where}.end_to_end_id", f"must be 1..{MAX_CODE_LEN} characters")
        if reason is not None and len(reason) > MAX_CODE_LEN:
            raise invalid(f"{where}.reason", f"at most {MAX_CODE_LEN} characters")
        entries.append(StatusEntry(e2e, status, reason.upper() if reason else None, where))
        if len(entries) > MAX_ENTRIES:
            raise invalid("report", f"at most {MAX_ENTRIES} transactions per report")
    if not entries:
        raise invalid("report", "no transaction status in the report")
    return Report("csv", None, None, entries)
