"""A pain.001 file is validated against its schema before it is served: one that breaks it (here a
payee name the schema rejects, forced into the payouts table as a bug would) is a logged 500
problem, never a file; the other banks' files of the same run are served as usual."""
from __future__ import annotations

import logging

from lxml import etree
from sqlalchemy import update

from services.payments.payouts.tables import payouts
from services.payments.payouts.xsd import schema

from .support import add_line, payments
from .test_runs import P001, run


def test_an_invalid_file_is_refused_loudly_and_never_served(pay, runtime, caplog) -> None:  # noqa: ANN001
    add_line(runtime, "l1", 100_000, payee="employee:a", bank_code="105584000005")
    add_line(runtime, "l2", 50_000, payee="employee:b", bank_code="102584000123")
    run_id = run(pay)["run_id"]
    with payments(runtime).session_factory() as s, s.begin():  # a bug: an empty creditor name (Max140Text)
        s.execute(update(payouts).where(payouts.c.run_id == run_id, payouts.c.bank_part == "105").values(holder=""))

    with caplog.at_level(logging.ERROR, logger="injuryledger.payouts"):
        refused = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001", "bank": "105"})
    assert refused.status_code == 500
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert b"<Document" not in refused.content and "schema" in refused.json()["title"]
    assert refused.json()["correlation_id"]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and "BANK FILE REFUSED" in r.getMessage()]
    assert len(logged) == 1 and f"{run_id}-105" in logged[0].getMessage() and "minLength" in logged[0].getMessage()

    # the whole run's file holds the same payout: refused too
    assert pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001"}).status_code == 500
    # the other bank's file is valid and served, with its length known up front
    other = pay.get(f"/v1/payment-runs/{run_id}/file", params={"format": "pain.001", "bank": "102"})
    assert other.status_code == 200 and other.headers["content-length"] == str(len(other.content))
    doc = etree.fromstring(other.content)
    schema("pain.001.001.09").assertValid(doc)
    assert doc.findtext(f".//{P001}GrpHdr/{P001}CtrlSum") == "500.00"
