"""The entitlements bench's setup (bench/entitlements_setup.py) leaves the database the ordinary
path leaves: its rows made from templates are the rows the full derivation of every claim stores
(issue 12: that setup is what makes the bench measurable at 1,000,000)."""
from __future__ import annotations

from bench import bench_entitlements as bench
from bench import entitlements_setup
from libs.runtime.embedded import EmbeddedRuntime
from services.payments.entitlements import projection
from tests.conftest import embedded_settings, fresh_data_dir

CLAIMS = 150  # past the 64 derived in full, so most are made from templates


def stored(runtime: EmbeddedRuntime) -> dict[str, list[tuple]]:
    with runtime.services["payments"].ctx.engine.connect() as conn:
        return {table: sorted(tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {entitlements_setup._columns(table)} FROM {table}"))
            for table in entitlements_setup.SEEDED + entitlements_setup.DERIVED}


def test_the_setup_stores_what_the_full_derivation_stores(tmp_path, monkeypatch, migrated_data_dir) -> None:  # noqa: ANN001
    monkeypatch.setattr(entitlements_setup, "SAMPLE", 20)
    runtime = EmbeddedRuntime(embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path / "data")))
    try:
        counts = entitlements_setup.set_up(bench, runtime, bench.NOW, CLAIMS, log=lambda _line: None)
        assert counts == {"derived_in_full": 64 + 20, "made_from_templates": CLAIMS - 64,
                          "sample_checked_against_full_derivation": 20}
        made = stored(runtime)
        assert len(made["entitlement_lines"]) == 3 * CLAIMS
        assert len(made["entitlement_claim_inputs"]) == CLAIMS
        with runtime.services["payments"].ctx.engine.begin() as conn:  # what the bench did before: every claim in full
            for table in entitlements_setup.DERIVED:
                conn.exec_driver_sql(f"DELETE FROM {table}")
        with runtime.services["payments"].ctx.session_factory() as session, session.begin():
            assert projection.materialize_through(session, bench.REGION, "2026-11", now=bench.NOW) == 3 * CLAIMS
        assert stored(runtime) == made
    finally:
        runtime.close()
