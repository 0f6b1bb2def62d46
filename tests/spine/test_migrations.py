"""Each service's Alembic migrations build exactly the tables its code queries."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from libs.db import make_engine, migrate
from libs.events.tables import core_metadata
from libs.settings import SERVICE_NAMES


def service_metadata(service: str) -> list[MetaData]:
    """Every `tables.py` of the service (a service may keep sub-packages with tables of their own)."""
    root = Path(__file__).resolve().parents[2] / "services" / service
    found = []
    for path in sorted(root.rglob("tables.py")):
        module = ".".join(path.relative_to(root.parents[1]).with_suffix("").parts)
        found.extend(v for v in vars(importlib.import_module(module)).values() if isinstance(v, MetaData))
    return found


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_migrations_match_the_table_definitions(service: str, db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, service)
    migrate(engine, service)  # a second run is a no-op
    combined = MetaData()
    for m in (core_metadata, *service_metadata(service)):
        for table in m.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, combined)
                if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))]
    assert diff == [], [str(d)[:160] for d in diff]
    engine.dispose()
