"""The unit of work: one database transaction per command, events and read models together."""
from __future__ import annotations

from typing import Callable, Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from libs.db import DriverTransaction

from .aggregate import Aggregate, Pending
from .envelope import Envelope
from .registry import REGISTRY, json_payload
from .store import Context, EventStore, NewEvent, append_events


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
        self._store: EventStore | None = None
        return self

    @property
    def store(self) -> EventStore:
        """The event store on this unit of work's transaction, made on first use (`save` does
        not go through it)."""
        if self._store is None:
            self._store = EventStore(self._transaction, self.topic)
        return self._store

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
        streams = [(a.id, new_events(a.pending)) for a in todo]
        envelopes = self.store.append_new(todo[0].aggregate_type, streams, self.context)
        for a in todo:
            a.pending.clear()
        self.recorded.extend(envelopes)
        return envelopes

    def save(self, aggregate: Aggregate) -> list[Envelope]:
        """EventStore.append of the aggregate's pending events, straight on this unit of work's
        transaction (the hot path: no store object to go through). On PostgreSQL the unit of
        work's first statement, if it is this append, is sent with the COMMIT: its conflict is
        raised when the block is left (nothing written either way)."""
        pending = aggregate.pending
        if not pending:
            return []
        envelopes = append_events(
            self._transaction, self.topic, aggregate.aggregate_type, aggregate.id, aggregate.persisted_version,
            new_events(pending), self.context, aggregate.base_version,
        )
        pending.clear()
        self.recorded += envelopes
        return envelopes


def new_events(pending: Sequence[Pending]) -> list[NewEvent]:
    """Decided events as the store appends them: their types' latest schema versions, their payloads
    JSON-safe."""
    latest = REGISTRY.latest_version
    # tuple.__new__: NewEvent(...) would go through the named tuple's own __new__, a Python call an event.
    return [_tuple_new(NewEvent, (p.type, latest(p.type), json_payload(p.payload), p.occurred_on)) for p in pending]


_tuple_new = tuple.__new__
