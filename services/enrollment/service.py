"""How the runtimes wire the enrollment service."""
from __future__ import annotations

from libs.imports.api import gateway_pattern
from libs.runtime.service import ServiceSpec

from . import api, handlers, imports, projections, worker_history
from .domain import events  # noqa: F401  (registers the event types)

SPEC = ServiceSpec(
    name="enrollment",
    build_router=api.build_router,
    build_projectors=projections.build_projectors,
    routes=('^/v1/policies(/|$)', '^/v1/pooling/consolidations$', '^/v1/employers(/|$)', gateway_pattern([k.name for k in imports.KINDS], fallback=True)),
    priority_routes=(),
    on_start=handlers.publish_national_default,
    audit_history=worker_history.audit_history,
)
