"""deploy/docker-compose.yml starts the same commands with the same settings as
`make run-distributed` (both come from libs/runtime/layout.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from compose import compose_layout, postgres_init  # noqa: E402

from libs.runtime.layout import processes  # noqa: E402


def test_compose_file_runs_the_layouts_commands_with_its_settings() -> None:
    doc = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    layout = compose_layout()
    assert {p.name for p in layout} <= set(doc["services"])
    for p in layout:
        service = doc["services"][p.name]
        assert service["command"] == ["python", *p.argv], p.name
        env = {k: v for k, v in service["environment"].items() if k != "INJURYLEDGER_AGENCY_TOKEN"}
        assert env == p.env, p.name


def test_compose_and_make_run_distributed_differ_only_in_host_names() -> None:
    local = {p.name: p for p in processes()}
    for p in compose_layout():
        mine = local[p.name]
        assert p.argv == mine.argv
        assert set(p.env) == set(mine.env)
        for key, value in p.env.items():
            if key.endswith(("_DB_URL", "_URL", "KAFKA_BOOTSTRAP", "_HOST")):
                continue  # host names: the compose network vs loopback
            assert value == mine.env[key], key


def test_every_service_database_is_created_by_the_init_script() -> None:
    sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert sql == postgres_init()
    for p in processes():
        for key, url in p.env.items():
            if key.endswith("_DB_URL"):
                assert f"CREATE DATABASE {url.rsplit('/', 1)[1]};" in sql


def test_make_run_distributed_uses_the_launcher_of_the_layout() -> None:
    script = (ROOT / "deploy" / "run-distributed.sh").read_text()
    assert "libs.runtime.launcher" in script
    assert "run-distributed" in (ROOT / "Makefile").read_text()
