"""The claims service's own read-model tables (its event store is in libs.events.tables)."""
from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
