"""A payment run looks for overpayments among the region's negative lines only
(recovery.negative_lines): the database reads them from the partial index that holds nothing
else (entitle28_negative_lines), never every line of the region's history. On PostgreSQL with
sequential scans off, so the plan of a table this small says which index the query can use."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, text

from libs.db import make_engine, migrate
from services.payments.payouts.recovery import negative_lines

AT = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_the_negative_lines_come_from_their_own_index(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, "payments")
    query = negative_lines(["440300", "440400"], "2026-10")
    with engine.begin() as conn:
        lines = [dict(line_id=f"el_{n}", claim_id="c1", region="440300", kind="disability_allowance",
                      family="long_term", period="2026-09", amount_fen=amount_fen, payer="fund", payee="employee:a",
                      adjusts=adjusts, known_at=AT) for n, (amount_fen, adjusts) in
                 enumerate([(1_000, None), (-400, '["el_0"]'), (-300, "[]"), (500, None)])]
        conn.execute(text(f"INSERT INTO entitlement_lines ({', '.join(lines[0])}) "
                          f"VALUES ({', '.join(':' + n for n in lines[0])})"), lines)
        sent = []  # the statement as the driver gets it: what the database plans
        listen = lambda *a: sent.append((a[2], a[3]))  # noqa: E731 - (conn, cursor, statement, parameters, …)
        event.listen(conn, "before_cursor_execute", listen)
        assert [tuple(r) for r in conn.execute(query)] == [("c1", "employee:a", "disability_allowance", "2026-09",
                                                           '["el_0"]')]
        event.remove(conn, "before_cursor_execute", listen)
        [(statement, parameters)] = sent
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN ") + statement, parameters))
        assert "ix_entitlement_lines_negative" in plan, plan
    engine.dispose()
