"""Each service's Alembic migrations build exactly the tables its code queries."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

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


def made_on(dialect: str, metadatas: list[MetaData]) -> Callable[[str], bool]:
    """Whether `create_all` makes the index of this name on `dialect`: `Index.ddl_if`, which
    alembic's comparison does not read (nor does `to_metadata` copy it)."""
    conditions = {i.name: i._ddl_if for m in metadatas for t in m.tables.values() for i in t.indexes}
    return lambda name: conditions.get(name) is None or conditions[name].dialect in (None, dialect)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_migrations_match_the_table_definitions(service: str, db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, service)
    migrate(engine, service)  # a second run is a no-op
    combined = MetaData()
    metadatas = [core_metadata, *service_metadata(service)]
    made_here = made_on(engine.dialect.name, metadatas)
    for m in metadatas:
        for table in m.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, combined)
                if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))
                and not (d[0] == "add_index" and not made_here(d[1].name))]
    assert diff == [], [str(d)[:160] for d in diff]
    engine.dispose()
