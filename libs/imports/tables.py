"""The tables every importing service keeps (enrollment, levy, claims): each adds them to its own
`metadata` (its migrations create them), and libs.imports queries them through `TABLES`.

- `imports`: one summary per import (the counts, the first errors, the totals), returned by
  `GET /v1/imports/{import_id}`;
- `import_rows`: every row accepted, by kind and `legacy_id` — what makes a file posted twice
  record nothing twice — with what it created (`ref_id`) and its share of the totals (but the
  wages': the levy's own `imported_wage_rows`, services/levy/imports.py `WageRowsKept`);
- `legacy_refs`: the old system's keys of rows another service imported (employers, employees),
  projected from the `source` of their events, so a later kind can name them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class ImportTables:
    imports: Table
    import_rows: Table
    legacy_refs: Table


def add_import_tables(metadata: MetaData) -> ImportTables:
    imports = Table(
        "imports", metadata,
        Column("import_id", String(64), primary_key=True),
        Column("kind", String(16), nullable=False),
        Column("dry_run", Boolean, nullable=False),
        Column("actor", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("rows", Integer, nullable=False),
        Column("accepted", Integer, nullable=False),
        Column("skipped", Integer, nullable=False),
        Column("rejected", Integer, nullable=False),
        Column("errors_json", Text, nullable=False),  # the first MAX_ERRORS_KEPT errors
        Column("totals_json", Text, nullable=False),
    )
    import_rows = Table(
        "import_rows", metadata,
        Column("kind", String(16), primary_key=True),
        Column("legacy_id", String(200), primary_key=True),
        Column("digest", String(64), nullable=False),  # SHA-256 of the row's columns as given
        Column("import_id", String(64), nullable=False),
        Column("row", Integer, nullable=False),
        Column("ref_id", String(64)),  # what the row created: employer, worker, claim, report …
        Column("totals_json", Text, nullable=False),  # the row's share of its import's totals
    )
    legacy_refs = Table(
        "legacy_refs", metadata,
        Column("kind", String(16), primary_key=True),
        Column("legacy_id", String(200), primary_key=True),
        Column("aggregate_id", String(64), nullable=False),
        Column("employer_id", String(64)),
        Column("event_id", String(36), nullable=False),
    )
    return ImportTables(imports, import_rows, legacy_refs)


TABLES = add_import_tables(MetaData())
