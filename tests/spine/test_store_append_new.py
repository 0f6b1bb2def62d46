"""append_new: the first events of many new aggregates in one go, on SQLite and PostgreSQL, as
appending each alone would write them (their sequences, their outbox rows), and refused whole when
one of them has events already."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from libs.events.store import ConcurrencyConflict
from libs.events.tables import events

from .support import Account
from .test_store import sessions, uow  # noqa: F401 - the fixture


def accounts(*ids: str) -> list[Account]:
    made = []
    for n, aggregate_id in enumerate(ids, start=1):
        account = Account(aggregate_id)
        for _ in range(n):
            account.deposit(Decimal("1.50"))
        made.append(account)
    return made


def test_many_new_aggregates_in_one_append(sessions) -> None:  # noqa: ANN001, F811
    with uow(sessions) as u:
        written = u.save_new(accounts("n-1", "n-2", "n-3"))
        assert u.recorded == written
    assert [(e.aggregate_id, e.sequence) for e in written] == [("n-1", 1), ("n-2", 1), ("n-2", 2), ("n-3", 1),
                                                               ("n-3", 2), ("n-3", 3)]
    with uow(sessions) as u:
        assert [u.load(Account, a).balance for a in ("n-1", "n-2", "n-3")] == [Decimal("1.50"), Decimal("3.00"),
                                                                               Decimal("4.50")]
        positions = u.session.execute(select(events.c.position).order_by(events.c.position)).scalars().all()
        sent = u.session.execute(select(events.c.position, events.c.topic).where(events.c.sent_at.is_(None))
                                 .order_by(events.c.position)).all()
        assert sent == [(p, "injuryledger.enrollment") for p in positions]


def test_one_aggregate_with_events_refuses_the_whole_append(sessions) -> None:  # noqa: ANN001, F811
    with uow(sessions) as u:
        u.save(accounts("o-1")[0])
    with pytest.raises(ConcurrencyConflict):
        with uow(sessions) as u:
            u.save_new(accounts("o-2", "o-1"))
    with sessions() as s:
        assert s.execute(select(events.c.aggregate_id)).scalars().all() == ["o-1"]
        assert len(s.execute(select(events.c.position).where(events.c.sent_at.is_(None))).all()) == 1
