"""What the payments service projects from the log (its own and other services' events)."""
from __future__ import annotations

from libs.events.consumer import Projector
from libs.policy.projection import PoliciesProjection
from libs.runtime.clients import ClientsProjection
from libs.runtime.service import ServiceContext

from .entitlements.projection import EntitlementsProjection
from .payouts.projection import PayoutFactsProjection


def build_projectors(ctx: ServiceContext) -> list[Projector]:
    return [ClientsProjection(), PoliciesProjection(), PayoutFactsProjection(), EntitlementsProjection()]
