"""Events the payments service writes (payload models; the envelope is libs.events)."""
from __future__ import annotations

from .clients import ClientRegistered, ClientRevoked  # noqa: F401
