"""entitle13_claims_by_region: the index of a region's claims carries the claim id (a month streams
them from the index alone) and the old one is gone; the facts stay (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select, text

from libs.db import alembic_config, make_engine, migrate, session_factory
from services.payments.entitlements import projection
from services.payments.entitlements.tables import claim_facts


def test_a_regions_claims_come_from_the_new_index(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config("payments")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "entitle12c_line_texts")  # the schema before
        for claim, region in (("c2", "440300"), ("c1", "440300"), ("c3", "110000")):
            conn.execute(text("INSERT INTO entitlement_claim_facts (claim_id, event_id, type, region, recorded_at, "
                              "payload) VALUES (:c, :e, 'InjuryApplied', :r, '2026-06-10 00:00:00', '{}')"),
                         {"c": claim, "e": f"e-{claim}", "r": region})
    migrate(engine, "payments")
    with engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("entitlement_claim_facts")}
        assert indexes["ix_entitlement_claim_facts_region_claim"] == ["type", "region", "claim_id"]
        assert "ix_entitlement_claim_facts_region" not in indexes
        assert len(conn.execute(select(claim_facts)).all()) == 3
    with session_factory(engine)() as s:
        assert list(projection._claims_in(s, "440300")) == [["c1", "c2"]]
        assert projection._regions(s) == ["110000", "440300"]
    engine.dispose()
