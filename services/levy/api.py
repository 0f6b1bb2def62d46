"""The levy service's REST routes (contract: shared/domain/API.md)."""
from __future__ import annotations

from fastapi import APIRouter

from libs.runtime.service import ServiceContext


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["levy"])
    return router
