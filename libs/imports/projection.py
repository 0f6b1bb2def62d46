"""The old system's keys of what another service imported, from the `source` of its events: how
levy finds the employer of `employer_legacy_id` in a wages file, and claims the worker of
`employee_legacy_id`. Facts only (the first event of a key names it), so order never matters."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, insert_new, rows_hash
from libs.events.envelope import Envelope

from .bulk import IMPORTED_WORKERS, ImportedWorkers
from .tables import TABLES

t = TABLES.legacy_refs


class LegacyRefsProjection(Projection):
    name = "legacy_refs"

    def __init__(self, sources: Sequence[str]) -> None:
        self.sources = tuple(sources)

    def handle(self, session: Session, envelope: Envelope) -> None:
        if envelope.type == IMPORTED_WORKERS:  # an import's chunk of workers: each worker's key
            return self.handle_batch(session, [envelope])
        source = envelope.payload.get("source")
        if not isinstance(source, dict) or not source.get("legacy_id"):
            return
        key = (t.c.kind == source["kind"], t.c.legacy_id == source["legacy_id"])
        if session.execute(select(t.c.aggregate_id).where(*key)).first() is None:
            session.execute(insert(t).values(kind=source["kind"], legacy_id=source["legacy_id"],
                                             aggregate_id=envelope.aggregate_id,
                                             employer_id=envelope.payload.get("employer_id"),
                                             event_id=str(envelope.event_id)))

    def handle_batch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        """handle() for a batch: the new keys inserted together, a key already stored left as it is
        (the first event of a key names it, as one by one)."""
        new: dict[tuple[str, str], tuple] = {}
        for envelope in envelopes:
            if envelope.type == IMPORTED_WORKERS:  # an import's chunk of workers: each worker's key, as columns
                chunk = ImportedWorkers.of(envelope)
                for legacy_id, employee_id, employer_id, event_id in zip(
                        chunk.legacy_ids, chunk.employee_ids, chunk.employer_ids, chunk.event_ids()):
                    new.setdefault(("employees", legacy_id), ("employees", legacy_id, employee_id, employer_id, event_id))
                continue
            source = envelope.payload.get("source")
            if isinstance(source, dict) and source.get("legacy_id"):
                new.setdefault((source["kind"], source["legacy_id"]), (
                    source["kind"], source["legacy_id"], envelope.aggregate_id, envelope.payload.get("employer_id"),
                    str(envelope.event_id)))
        insert_new(session, t, ("kind", "legacy_id", "aggregate_id", "employer_id", "event_id"), list(new.values()))

    def reset(self, session: Session) -> None:
        session.execute(delete(t))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(t).order_by(t.c.kind, t.c.legacy_id))


def legacy_ref(session: Session, kind: str, legacy_id: str):  # noqa: ANN201 - a legacy_refs row or None
    return session.execute(select(t).where(t.c.kind == kind, t.c.legacy_id == legacy_id)).first()


def legacy_refs(session: Session, kind: str, legacy_ids: Sequence[str], chunk: int = 500) -> dict[str, object]:
    out: dict[str, object] = {}
    ids = sorted(set(legacy_ids))
    for i in range(0, len(ids), chunk):
        for r in session.execute(select(t).where(t.c.kind == kind, t.c.legacy_id.in_(ids[i:i + chunk]))):
            out[r.legacy_id] = r
    return out
