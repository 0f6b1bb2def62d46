"""The operator console at /console (Chinese, with English): see app.py; assets in static/
(provenance in README.md), never from a CDN."""
from __future__ import annotations

from .app import PREFIX, console_app, console_routes

__all__ = ["PREFIX", "console_app", "console_routes"]
