"""How the runtimes wire the levy service."""
from __future__ import annotations

from libs.imports.api import gateway_pattern
from libs.runtime.service import ServiceSpec

from . import api, imports, projections
from .domain import events  # noqa: F401  (registers the event types)

SPEC = ServiceSpec(
    name="levy",
    build_router=api.build_router,
    build_projectors=projections.build_projectors,
    routes=('^/v1/wage-reports(/|$)', '^/v1/contribution-payments(/|$)', '^/v1/rate-reviews(/|$)', '^/v1/funds/', '^/v1/pooling/consolidations/[^/]+$',
            gateway_pattern([k.name for k in imports.KINDS])),
    priority_routes=('^/v1/employers/[^/]+/account$',),
)
