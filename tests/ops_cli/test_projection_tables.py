"""A projection's `tables` are exactly what its `reset` empties, whole: a replay into shadow
copies of them rebuilds everything the projection owns and touches nothing it does not."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.sql.dml import Delete

from libs.db import writing
from libs.events.shadow import NotReplayable, check_replayable


def test_declared_tables_are_what_reset_empties(runtime) -> None:  # noqa: ANN001
    replayable = []
    for name, wired in runtime.services.items():
        engine = wired.ctx.engine
        for projector in wired.spec.build_projectors(wired.ctx):
            deleted: list[tuple[str, bool]] = []

            def record(_conn, clause, *_args, _deleted=deleted, **_kw):  # noqa: ANN001, ANN002, ANN003, ANN202
                if isinstance(clause, Delete):
                    _deleted.append((clause.table.name, clause.whereclause is None))

            event.listen(engine, "before_execute", record)
            try:
                session_cm = writing(wired.ctx.session_factory)
                with session_cm as session:
                    projector.reset(session)
                    session.rollback()  # only looking
            finally:
                event.remove(engine, "before_execute", record)
            declared = {t.name for t in getattr(projector, "tables", ())}
            whole = {table for table, unconditional in deleted if unconditional}
            if declared:
                assert all(unconditional for _, unconditional in deleted), (name, projector.name, deleted)
                assert declared == whole, (name, projector.name, declared, whole)
                check_replayable(projector)
                replayable.append(f"{name}.{projector.name}")
            else:
                try:
                    check_replayable(projector)
                except NotReplayable:
                    pass
                else:
                    raise AssertionError(f"{name}.{projector.name} declares no tables yet counts as replayable")
    assert "claims.claims" in replayable and "enrollment.policies" in replayable and len(replayable) >= 10
