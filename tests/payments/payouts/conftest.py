from __future__ import annotations

import pytest

from .support import ensure_lines_table, publish_policy


@pytest.fixture
def pay(api, runtime):  # noqa: ANN001, ANN201
    """The embedded system with a region policy (catalog, fund account) and the lines table."""
    publish_policy(api)
    ensure_lines_table(runtime)
    return api
