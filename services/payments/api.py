"""The payments service's REST routes (contract: shared/domain/API.md)."""
from __future__ import annotations

from fastapi import APIRouter

from libs.runtime.service import ServiceContext

from . import clients_api
from .care import api as care_api
from .entitlements import api as entitlements_api
from .payouts import api as payouts_api
from .payouts import recovery_api


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["payments"])
    router.include_router(clients_api.build_router(ctx))
    router.include_router(payouts_api.build_router(ctx))
    router.include_router(entitlements_api.build_router(ctx))
    router.include_router(care_api.build_router(ctx))
    router.include_router(recovery_api.build_router(ctx))
    return router
