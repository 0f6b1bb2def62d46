"""Each service's Alembic migrations build exactly the tables its code queries."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from libs.db import make_engine, migrate
from libs.events.tables import core_metadata
from libs.settings import SERVICE_NAMES


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_migrations_match_the_table_definitions(service: str, db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, service)
    migrate(engine, service)  # a second run is a no-op
    combined = MetaData()
    for m in (core_metadata, importlib.import_module(f"services.{service}.tables").metadata):
        for table in m.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, combined)
                if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))]
    assert diff == [], [str(d)[:160] for d in diff]
    engine.dispose()
