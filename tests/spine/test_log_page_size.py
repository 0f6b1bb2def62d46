"""The embedded log's file is made with pages of LOG_PAGE_SIZE (a go-live's big events cost fewer
WAL frames and checkpoint copies); the services' files keep SQLite's own, and a log file made
before keeps its pages and its records."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from libs.db import make_engine
from libs.events.log import Record
from libs.events.sqlite_log import LOG_PAGE_SIZE, SqliteLog
from libs.runtime.embedded import EmbeddedRuntime
from libs.settings import Settings


def _page_size(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA page_size")).scalar()


def test_a_new_embedded_log_has_the_log_page_size(tmp_path: Path) -> None:
    assert LOG_PAGE_SIZE != 4096
    rt = EmbeddedRuntime(Settings(data_dir=tmp_path / "data"))  # every file made new
    try:
        assert _page_size(rt.log.engine) == LOG_PAGE_SIZE
        assert {_page_size(w.ctx.engine) for w in rt.services.values()} == {4096}
    finally:
        rt.close()


def test_a_log_made_before_keeps_its_pages_and_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    before = SqliteLog(make_engine(url))
    value = b"x" * 150_000  # a big event's value, over many pages
    assert before.publish([Record("t", b"k", value, (("type", b"T"),))]) == [(0, 0)]
    before.close()
    log = SqliteLog(make_engine(url, sqlite_page_size=LOG_PAGE_SIZE))
    try:
        assert _page_size(log.engine) == 4096
        assert log.publish([Record("t", b"k2", b"small", ())]) == [(0, 1)]
        got = log.consumer("g", ["t"]).poll(10)
        assert [(r.key, r.value, r.offset) for r in got] == [(b"k", value, 0), (b"k2", b"small", 1)]
    finally:
        log.close()
