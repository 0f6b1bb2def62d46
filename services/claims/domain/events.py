"""Events the claims service writes (payload models; the envelope is libs.events)."""
from __future__ import annotations
