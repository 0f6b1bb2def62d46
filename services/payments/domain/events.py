"""Events the payments service writes (payload models; the envelope is libs.events)."""
from __future__ import annotations

from ..care.domain import (  # noqa: F401
    AssistiveDeviceConfigured,
    ReferralApproved,
    RehabilitationCharged,
    RehabilitationPlanApproved,
    TravelCostsRecorded,
)
from .clients import ClientRegistered, ClientRevoked  # noqa: F401
from ..payouts.overpayments import (  # noqa: F401
    OverpaymentRecognized,
    OverpaymentRecovered,
    OverpaymentRecoveryUndone,
    OverpaymentWrittenOff,
)
