"""payrun27_lock_by_payee: the one-line-one-payout lock keyed (payee, line id). Every lock
stored before is kept, its payee found where the lock's holder says: the line's own, else the
payout's (a recovery line in a payout), the overpayment's or the deduction's (SQLite and
PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from libs.db import make_engine, migrate
from services.payments.payouts.tables import overpayment_deductions, overpayments, payout_lines, payouts
from tests.migrations import upgrade_to_before

AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
REVISION = "payrun27_lock_by_payee"


def _line(line_id: str, payee: str) -> dict:
    return dict(line_id=line_id, claim_id="c1", employer_id="er1", region="440300", kind="disability_allowance",
                family="long_term", period="2026-02", amount_fen=1_000, payer="fund", payee=payee,
                known_at=AT)


def test_every_lock_is_kept_under_its_payee(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        upgrade_to_before(conn, "payments", REVISION)
        lines = [_line("el_a", "employee:a"), _line("el_b", "employee:b"), _line("el_n", "employee:n")]
        conn.execute(text(f"INSERT INTO entitlement_lines ({', '.join(lines[0])}) "
                          f"VALUES ({', '.join(':' + n for n in lines[0])})"), lines)
        conn.execute(insert(payouts), [dict(payout_id="po_1", run_id="run_1", payee="employee:b", bank_code="102",
                                            bank_part="102", account_no="6217", holder="张三", amount_fen=600,
                                            line_count=2, status="open")])
        conn.execute(insert(overpayments), [dict(
            overpayment_id="ovp_1", region="440300", payee="employee:n", claim_id="c1", run_id="run_0",
            recognized_on=AT.date(), recognized_at=AT, recovery_max_share="1.00", lines_json="[]",
            recognized_fen=500, recovered_fen=0, written_off_fen=0, outstanding_fen=500, status="outstanding")])
        conn.execute(insert(overpayment_deductions), [dict(
            holder_id="rcv_2", overpayment_id="ovp_1", run_id="run_1", payout_id=None, payee="employee:d",
            gross_fen=300, amount_fen=300, status="planned", lines_json="[]")])
        conn.execute(text("INSERT INTO payout_lines (line_id, payout_id, run_id) VALUES (:l, :p, :r)"), [
            {"l": "el_a", "p": "rcv_2", "r": "run_1"},  # the line's payee wins
            {"l": "el_b", "p": "po_1", "r": "run_1"},
            {"l": "recovery-ovp_1-po_1", "p": "po_1", "r": "run_1"},  # no line: the payout's payee
            {"l": "el_gone", "p": "ovp_1", "r": "ovp_1"},  # the overpayment's
            {"l": "el_kept", "p": "rcv_2", "r": "run_1"},  # the deduction's
        ])
    migrate(engine, "payments")
    with engine.connect() as conn:
        assert inspect(conn).get_pk_constraint("payout_lines")["constrained_columns"] == ["payee", "line_id"]
        assert sorted(tuple(r) for r in conn.execute(select(payout_lines))) == [
            ("employee:a", "el_a", "rcv_2", "run_1"),
            ("employee:b", "el_b", "po_1", "run_1"),
            ("employee:b", "recovery-ovp_1-po_1", "po_1", "run_1"),
            ("employee:d", "el_kept", "rcv_2", "run_1"),
            ("employee:n", "el_gone", "ovp_1", "ovp_1"),
        ]
    with pytest.raises(IntegrityError), engine.begin() as conn:  # a line is still held once
        conn.execute(insert(payout_lines), [dict(payee="employee:a", line_id="el_a", payout_id="po_9",
                                                 run_id="run_9")])
    engine.dispose()
