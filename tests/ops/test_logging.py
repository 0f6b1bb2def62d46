"""Log lines: JSON when stderr is not a terminal, readable lines with their fields on a terminal
or with INJURYLEDGER_LOG_JSON=false, ID numbers masked in both; and `make run` keeps the demo
load quiet and prints its banner last, once it listens."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from libs.identifiers import make_id_number

ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = make_id_number("440304", date(1986, 2, 14), 123)
MASKED = f"{ID_NUMBER[:6]}********{ID_NUMBER[-4:]}"
START_TIMEOUT_S = 120

# One request through the real request middleware, logged as the process's settings say.
REQUEST_ONE = """
import sys, warnings
warnings.simplefilter("ignore")
from fastapi import FastAPI
from fastapi.testclient import TestClient
from libs.settings import Settings
from libs.web.context import configure_logging
from libs.web.middleware import RequestContextMiddleware

settings = Settings()
configure_logging(settings.log_level, settings.log_json)
app = FastAPI()

@app.get("/v1/claims/{claim_id}")
def claim(claim_id: str) -> dict:
    return {}

app.add_middleware(RequestContextMiddleware)
TestClient(app).get("/v1/claims/" + sys.argv[1], headers={"X-Correlation-Id": "cid-42"})
"""


def env(**changes: str | None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("INJURYLEDGER_")}
    out["PYTHONPATH"] = str(ROOT)
    out.update({k: v for k, v in changes.items() if v is not None})
    return out


def stderr_of(script_env: dict[str, str], terminal: bool) -> str:
    argv = [sys.executable, "-c", REQUEST_ONE, ID_NUMBER]
    if not terminal:
        return subprocess.run(argv, env=script_env, cwd=ROOT, capture_output=True, text=True, timeout=120).stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, env=script_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


TEXT_LINE = re.compile(rf"^INFO injuryledger\.http request method=GET path=/v1/claims/{re.escape(MASKED)} "
                       r"status=200 ms=\d+(\.\d+)? correlation_id=cid-42$", re.M)


@pytest.mark.parametrize("terminal, setting", [(False, "false"), (True, None)], ids=["LOG_JSON=false", "terminal"])
def test_readable_lines_keep_their_fields(terminal: bool, setting: str | None) -> None:
    err = stderr_of(env(INJURYLEDGER_LOG_JSON=setting), terminal)
    assert TEXT_LINE.search(err), err
    assert ID_NUMBER not in err and not err.lstrip().startswith("{")


@pytest.mark.parametrize("terminal, setting", [(False, None), (True, "true")], ids=["not a terminal", "LOG_JSON=true"])
def test_json_lines_when_not_on_a_terminal_or_asked(terminal: bool, setting: str | None) -> None:
    err = stderr_of(env(INJURYLEDGER_LOG_JSON=setting), terminal)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    request = [d for d in lines if d["logger"] == "injuryledger.http"]
    assert len(request) == 1, err
    assert {k: request[0][k] for k in ("level", "msg", "method", "path", "status", "correlation_id")} == {
        "level": "INFO", "msg": "request", "method": "GET", "path": f"/v1/claims/{MASKED}", "status": 200,
        "correlation_id": "cid-42"}
    assert isinstance(request[0]["duration_ms"], (int, float))
    assert ID_NUMBER not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_is_quiet_while_loading_the_demo_and_prints_its_banner_last(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "injuryledger", "run"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env(INJURYLEDGER_DATA_DIR=str(tmp_path / "data"),
                                                            INJURYLEDGER_PORT=str(port), INJURYLEDGER_LOG_JSON="false"))
    out = b""
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        fd = proc.stderr.fileno()
        while b"try: curl" not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:  # it exited
                    break
                out += chunk
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = out.decode().splitlines()
    text = "\n".join(lines)
    assert any("try: curl" in line for line in lines), text
    banner_at = next(i for i, line in enumerate(lines) if line.startswith("injuryledger (embedded) on"))
    assert lines[banner_at] == f"injuryledger (embedded) on http://127.0.0.1:{port}"
    assert any(f"Uvicorn running on http://127.0.0.1:{port}" in line for line in lines[:banner_at])
    assert not [line for line in lines if "injuryledger.http" in line or line.startswith("INFO httpx")], text
    assert [line.split(":")[0] for line in lines[banner_at + 1:banner_at + 5]] == \
        ["  API docs", "  agency token", "  data folder", "  try"]
