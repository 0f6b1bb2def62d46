"""How the runtimes wire the payments service."""
from __future__ import annotations

from libs.runtime.service import ServiceSpec

from . import api, projections
from .domain import events  # noqa: F401  (registers the event types)

SPEC = ServiceSpec(
    name="payments",
    build_router=api.build_router,
    build_projectors=projections.build_projectors,
    routes=('^/v1/clients(/|$)', '^/v1/hospitals(/|$)', '^/v1/medical-bills(/|$)', '^/fhir/', '^/v1/payouts(/|$)', '^/v1/payment-runs(/|$)',
            '^/v1/overpayments(/|$)'),
    priority_routes=('^/v1/claims/[^/]+/entitlements$', '^/v1/employers/[^/]+/obligations$',
                     # the fund's care beyond hospital bills (services/payments/care)
                     '^/v1/claims/[^/]+/(referrals|travel-costs|rehabilitation-plans|assistive-devices)$'),
)
