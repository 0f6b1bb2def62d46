"""A tiny aggregate and projection for testing the spine itself, free of any service's rules."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, select
from sqlalchemy.orm import Session

from libs.events.aggregate import Aggregate
from libs.events.consumer import Projection, insert_rows, rows_hash
from libs.events.envelope import Envelope
from libs.events.registry import event_type, upcaster

test_metadata = MetaData()
tally = Table(
    "spine_tally",
    test_metadata,
    Column("event_id", String(36), primary_key=True),
    Column("aggregate_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("amount", String(32), nullable=False),
)


@event_type("SpineDeposited", version=2)
class Deposited(BaseModel):
    model_config = ConfigDict(frozen=True)
    amount: Decimal
    memo: str


@upcaster("SpineDeposited", from_version=1)
def _v1_to_v2(payload: dict) -> dict:
    return {**payload, "memo": "(none: written before v2)"}


class Account(Aggregate):
    aggregate_type = "spine_account"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.balance = Decimal("0.00")

    def deposit(self, amount: Decimal, on: date = date(2026, 1, 5)) -> None:
        assert amount > 0
        self.trigger(Deposited(amount=amount, memo="test"), on)

    def apply_SpineDeposited(self, e: Deposited) -> None:
        self.balance += e.amount


class TallyProjection(Projection):
    name = "tally"
    sources = ("enrollment",)

    def __init__(self, poison_amount: str | None = None) -> None:
        self.poison_amount = poison_amount

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """One bulk insert a batch, as a hot projection should."""
        rows = []
        for e in envelopes:
            if e.type != "SpineDeposited":
                continue
            if e.payload["amount"] == self.poison_amount:
                raise ValueError("this amount is poison")
            rows.append((str(e.event_id), e.aggregate_id, e.sequence, e.payload["amount"]))
        insert_rows(session, tally, ("event_id", "aggregate_id", "sequence", "amount"), rows)

    def reset(self, session: Session) -> None:
        session.execute(delete(tally))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(tally).order_by(tally.c.aggregate_id, tally.c.sequence))

    def count(self, session: Session) -> int:
        return len(session.execute(select(tally.c.event_id)).all())
