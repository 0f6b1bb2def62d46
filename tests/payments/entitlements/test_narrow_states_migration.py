"""entitle12b_narrow_states moves every claim's compact inputs out of its state into
`entitlement_claim_input_texts`, as they were, and keeps the states (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select, text

from libs.db import alembic_config, make_engine, migrate
from services.payments.entitlements.tables import claim_input_texts, claim_states


def test_the_inputs_move_out_of_the_states(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config("payments")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "payments_entitle12_columns")  # the schema before
        conn.execute(text("INSERT INTO entitlement_claim_states (claim_id, through, knowledge, inputs) VALUES "
                          "('c1', '2027-02', '4|1|0|t|e', 'g1\x1fc1\x1fx'), ('c2', '2027-01', '6|1|0|t|f', NULL)"))
    migrate(engine, "payments")
    with engine.connect() as conn:
        assert conn.execute(select(claim_states).order_by(claim_states.c.claim_id)).all() == [
            ("c1", "2027-02", "4|1|0|t|e"), ("c2", "2027-01", "6|1|0|t|f")]
        assert conn.execute(select(claim_input_texts)).all() == [("c1", "g1\x1fc1\x1fx")]
        assert "inputs" not in {c["name"] for c in inspect(conn).get_columns("entitlement_claim_states")}
    engine.dispose()
