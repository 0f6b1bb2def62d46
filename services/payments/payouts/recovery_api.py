"""Overpayments over HTTP (RULES.md "Appeals, reversals and recovery"): a claim's or a payee's
overpayments, one with its recoveries, and the write-off (agency only, with a reason)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.problems import invalid, not_found

from .recovery import overpayment_view, write_off
from .tables import overpayments

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"
REGION = r"^\d{6}$"


class WriteOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "the debtor died without an estate (court ruling 2026-0451)", "written_off_on": "2026-12-01"}]})
    reason: str = Field(min_length=1, max_length=500, description="why the fund gives up what is outstanding")
    written_off_on: date | None = Field(None, description="the day of the decision; default today")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must say why")
        return v.strip()


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["overpayments"])

    @router.get("/v1/overpayments", summary="Overpayments of a claim, a payee or a region (agency)",
                description="What the fund paid and is no longer owed: recognized by a payment run, "
                            "recovered from the payee's later payouts (at most `recovery_max_share` of each) "
                            "or written off. Newest first.")
    def list_overpayments(claim_id: str | None = Query(None, pattern=ID), payee: str | None = Query(None, pattern=ID),
                          region: str | None = Query(None, pattern=REGION),
                          status: Literal["outstanding", "recovered", "written_off"] | None = Query(None),
                          cursor: str | None = Query(None, pattern=r"^\d+$", max_length=9),
                          limit: int = Query(100, ge=1, le=1000), _p: Principal = Depends(agency_only)) -> dict:
        o = overpayments.c
        stmt = select(overpayments)
        for column, value in ((o.claim_id, claim_id), (o.payee, payee), (o.region, region), (o.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        offset = int(cursor or 0)
        with ctx.session_factory() as s:
            rows = s.execute(stmt.order_by(o.recognized_at.desc(), o.overpayment_id).offset(offset)
                             .limit(limit + 1)).all()
            items = [overpayment_view(s, r) for r in rows[:limit]]
        return {"items": items, "next_cursor": str(offset + limit) if len(rows) > limit else None}

    @router.get("/v1/overpayments/{overpayment_id}", summary="An overpayment: its lines, recoveries and write-off")
    def get_overpayment(overpayment_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict:
        with ctx.session_factory() as s:
            row = s.execute(select(overpayments).where(overpayments.c.overpayment_id == overpayment_id)).first()
            if row is None:
                raise not_found("overpayment", overpayment_id)
            return overpayment_view(s, row)

    @router.post("/v1/overpayments/{overpayment_id}/write-off",
                 summary="Write off what is outstanding of an overpayment (agency, with a reason)",
                 description="Ends the receivable: the outstanding amount leaves the fund's books as a loss "
                             "(OverpaymentWrittenOff). Nothing outstanding, or a proposed run holding a deduction "
                             "of it: 409.")
    def post_write_off(body: WriteOffIn, overpayment_id: str = Path(pattern=ID),
                       principal: Principal = Depends(agency_only)) -> dict:
        on = body.written_off_on or datetime.now(timezone.utc).date()
        if not date(1900, 1, 1) <= on <= datetime.now(timezone.utc).date():
            raise invalid("written_off_on", "must be a day from 1900 up to today")
        return write_off(ctx, principal, overpayment_id, body.reason, on)

    return router
