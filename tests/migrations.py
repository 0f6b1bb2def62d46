"""Tests of a migration: a database migrated up to just before the revision under test."""
from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from libs.db import alembic_config


def upgrade_to_before(conn, service: str, revision: str) -> None:  # noqa: ANN001
    """Every head of `service`'s migrations, short of `revision` and what comes after it."""
    cfg = alembic_config(service)
    cfg.attributes["connection"] = conn
    script = ScriptDirectory.from_config(cfg)
    for head in script.get_heads():
        below = [r.revision for r in script.iterate_revisions(head, "base")]
        command.upgrade(cfg, below[below.index(revision) + 1] if revision in below else head)
