"""Events the payments service writes (payload models; the envelope is libs.events)."""
from __future__ import annotations

from ..care.domain import ReferralApproved, TravelCostsRecorded  # noqa: F401
from .clients import ClientRegistered, ClientRevoked  # noqa: F401
