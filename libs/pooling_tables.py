"""Each service's projection of enrollment's PoolsConsolidated: one table of pools' moves.

The adapter half of `libs.pooling` (which is pure): levy, claims, payment runs and entitlements
each own a table of this shape in their own database, built, written and read here, so the four
agree on what a move is and that the first consolidation of a pool is the one that counts.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from sqlalchemy import Column, Date, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from libs.pooling import Move, moves_by_region

MAX_REGION_MOVES = 10_000  # pools in a book: far more than a province has


def region_moves_table(name: str, metadata: MetaData, *extra: Column) -> Table:
    """A service's table of moves (`extra`: what else that service keeps of each)."""
    return Table(
        name, metadata,
        Column("region", String(6), primary_key=True),
        Column("into_region", String(6), nullable=False),
        Column("effective_from", Date, nullable=False),
        Column("consolidation_id", String(40), nullable=False),
        *extra,
    )


def record_moves(session: Session, table: Table, payload: Mapping[str, Any], **extra: Any) -> None:  # noqa: ANN401
    """Each pool's move of a PoolsConsolidated payload, once: a region is consolidated away once,
    so a move already recorded (a redelivery, or a later consolidation naming it) is kept."""
    known = {r for (r,) in session.execute(select(table.c.region).where(table.c.region.in_(payload["from_regions"])))}
    rows = [{"region": region, "into_region": payload["into_region"],
             "effective_from": date.fromisoformat(payload["effective_from"]),
             "consolidation_id": payload["consolidation_id"], **extra}
            for region in dict.fromkeys(payload["from_regions"]) if region not in known]
    if rows:
        session.execute(insert(table), rows)


def read_moves(session: Session, table: Table) -> dict[str, Move]:
    """Every pool's move recorded in `table`, by the region moved."""
    return moves_by_region(map(Move.of, session.execute(select(table).limit(MAX_REGION_MOVES))))
