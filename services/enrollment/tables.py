"""The enrollment service's own read-model tables (its event store is in libs.events.tables).

They are written by the command handlers in the same transaction as the events, so their unique
constraints are what make a concurrent duplicate fail: one USCC is one employer, one ID number is
one worker, one worker has at most one active employment per employer.
"""
from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, UniqueConstraint

from libs.events.tables import Position

from libs.imports.tables import add_import_tables

metadata = MetaData()

employers = Table(
    "employers",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("uscc", String(18), nullable=False),
    Column("name", String(200), nullable=False),
    Column("industry_code", String(8), nullable=False),
    Column("division", String(3), nullable=False),
    Column("region", String(6), nullable=False),
    Column("risk_class", Integer, nullable=False),
    Column("base_rate", String(16), nullable=False),  # a decimal ratio as text, e.g. "0.004"
    Column("status", String(16), nullable=False),
    Column("enrolled_on", Date, nullable=False),
    Column("changed_on", Date),
    Column("version", Integer, nullable=False),
    UniqueConstraint("uscc", name="uq_employers_uscc"),
    Index("ix_employers_region", "region", "employer_id"),
)

workers = Table(
    "workers",
    metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("id_number", String(18), nullable=False),
    Column("name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(6), nullable=False),
    Column("bank_code", String(12)),
    Column("account_no", String(34)),
    Column("holder", String(200)),
    Column("bank_changed_on", Date),
    UniqueConstraint("id_number", name="uq_workers_id_number"),
    sqlite_with_rowid=False,  # a row per worker: its key's B-tree alone (enrollment_emp21_0001)
)

employments = Table(
    "employments",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("employee_id", String(64), nullable=False),
    Column("employer_id", String(64), nullable=False),
    Column("hired_on", Date, nullable=False),
    Column("separated_on", Date),
    # = employer_id while the employment is active, NULL once separated (NULLs never collide):
    # at most one active employment of a worker per employer, even under concurrent requests.
    Column("active_employer_id", String(64)),
    UniqueConstraint("employee_id", "active_employer_id", name="uq_employments_active"),
    # an employer's employments after a cursor, in id order (GET /v1/employers/{id}/employees)
    Index("ix_employments_employer", "employer_id", "id"),
)

# A worker a go-live import enrolled in a chunk of workers: the WorkersImport aggregate whose
# EmployeesImported holds its enrollment (the worker's event 1; its own stream goes on from 2).
imported_workers = Table(
    "imported_workers",
    metadata,
    Column("employee_id", String(64), primary_key=True),
    Column("aggregate_id", String(64), nullable=False),
    sqlite_with_rowid=False,  # a row per imported worker: its key's B-tree alone (enrollment_emp21_0001)
)

# Going live (libs.imports): the imports' summaries, the rows they recorded, the old system's keys.
IMPORT_TABLES = add_import_tables(metadata)
