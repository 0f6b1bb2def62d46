"""Property-based fuzzing of the whole OpenAPI document with schemathesis, over the embedded
runtime with the agency token: valid and invalid requests of every operation.

For every generated request:
- never a 500 (nor any 5xx),
- every 4xx/5xx body is `application/problem+json` with `type`, `title`, `status` (the same
  status as the response), and a 422 names each bad field in `errors[].field`,
- a refused request (4xx) changes nothing: the rows of every service's `events` table are the
  same before and after it.

The region is seeded with the demo data plus a claim, a hospital, a client and a payment run, and
about half the generated path parameters are swapped for the ids of those, so the fuzzer reaches
past "404 not found" into the handlers. CI runs `FUZZ_EXAMPLES` (default 40) examples per
operation, derandomized; `make fuzz` runs many more.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from libs.events.tables import events
from libs.runtime.demo import load_demo
from libs.runtime.embedded import EmbeddedRuntime
from libs.web.problems import PROBLEM_JSON
from tests.conftest import AGENCY_TOKEN, embedded_settings, fresh_data_dir

# schemathesis gives every operation's case the one node id `test_every_operation`, which
# pytest-xdist cannot hand out (it ran 10 cases of thousands): deploy/test.sh runs this file in
# its plain pytest run, after the workers'.
pytestmark = pytest.mark.one_process

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
AUTH = {"Authorization": f"Bearer {AGENCY_TOKEN}"}
STATS: dict[str, Any] = {"cases": 0, "by_status": {}, "started": None}


@pytest.fixture(scope="module")
def fuzz_runtime(tmp_path_factory: pytest.TempPathFactory, migrated_data_dir: Path) -> Iterator[EmbeddedRuntime]:
    rt = EmbeddedRuntime(embedded_settings(fresh_data_dir(migrated_data_dir, tmp_path_factory.mktemp("fuzz") / "data")))
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def fuzz_client(fuzz_runtime: EmbeddedRuntime) -> Iterator[TestClient]:
    app = fuzz_runtime.app()
    load_demo(app, AGENCY_TOKEN)
    with TestClient(app, headers=AUTH, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def known_ids(fuzz_client: TestClient) -> dict[str, str]:
    """Real ids of every kind of path parameter, made through the API."""
    c = fuzz_client
    employers = c.get("/v1/employers", params={"region": "440300"}).json()["items"]
    employer_id = employers[0]["employer_id"]
    employee_id = c.get(f"/v1/employers/{employer_id}/employees").json()["items"][0]["employee_id"]
    claim = c.post("/v1/claims", json={"employer_id": employer_id, "employee_id": employee_id, "kind": "accident",
                                       "occurred_on": "2025-09-02", "applied_on": "2025-09-10",
                                       "applicant": "employer", "description": "fuzz seed"})
    assert claim.status_code == 201, claim.text
    hospital = c.put("/v1/hospitals/H-440300-001", json={
        "name": "Shenzhen People's Hospital", "region": "440300",
        "bank_account": {"bank_code": "102584000002", "account_no": "4000023409200123456", "holder": "医院"}})
    assert hospital.status_code in (200, 201), hospital.text
    client = c.post("/v1/clients", json={"name": "fuzz bank", "role": "bank", "bank_code": "102584000002"})
    assert client.status_code == 201, client.text
    run = c.post("/v1/payment-runs", json={"region": "440300", "period": "2025-12"})
    assert run.status_code in (201, 409), run.text  # 409 until entitlement lines exist
    return {"employer_id": employer_id, "employee_id": employee_id, "claim_id": claim.json()["claim_id"],
            "hospital_id": "H-440300-001", "client_id": client.json()["client_id"], "run_id": run.json().get("run_id", "x-unknown"),
            "region": "440300", "payout_id": "x-unknown", "effective_from": "2026-01-01"}


def openapi_document() -> dict[str, Any]:
    """The document the app serves, read once at collection from a throwaway runtime (the lazy
    `schemathesis.pytest.from_fixture` does not work with pytest 9: it writes `node._nodeid`)."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = EmbeddedRuntime(embedded_settings(Path(tmp) / "data"))
        try:
            with TestClient(rt.app()) as client:
                return client.get("/openapi.json").json()
        finally:
            rt.close()


schema = schemathesis.openapi.from_dict(openapi_document())


def event_counts(runtime: EmbeddedRuntime) -> dict[str, int]:
    out = {}
    for name, wired in runtime.services.items():
        with wired.ctx.session_factory() as session:
            out[name] = session.execute(select(func.count()).select_from(events)).scalar_one()
    return out


def with_known_ids(case: schemathesis.Case, known: dict[str, str]) -> None:
    """About half the cases (decided by the generated values, so reproducible) use real ids, in
    the path and in the top level of a JSON body."""
    params = case.path_parameters or {}
    body = case.body if isinstance(case.body, dict) else {}
    digest = hashlib.sha256(repr((sorted(params.items()), repr(body))).encode()).digest()
    if digest[0] % 2:
        return
    for values in (params, body):
        for name, value in values.items():
            if name in known and isinstance(value, str):
                values[name] = known[name]


def check_problem(response: Any, where: str) -> None:
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:500]}"
    if response.status_code < 400:
        return
    ctype = response.headers.get("content-type", "")
    assert ctype.startswith(PROBLEM_JSON), f"{where} → {response.status_code} as {ctype}: {response.text[:300]}"
    doc = response.json()
    for key in ("type", "title", "status"):
        assert key in doc, f"{where} → problem without {key}: {doc}"
    assert doc["status"] == response.status_code, f"{where} → status {doc['status']} in a {response.status_code}"
    if response.status_code == 422:
        assert doc.get("errors"), f"{where} → a 422 naming no field: {doc}"
        assert all(isinstance(e.get("field"), str) and e["field"] for e in doc["errors"]), doc


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation(case: schemathesis.Case, fuzz_runtime: EmbeddedRuntime, fuzz_client: TestClient,
                         known_ids: dict[str, str]) -> None:
    STATS["started"] = STATS["started"] or time.perf_counter()
    with_known_ids(case, known_ids)
    kwargs = case.as_transport_kwargs(headers=AUTH)
    cookies = kwargs.pop("cookies", None)
    if cookies:
        kwargs["headers"]["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if kwargs.get("files"):  # requests-style parts; httpx takes only str or bytes as a part's content
        kwargs["files"] = [(name, (part[0], part[1] if isinstance(part[1], (str, bytes)) else json.dumps(part[1])))
                           for name, part in kwargs["files"]]
    before = event_counts(fuzz_runtime)
    response = fuzz_client.request(**kwargs)
    STATS["cases"] += 1
    STATS["by_status"][response.status_code] = STATS["by_status"].get(response.status_code, 0) + 1
    op = (case.method, case.path, response.status_code)
    STATS.setdefault("by_op", {})[op] = STATS.setdefault("by_op", {}).get(op, 0) + 1
    if os.environ.get("FUZZ_TRACE") and response.status_code != 405:
        print("TRACE", case.method, case.formatted_path, response.status_code, response.text[:160])
    where = f"{case.method} {case.formatted_path} {str(case.body)[:200]!r}"
    check_problem(response, where)
    if response.status_code >= 400:
        assert event_counts(fuzz_runtime) == before, f"{where} was refused ({response.status_code}) but wrote events"


def test_fuzz_figures() -> None:
    """Runs after the operations (file order): the count of cases, for the report."""
    if not STATS["cases"]:
        pytest.skip("the fuzz tests did not run")
    seconds = time.perf_counter() - (STATS["started"] or time.perf_counter())
    print(f"\nfuzz: {STATS['cases']} cases in {seconds:.0f} s; by status {dict(sorted(STATS['by_status'].items()))}")
    if os.environ.get("FUZZ_TRACE"):
        for op, n in sorted(STATS["by_op"].items()):
            print(*op, n)
    assert STATS["cases"] >= 10 * FUZZ_EXAMPLES
