"""Every SQLite connection's page cache is the configured size (INJURYLEDGER_SQLITE_CACHE_MIB), and
a step's larger cache (`sqlite_page_cache`) is taken back after it without ever lowering it."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from libs.db import SQLITE_CACHE_MIB, make_engine, session_factory, sqlite_page_cache
from libs.runtime import embedded, wiring
from libs.runtime.embedded import EmbeddedRuntime
from libs.settings import Settings
from tests.conftest import fresh_data_dir


def _cache_kib(session, schema: str = "main") -> int:  # noqa: ANN001
    return -session.execute(text(f"PRAGMA {schema}.cache_size")).scalar()


def test_the_embedded_runtime_gives_every_database_the_configured_cache(tmp_path: Path, migrated_data_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list = []  # every engine the runtime and its app make: the services', the log's, the gateway's
    monkeypatch.setattr(embedded, "make_engine", lambda *a, **kw: made.append(make_engine(*a, **kw)) or made[-1])
    monkeypatch.setattr(wiring, "make_engine", embedded.make_engine)
    settings = Settings(data_dir=fresh_data_dir(migrated_data_dir, tmp_path / "data"), sqlite_cache_mib=8)
    rt = EmbeddedRuntime(settings)
    try:
        rt.app()
        assert {Path(e.url.database).name for e in made} == {
            "enrollment.db", "levy.db", "claims.db", "payments.db", "log.db", "gateway.db"}
        for engine in made:
            with engine.connect() as conn:
                assert -conn.execute(text("PRAGMA cache_size")).scalar() == 8 * 1024, engine.url
    finally:
        rt.close()


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().sqlite_cache_mib == SQLITE_CACHE_MIB
    monkeypatch.setenv("INJURYLEDGER_SQLITE_CACHE_MIB", "256")
    assert Settings().sqlite_cache_mib == 256
    monkeypatch.setenv("INJURYLEDGER_SQLITE_CACHE_MIB", "0")
    with pytest.raises(ValueError, match="sqlite_cache_mib"):
        Settings()


@pytest.mark.parametrize("own_mib, step_kib, during_kib", [(1, 4096, 4096), (8, 4096, 8192)])
def test_a_steps_cache_raises_never_lowers_and_is_taken_back(tmp_path: Path, own_mib: int, step_kib: int,
                                                             during_kib: int) -> None:
    factory = session_factory(make_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_cache_mib=own_mib))
    with factory() as session:
        assert _cache_kib(session) == own_mib * 1024
        with sqlite_page_cache(session, step_kib):
            assert _cache_kib(session) == during_kib
        assert _cache_kib(session) == own_mib * 1024
