"""A worker's history, wherever its events are: its own stream, after its enrollment when an
import's chunk of workers recorded that (`EmployeesImported`, `imported_workers` names the chunk).

The enrollment read from the chunk is the very envelope the per-worker path would have stored
(libs.imports.bulk.enrollments: sequence 1, the row as its source), so the aggregate, the audit
trail and the read models' rebuild see the same history either way.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from libs.events.envelope import Envelope
from libs.events.store import EventStore
from libs.events.uow import UnitOfWork
from libs.imports.bulk import enrollments

from .domain.model import Worker
from .tables import imported_workers


def chunk_of(session: Session, employee_id: str) -> str | None:
    """The WorkersImport that enrolled the worker, if an import's chunk did."""
    return session.execute(select(imported_workers.c.aggregate_id)
                           .where(imported_workers.c.employee_id == employee_id)).scalar()


def imported_enrollment(store: EventStore, chunk_id: str, employee_id: str) -> Envelope:
    [chunk] = store.read_aggregate(chunk_id)
    return next(e for e in enrollments(chunk) if e.aggregate_id == employee_id)


def worker_history(session: Session, employee_id: str, store: EventStore | None = None) -> tuple[list[Envelope], int]:
    """The worker's events in order, and how many of them are another stream's (its base version)."""
    store = store or EventStore(session, topic="")
    chunk_id = chunk_of(session, employee_id)
    enrollment = None if chunk_id is None else imported_enrollment(store, chunk_id, employee_id)
    return history_after(store, employee_id, enrollment), 0 if enrollment is None else 1


def history_after(store: EventStore, employee_id: str, enrollment: Envelope | None) -> list[Envelope]:
    """The worker's events: `enrollment` (its event 1, a chunk's) and its own stream after it, or
    its own stream alone."""
    if enrollment is None:
        return store.read_aggregate(employee_id)
    return [enrollment, *store.read_aggregate(employee_id, after_sequence=1)]


def load_worker(uow: UnitOfWork, employee_id: str) -> Worker | None:
    """`uow.load(Worker, employee_id)`, the worker an import's chunk enrolled too."""
    history, base = worker_history(uow.session, employee_id, uow.store)
    if not history:
        return None
    worker = Worker.rehydrate(employee_id, history)
    worker.base_version = base
    return worker


def audit_history(session: Session, aggregate_id: str) -> list[Envelope] | None:
    """The audit trail's events of a worker an import's chunk enrolled (None: any other aggregate,
    its own stream is its history)."""
    if chunk_of(session, aggregate_id) is None:
        return None
    return worker_history(session, aggregate_id)[0]
