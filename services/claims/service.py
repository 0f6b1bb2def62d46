"""How the runtimes wire the claims service."""
from __future__ import annotations

from libs.imports.api import gateway_pattern
from libs.runtime.service import ServiceSpec

from . import api, imports, projections
from .domain import events  # noqa: F401  (registers the event types)

SPEC = ServiceSpec(
    name="claims",
    build_router=api.build_router,
    build_projectors=projections.build_projectors,
    routes=('^/v1/claims(/|$)', gateway_pattern([k.name for k in imports.KINDS])),
    priority_routes=(),
)
