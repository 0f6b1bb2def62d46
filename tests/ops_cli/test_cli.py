"""`injuryledger` as an operator types it, against a real HTTP server of either runtime (the
embedded process under uvicorn, or the distributed gateway)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from injuryledger.__main__ import cli
from injuryledger.cli.render import status_table
from tests.conftest import AGENCY_TOKEN

from .conftest import broken, count, enroll_employer, event_id_of

RECORDED_STATUS = json.loads((Path(__file__).parent / "status_recorded.json").read_text())


def run(url: str, *args: str, token: str = AGENCY_TOKEN):  # noqa: ANN201 - click's Result
    env = {"COLUMNS": "220", "INJURYLEDGER_URL": url, "INJURYLEDGER_TOKEN": token, "INJURYLEDGER_AGENCY_TOKEN": ""}
    return CliRunner().invoke(cli, list(args), env=env)


# ---- status: rendered from a recorded document of GET /v1/ops/status ---------------------------

def test_the_status_table_shows_each_service_and_projection() -> None:
    console = Console(record=True, width=220)
    console.print(status_table(RECORDED_STATUS))
    text = console.export_text()
    assert "injuryledger.claims 22 (0:12 1:3 2:0 3:7)" in text
    assert "injuryledger.levy 40" in text and "(0:40)" not in text
    rows = [[c.strip() for c in line.split("│")] for line in text.splitlines() if line.count("│") > 7]
    by_projection = {(r[1], r[5]): r for r in rows if r[5]}
    assert rows[0][1:6] == ["claims", "injuryledger.claims 22 (0:12 1:3 2:0 3:7)", "0", "2", "enrollment"]
    wages = next(r for r in rows if r[5] == "wages")
    assert wages[6:9] == ["5", "injuryledger.levy/1:5", "2"]
    levy = by_projection[("levy", "enrollment")]
    assert levy[1:5] == ["levy", "injuryledger.levy 40", "17", "0"] and levy[6:9] == ["0", "-", "0"]


@pytest.fixture
def recorded_status_server() -> Iterator[str]:
    """A real HTTP server answering GET /v1/ops/status with the recorded document (agency token only)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/v1/ops/status" and self.headers.get("Authorization") == f"Bearer {AGENCY_TOKEN}"
            body = json.dumps(RECORDED_STATUS if ok else {"title": "Unauthorized", "status": 401}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json" if ok else "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_status_prints_the_table_or_the_json(recorded_status_server: str) -> None:
    table = run(recorded_status_server, "status")
    assert table.exit_code == 0, table.output
    assert "wages" in table.output and "injuryledger.levy/1:5" in table.output
    raw = run(recorded_status_server, "status", "--json")
    assert raw.exit_code == 0 and json.loads(raw.output) == RECORDED_STATUS
    refused = run(recorded_status_server, "status", token="not-the-token")
    assert refused.exit_code == 1 and "401 Unauthorized" in refused.output


def test_without_a_system_or_a_token_the_command_says_so() -> None:
    nowhere = run("http://127.0.0.1:9", "dead-letters", "list")
    assert nowhere.exit_code == 2 and "cannot reach http://127.0.0.1:9" in nowhere.output
    tokenless = run("http://127.0.0.1:9", "status", token="")
    assert tokenless.exit_code == 2 and "no token" in tokenless.output
    assert run("http://127.0.0.1:9", "dead-letters", "show", "levy-3").exit_code == 2
    assert run("http://127.0.0.1:9", "dead-letters", "redrive").exit_code == 2


# ---- against the running system, on both runtimes ---------------------------------------------

@pytest.mark.both_runtimes
def test_dead_letters_listed_shown_and_redriven_from_the_command_line(api, server_url, engine_of) -> None:  # noqa: ANN001
    levy = engine_of("levy")
    with broken(levy, "levy_employers"):
        employers = [enroll_employer(api, f"CLI Dead Letter {n}") for n in range(2)]
        events = [event_id_of(api, e, "EmployerEnrolled") for e in employers]
        listed = run(server_url, "dead-letters", "list", "--service", "levy", "--json")
        assert listed.exit_code == 0, listed.output
        letters = {i["event_id"]: f"levy/{i['id']}" for i in json.loads(listed.output)["items"]}
        first, second = (letters[e] for e in events)
        table = run(server_url, "dead-letters", "list", "--service", "levy")
        assert table.exit_code == 0 and first in table.output and "projection broken by the test" in table.output
        shown = run(server_url, "dead-letters", "show", first)
        assert shown.exit_code == 0 and "EmployerEnrolled" in shown.output and employers[0] in shown.output
        still = run(server_url, "dead-letters", "redrive", first)
        assert still.exit_code == 1 and "still fails" in still.output
    redriven = run(server_url, "dead-letters", "redrive", first)
    assert redriven.exit_code == 0 and f"{first}: applied" in redriven.output
    assert run(server_url, "dead-letters", "redrive", first).output.strip() == f"{first}: already redriven"
    every = run(server_url, "dead-letters", "redrive", "--all", "--service", "levy")
    assert "applied" in every.output
    api.settle()
    for employer_id in employers:
        assert count(levy, "select count(*) from levy_employers where employer_id = :e", e=employer_id) == 1
    left = json.loads(run(server_url, "dead-letters", "list", "--service", "levy", "--json").output)["items"]
    assert second not in {f"levy/{i['id']}" for i in left}


@pytest.mark.both_runtimes
def test_replay_from_the_command_line_while_reads_go_on(api, server_url) -> None:  # noqa: ANN001
    reads: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=server_url, headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}, timeout=30) as c:
            while not stop.is_set():
                r = c.get("/v1/policies/000000", params={"on": "2025-01-01"})
                reads.append(r.status_code if r.json().get("region") == "000000" else -1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = run(server_url, "replay", "enrollment", "policies", "--batch", "1")
    finally:
        stop.set()
        thread.join(30)
    assert result.exit_code == 0, result.output
    assert "rebuilt from" in result.output and "swapped in" in result.output
    hashes = [line.split()[-1] for line in result.output.splitlines() if "state hash" in line]
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert reads and set(reads) == {200}
    refused = run(server_url, "replay", "payments", "entitlements")
    assert refused.exit_code == 1 and "409" in refused.output


@pytest.mark.both_runtimes
def test_rebuild_read_models_from_the_command_line(api, server_url) -> None:  # noqa: ANN001
    enroll_employer(api, "CLI Rebuilt Ltd")
    result = run(server_url, "rebuild-read-models")
    assert result.exit_code == 0, result.output
    assert "aggregates rebuilt" in result.output
