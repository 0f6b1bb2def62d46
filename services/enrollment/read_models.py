"""The enrollment service's read models rebuilt from its own event store.

The command handlers write `employers`, `workers` and `employments` in the same transaction as
the events (the unique rows back the 409s), so in normal operation nothing projects them. After a
restore, or to prove the tables hold nothing the events do not, `rebuild_read_models` empties them
and writes every row again from the aggregates the events rebuild (a worker an import's chunk
enrolled: from the chunk's EmployeesImported and its own events, `worker_history`).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from libs.events.consumer import rows_hash
from libs.events.envelope import Envelope
from libs.events.store import EventStore
from libs.events.tables import events
from libs.imports.bulk import enrollments

from .domain.model import Employer, Worker
from .handlers import employer_row
from .tables import employers, employments, imported_workers, workers
from .worker_history import history_after

MAX_AGGREGATES = 10_000_000


def rebuild_read_models(session: Session) -> int:
    """Empty the read tables and write them again from the events; returns the aggregates read."""
    for table in (employments, workers, employers, imported_workers):
        session.execute(delete(table))
    store = EventStore(session, topic="")
    count = 0
    for employer_id in _ids_of(session, "employer"):
        session.execute(insert(employers).values(employer_row(Employer.rehydrate(employer_id,
                                                                                 store.read_aggregate(employer_id)))))
        count += 1
    imported: set[str] = set()
    for chunk_id in _ids_of(session, "workers_import"):  # each chunk read and expanded once
        [chunk] = store.read_aggregate(chunk_id)
        ids = chunk.payload["employee_ids"]
        session.execute(insert(imported_workers), [{"employee_id": i, "aggregate_id": chunk_id} for i in ids])
        for enrollment in enrollments(chunk):
            _write_worker(session, store, enrollment.aggregate_id, enrollment)
        imported.update(ids)
        count += 1 + len(ids)
    for employee_id in _ids_of(session, "worker"):
        if employee_id not in imported:
            _write_worker(session, store, employee_id, None)
            count += 1
    return count


def _write_worker(session: Session, store: EventStore, employee_id: str, enrollment: Envelope | None) -> None:
    history = history_after(store, employee_id, enrollment)
    _write_worker_rows(session, Worker.rehydrate(employee_id, history), history)


def _ids_of(session: Session, aggregate_type: str) -> list[str]:
    return session.execute(select(events.c.aggregate_id).where(events.c.aggregate_type == aggregate_type)
                           .distinct().order_by(events.c.aggregate_id).limit(MAX_AGGREGATES)).scalars().all()


def _write_worker_rows(session: Session, worker: Worker, history) -> None:  # noqa: ANN001 - envelopes
    account = worker.bank_account
    bank_changed = [e.payload["changed_on"] for e in history if e.type == "BankAccountChanged"]
    session.execute(insert(workers).values(
        employee_id=worker.id, id_number=worker.id_number, name=worker.name, birth_date=worker.birth_date,
        sex=worker.sex, bank_code=account.bank_code if account else None,
        account_no=account.account_no if account else None, holder=account.holder if account else None,
        bank_changed_on=_date(bank_changed[-1]) if bank_changed else None))
    for e in worker.employments:
        session.execute(insert(employments).values(
            employee_id=worker.id, employer_id=e.employer_id, hired_on=e.hired_on, separated_on=e.separated_on,
            active_employer_id=e.employer_id if e.active else None))


def _date(text: str) -> date:
    return date.fromisoformat(text)


def read_models_hash(session: Session) -> str:
    """The read tables' content, in a fixed order (the employments' surrogate ids left out)."""
    return rows_hash(
        session,
        select(employers).order_by(employers.c.employer_id),
        select(workers).order_by(workers.c.employee_id),
        select(imported_workers).order_by(imported_workers.c.employee_id),
        select(employments.c.employee_id, employments.c.employer_id, employments.c.hired_on,
               employments.c.separated_on, employments.c.active_employer_id)
        .order_by(employments.c.employee_id, employments.c.employer_id, employments.c.hired_on),
    )
