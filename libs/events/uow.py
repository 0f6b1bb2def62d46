"""The unit of work: one database transaction per command, events and read models together."""
from __future__ import annotations

from typing import Callable, Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from libs.db import DriverTransaction

from .aggregate import Aggregate
from .envelope import Envelope
from .registry import REGISTRY, json_payload
from .store import Context, EventStore, NewEvent


class UnitOfWork:
    """`with uow:` opens a transaction; `save(aggregate)` appends its pending events (each its
    own outbox entry, unsent until relayed); leaving the block commits (or rolls back on error),
    then runs `on_commit`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        topic: str,
        context: Context,
        on_commit: Callable[[Sequence[Envelope]], None] | None = None,
    ) -> None:
        self.session_factory, self.topic, self.context = session_factory, topic, context
        self.on_commit = on_commit
        self.recorded: list[Envelope] = []

    def __enter__(self) -> "UnitOfWork":
        # The driver's transaction, not a Session nor even a Core Connection: a command that only
        # saves aggregates (the hot path) pays for neither; `connection` and `session` are made on
        # first use, inside the same transaction. SQLite: the write lock is taken now.
        self._transaction = DriverTransaction(self.session_factory.kw["bind"])
        self._session: Session | None = None
        self.store = EventStore(self._transaction, self.topic)
        return self

    @property
    def connection(self) -> Connection:
        """A Core connection in this unit of work's transaction."""
        return self._transaction.connection

    @property
    def session(self) -> Session:
        """A Session joined to this unit of work's transaction (its savepoints are nested in it)."""
        if self._session is None:
            # Joined to the connection's transaction: its commit leaves that to the unit of work.
            self._session = self.session_factory(bind=self.connection)
        return self._session

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        try:
            if exc_type is None:
                if self._session is not None:
                    self._session.flush()
                self._transaction.commit()
            else:
                self._transaction.rollback()
        finally:
            try:
                if self._session is not None:
                    self._session.close()
            finally:
                self._transaction.close()
        if exc_type is None and self.recorded and self.on_commit:
            self.on_commit(self.recorded)

    def load(self, cls: type[Aggregate], aggregate_id: str) -> Aggregate | None:
        history = self.store.read_aggregate(aggregate_id)
        return cls.rehydrate(aggregate_id, history) if history else None

    def save_new(self, aggregates: Sequence[Aggregate]) -> list[Envelope]:
        """`save` for many new aggregates of one type, in one append (EventStore.append_new)."""
        todo = [a for a in aggregates if a.pending]
        if not todo:
            return []
        assert all(a.persisted_version == 0 for a in todo), "new aggregates only"
        streams = [(a.id, [NewEvent(p.type, REGISTRY.latest_version(p.type), json_payload(p.payload), p.occurred_on)
                           for p in a.pending]) for a in todo]
        envelopes = self.store.append_new(todo[0].aggregate_type, streams, self.context)
        for a in todo:
            a.pending.clear()
        self.recorded.extend(envelopes)
        return envelopes

    def save(self, aggregate: Aggregate) -> list[Envelope]:
        if not aggregate.pending:
            return []
        new = [
            NewEvent(p.type, REGISTRY.latest_version(p.type), json_payload(p.payload), p.occurred_on)
            for p in aggregate.pending
        ]
        envelopes = self.store.append(
            aggregate.aggregate_type, aggregate.id, aggregate.persisted_version, new, self.context,
            aggregate.base_version,
        )
        aggregate.pending.clear()
        self.recorded.extend(envelopes)
        return envelopes
