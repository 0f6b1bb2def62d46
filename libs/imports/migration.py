"""The frozen DDL of the import tables (libs/imports/tables.py), for each importing service's own
Alembic revision; tests/spine/test_migrations.py checks the two agree."""
from __future__ import annotations

import sqlalchemy as sa


def create_import_tables(op) -> None:  # noqa: ANN001 - alembic.op
    op.create_table(
        "imports",
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("errors_json", sa.Text, nullable=False),
        sa.Column("totals_json", sa.Text, nullable=False),
    )
    op.create_table(
        "import_rows",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("legacy_id", sa.String(200), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("import_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("ref_id", sa.String(64)),
        sa.Column("totals_json", sa.Text, nullable=False),
    )
    op.create_table(
        "legacy_refs",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("legacy_id", sa.String(200), primary_key=True),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("employer_id", sa.String(64)),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
