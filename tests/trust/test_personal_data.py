"""Personal data: ID and account numbers never reach a log line unmasked, a read of a person's
record is itself recorded, tokens are stored only as hashes, and a revoked token is refused
everywhere — on the embedded runtime and, for the revocation, through the distributed gateway."""
from __future__ import annotations

import logging
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from libs.events.tables import access_log, clients
from libs.identifiers import make_id_number, make_uscc
from libs.web.context import JsonFormatter
from libs.web.auth import ENV_AGENCY_CLIENT

REGION = "440300"
BANK = "102584000011"


def enroll(api) -> tuple[str, list[tuple[str, str, str]]]:  # noqa: ANN001
    """An employer and two workers with ID numbers and bank accounts: (employer_id, [(employee_id,
    id_number, account_no)])."""
    r = api.post("/v1/employers", json={"uscc": make_uscc(f"91{REGION}{uuid.uuid4().int % 10**8:08d}"),
                                        "name": "深圳隐私测试有限公司", "industry_code": "I6510", "region": REGION,
                                        "enrolled_on": "2025-07-01"})
    assert r.status_code == 201, r.text
    employer_id = r.json()["employer_id"]
    people = []
    for n, born in enumerate((date(1986, 2, 14), date(1993, 11, 2))):
        id_number = make_id_number("440304", born, uuid.uuid4().int % 900 + 100)
        account_no = f"6222{uuid.uuid4().int % 10**15:015d}"
        r = api.post(f"/v1/employers/{employer_id}/employees", json={
            "id_number": id_number, "name": f"工人{n}", "hired_on": "2025-07-01",
            "bank_account": {"bank_code": BANK, "account_no": account_no, "holder": f"工人{n}"}})
        assert r.status_code == 201, r.text
        people.append((r.json()["employee_id"], id_number, account_no))
    return employer_id, people


@pytest.fixture
def json_log(caplog):  # noqa: ANN001, ANN201
    """Every log record of the request path, as the JSON formatter writes it."""
    caplog.set_level(logging.DEBUG)
    caplog.handler.setFormatter(JsonFormatter())
    return caplog


def test_id_and_account_numbers_never_reach_the_log_unmasked(api, json_log) -> None:  # noqa: ANN001
    employer_id, people = enroll(api)
    (employee_id, id_number, account_no), (_, other_id, other_account) = people
    # Reads and failures that carry the numbers in paths, queries and bodies.
    assert api.get(f"/v1/employers/{employer_id}/employees/{employee_id}").status_code == 200
    assert api.get(f"/v1/employers/{id_number}").status_code == 404
    assert api.get(f"/v1/employers/{employer_id}/employees/{account_no}").status_code == 404
    assert api.get("/v1/claims", params={"employee_id": id_number}).status_code == 200
    bad_check_digit = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
    assert api.post(f"/v1/employers/{employer_id}/employees", json={
        "id_number": bad_check_digit, "name": "x", "hired_on": "2025-07-01"}).status_code == 422
    assert api.post(f"/v1/employers/{employer_id}/employees", json={
        "id_number": other_id, "name": "x", "hired_on": "2025-07-01",
        "bank_account": {"bank_code": "12", "account_no": other_account, "holder": "x"}}).status_code == 422
    r = api.post("/v1/wage-reports", json={"employer_id": employer_id, "period": "2025-08",
                                           "lines": [{"id_number": make_id_number("110101", date(1970, 1, 1), 7),
                                                      "wage": "1e5"}, {"id_number": id_number, "wage": "x"}]})
    assert r.status_code == 422
    r = api.put(f"/v1/employers/{employer_id}/employees/{employee_id}/bank-account",
                json={"bank_code": BANK, "account_no": account_no + "X!", "holder": "x"})
    assert r.status_code == 422
    # Code that logs the numbers outright is masked too (the formatter is the last line of defence).
    logging.getLogger("injuryledger.test").warning("worker %s paid to %s", id_number, account_no)

    text = json_log.text
    assert "request" in text and employee_id in text  # the access lines were captured
    for secret in (id_number, other_id, bad_check_digit, account_no, other_account):
        assert secret not in text, f"{secret[:4]}… appears unmasked in the log"
    assert f"{id_number[:6]}********{id_number[-4:]}" in text


def test_a_read_of_a_persons_record_is_recorded(api, runtime) -> None:  # noqa: ANN001
    employer_id, people = enroll(api)
    employee_id = people[0][0]
    r = api.get(f"/v1/employers/{employer_id}/employees/{employee_id}", headers={"X-Correlation-Id": "read-1"})
    assert r.status_code == 200
    with runtime.services["enrollment"].ctx.session_factory() as s:
        rows = s.execute(select(access_log).where(access_log.c.subject_id == employee_id)).all()
    assert [(r.client_id, r.method, r.path, r.correlation_id) for r in rows] == [
        (ENV_AGENCY_CLIENT, "GET", f"/v1/employers/{employer_id}/employees/{employee_id}", "read-1")]

    r = api.post("/v1/claims", json={"employer_id": employer_id, "employee_id": employee_id, "kind": "accident",
                                     "occurred_on": "2025-09-02", "applied_on": "2025-09-10",
                                     "applicant": "employer", "description": "a read is recorded"})
    assert r.status_code == 201, r.text
    claim_id = r.json()["claim_id"]
    assert api.get(f"/v1/claims/{claim_id}", headers={"X-Correlation-Id": "read-2"}).status_code == 200
    assert api.get("/v1/claims/clm_does_not_exist").status_code == 404
    with runtime.services["claims"].ctx.session_factory() as s:
        rows = s.execute(select(access_log)).all()
    assert [(r.client_id, r.method, r.path, r.subject_id, r.correlation_id) for r in rows] == [
        (ENV_AGENCY_CLIENT, "GET", f"/v1/claims/{claim_id}", employee_id, "read-2")]


def test_tokens_are_stored_only_as_hashes(api, runtime) -> None:  # noqa: ANN001
    tokens = []
    for body in ({"name": "H", "role": "hospital", "hospital_id": "H-1"},
                 {"name": "B", "role": "bank", "bank_code": "102100099996"}, {"name": "A", "role": "agency"}):
        r = api.post("/v1/clients", json=body)
        assert r.status_code == 201, r.text
        tokens.append(r.json()["token"])
    assert "token" not in str(api.get("/v1/clients").json()).replace("token_", "")
    seen = 0
    for wired in runtime.services.values():
        with wired.ctx.session_factory() as s:
            rows = s.execute(select(clients)).all()
        for row in rows:
            seen += 1
            assert not any(t in str(value) for t in tokens for value in row), "a token is stored in the clear"
    assert seen >= 3 * len(runtime.services)  # every service keeps its copy of the clients


@pytest.mark.both_runtimes
def test_a_revoked_token_is_refused_everywhere(api) -> None:  # noqa: ANN001
    employer_id, people = enroll(api)
    r = api.post("/v1/clients", json={"name": "staff system", "role": "agency"})
    assert r.status_code == 201, r.text
    issued = r.json()
    routes = [f"/v1/employers/{employer_id}", f"/v1/policies/{REGION}",
              f"/v1/employers/{employer_id}/account", "/v1/claims", "/v1/clients"]
    for path in routes:
        assert api.get(path, headers=api_auth(issued["token"])).status_code == 200, path
    r = api.post(f"/v1/clients/{issued['client_id']}/revocation", json={"reason": "left the agency"})
    assert r.status_code == 200, r.text
    api.settle()
    for path in routes:
        r = api.get(path, headers=api_auth(issued["token"]))
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = api.post("/v1/claims", headers=api_auth(issued["token"]), json={
        "employer_id": employer_id, "employee_id": people[0][0], "kind": "accident", "occurred_on": "2025-09-02",
        "applied_on": "2025-09-10", "applicant": "employer"})
    assert r.status_code == 401
    assert api.get("/v1/claims", params={"employee_id": people[0][0]}).json()["items"] == []


def api_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
