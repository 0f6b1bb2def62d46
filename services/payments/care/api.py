"""The fund's care beyond hospital bills over HTTP (contract: shared/domain/API.md, "Prevention,
rehabilitation, devices, pooling"): referrals and travel costs, rehabilitation plans, assistive
devices. Agency only: these are the agency's own decisions."""
from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from libs.money import NotMoney, parse_yuan
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only

from . import handlers
from .rules import MAX_REFERRAL_DAYS
from .tables import devices, referrals, rehabilitation_plans

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_LISTED = 1000


def _yuan(value: str) -> str:
    try:
        parse_yuan(value)
    except NotMoney as exc:
        raise ValueError(str(exc)) from None
    return value


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "from_date": "2026-03-02", "to_date": "2026-03-06", "destination": "北京积水潭医院 (Beijing Jishuitan Hospital)",
        "destination_region": "110102"}]})
    from_date: date
    to_date: date
    destination: str = Field(min_length=1, max_length=200, description="where the worker is treated")
    destination_region: str | None = Field(None, pattern=r"^\d{6}$",
                                           description="its division code, if known (never the claim's own region)")


class TravelCostsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "referral_id": "rfl_0123456789abcdef0123", "transport": "1250.00", "days": 5}]})
    referral_id: str = Field(pattern=ID)
    transport: str = Field(max_length=32, description="transport as billed, yuan (paid up to the policy's cap)")
    days: int = Field(ge=0, le=MAX_REFERRAL_DAYS, description="days away, paid at the policy's lodging and food rates")

    _money = field_validator("transport")(_yuan)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "provider_id": "KF-440300-01", "start": "2026-04-01", "end": "2026-06-30", "budget": "18000.00"}]})
    provider_id: str = Field(pattern=ID, description="an agreement rehabilitation provider (PUT /v1/hospitals, kind "
                                                     "`rehabilitation`)")
    start: date
    end: date
    budget: str = Field(max_length=32, description="yuan: nothing is paid beyond it")

    _money = field_validator("budget")(_yuan)


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "device_code": "FZ-PROS-BK", "confirmed_on": "2026-06-15", "supplier_id": "FZ-440300-01"}]})
    device_code: str = Field(min_length=1, max_length=64, description="a code of the region's device catalog")
    confirmed_on: date = Field(description="the day the appraisal committee confirmed the need")
    supplier_id: str = Field(pattern=ID, description="a registered supplier (PUT /v1/hospitals, kind `supplier`)")


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["care"])

    @router.post("/v1/claims/{claim_id}/referrals", status_code=201,
                 summary="Approve treatment outside the region (R.30): the referral travel costs are paid against")
    def post_referral(body: ReferralIn, claim_id: str = Path(pattern=ID),
                      principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        return handlers.approve_referral(ctx, principal, handlers.ApproveReferral(
            claim_id, body.from_date, body.to_date, body.destination, body.destination_region))

    @router.get("/v1/claims/{claim_id}/referrals", summary="A claim's referrals, with the days and transport claimed")
    def get_referrals(claim_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with ctx.session_factory() as s:
            rows = s.execute(select(referrals).where(referrals.c.claim_id == claim_id)
                             .order_by(referrals.c.from_date, referrals.c.referral_id).limit(MAX_LISTED)).all()
        return {"claim_id": claim_id, "items": [handlers.referral_view(r) for r in rows]}

    @router.post("/v1/claims/{claim_id}/travel-costs", status_code=201,
                 summary="Travel costs of a referral (R.30): the fund's line, transport up to the cap plus "
                         "days × (lodging + food)")
    def post_travel_costs(body: TravelCostsIn, claim_id: str = Path(pattern=ID),
                          principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        return handlers.record_travel_costs(ctx, principal, handlers.RecordTravelCosts(
            claim_id, body.referral_id, parse_yuan(body.transport), body.days))

    @router.post("/v1/claims/{claim_id}/rehabilitation-plans", status_code=201,
                 summary="Approve a rehabilitation plan (R.30): the provider, the period and the budget its bills "
                         "are adjudicated against")
    def post_plan(body: PlanIn, claim_id: str = Path(pattern=ID),
                  principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        return handlers.approve_plan(ctx, principal, handlers.ApprovePlan(
            claim_id, body.provider_id, body.start, body.end, parse_yuan(body.budget)))

    @router.get("/v1/claims/{claim_id}/rehabilitation-plans", summary="A claim's rehabilitation plans and their spending")
    def get_plans(claim_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        rp = rehabilitation_plans
        with ctx.session_factory() as s:
            rows = s.execute(select(rp).where(rp.c.claim_id == claim_id)
                             .order_by(rp.c.start, rp.c.plan_id).limit(MAX_LISTED)).all()
        return {"claim_id": claim_id, "items": [handlers.plan_view(r) for r in rows]}

    @router.post("/v1/claims/{claim_id}/assistive-devices", status_code=201,
                 summary="Configure an assistive device (R.32): the catalog's standard price paid to the supplier; "
                         "no replacement inside the service life")
    def post_device(body: DeviceIn, claim_id: str = Path(pattern=ID),
                    principal: Principal = Depends(agency_only)) -> dict[str, Any]:
        return handlers.configure_device(ctx, principal, handlers.ConfigureDevice(
            claim_id, body.device_code, body.confirmed_on, body.supplier_id))

    @router.get("/v1/claims/{claim_id}/assistive-devices", summary="A claim's assistive devices and when each may be "
                                                                    "replaced")
    def get_devices(claim_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict[str, Any]:
        with ctx.session_factory() as s:
            rows = s.execute(select(devices).where(devices.c.claim_id == claim_id)
                             .order_by(devices.c.confirmed_on, devices.c.configuration_id).limit(MAX_LISTED)).all()
        return {"claim_id": claim_id, "items": [handlers.device_view(r) for r in rows]}

    return router
