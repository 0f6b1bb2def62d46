"""The enrollment service through its public API on both runtimes: policies, employers,
workers; every refusal names its field and records nothing. Each test works in a region of its
own with employers and workers of its own (`unique`), since the distributed runtime is one system
for the whole session."""
from __future__ import annotations

import pytest

import re
from datetime import date
from pathlib import Path

from sqlalchemy import select

from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.events.tables import access_log
from libs.identifiers import id_check_char, uscc_check_char
from services.enrollment import handlers
from tests.levy.support import other_region

pytestmark = pytest.mark.both_runtimes

ACCOUNT = {"bank_code": "102584000011", "account_no": "6222020200112233445", "holder": "张三"}


@pytest.fixture
def zhang(unique) -> str:  # noqa: ANN001
    """张三, a man born 1990-03-07, registered in the test's region."""
    return unique.id_number(date(1990, 3, 7), 1)


def bearer(token: str) -> dict[str, str]:
    """The headers of another client (the distributed test client has no `as_token`)."""
    return {"Authorization": f"Bearer {token}"}


def events_of(api, aggregate_id: str) -> list[dict]:  # noqa: ANN001
    response = api.get("/v1/events", params={"aggregate_id": aggregate_id})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def national(api) -> dict:  # noqa: ANN001
    response = api.get("/v1/policies/000000", params={"on": "2025-01-01"})
    assert response.status_code == 200, response.text
    return response.json()


def publish_shenzhen(api, region: str, effective_from: str = "2025-07-01", **changes) -> dict:  # noqa: ANN001, ANN003
    """Shenzhen's figures, published as the policy of the test's region."""
    doc = {**national(api), "average_monthly_wage": "12964.00", "minimum_monthly_wage": "2520.00", **changes}
    response = api.put(f"/v1/policies/{region}/{effective_from}", json=doc)
    assert response.status_code == 201, response.text
    return response.json()


def enroll(api, uscc: str, region: str, industry: str = "I6510", on: str = "2025-07-01",  # noqa: ANN001
           name: str = "深圳前海软件有限公司") -> dict:
    response = api.post("/v1/employers", json={"uscc": uscc, "name": name, "industry_code": industry,
                                              "region": region, "enrolled_on": on})
    assert response.status_code == 201, response.text
    return response.json()


def hire(api, employer_id: str, id_number: str, hired_on: str = "2025-07-01", **extra):  # noqa: ANN001, ANN003, ANN201
    return api.post(f"/v1/employers/{employer_id}/employees",
                    json={"id_number": id_number, "name": "张三", "hired_on": hired_on, **extra})


def only_error(response) -> str:  # noqa: ANN001
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == 422 and body["errors"], body
    return body["errors"][0]["field"]


# ------------------------------------------------------------------------------------ policy

def test_the_national_default_is_published_once_at_start(api, runtime, unique) -> None:  # noqa: ANN001
    doc = national(api)
    assert (doc["region"], doc["effective_from"], doc["version"]) == ("000000", "2015-10-01", 1)
    assert (doc["base_rates"]["1"], doc["base_rates"]["8"], doc["risk_classes"]["B06"]) == ("0.0020", "0.0190", 8)
    # 人社部发〔2015〕71号: the plain average of the eight base rates, 8.1% / 8, passes the 1% control
    assert doc["flags"] == {"average_rate": "0.010125", "average_rate_control": "0.0100",
                            "exceeds_average_rate_control": True}
    trail = events_of(api, "policy-000000")
    assert [(e["type"], e["actor"], e["sequence"]) for e in trail] == [("PolicyPublished", "system", 1)]
    # a second start (another instance) publishes nothing more
    handlers.publish_national_default(runtime.services["enrollment"].ctx)
    assert len(events_of(api, "policy-000000")) == 1
    # a region without a policy of its own falls back to the national one
    fallback = api.get(f"/v1/policies/{unique.region}", params={"on": "2025-01-01"}).json()
    assert (fallback["region"], fallback["version"]) == ("000000", 1)
    # before the national default came into force there is nothing
    assert api.get(f"/v1/policies/{unique.region}", params={"on": "2015-09-30"}).status_code == 404


def test_publish_resolve_and_supersede(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    first = publish_shenzhen(api, region)
    assert (first["region"], first["effective_from"], first["version"], first["average_monthly_wage"]) == (
        region, "2025-07-01", 1, "12964.00")
    second = publish_shenzhen(api, region, "2026-01-01", average_monthly_wage="13730.00")
    assert second["version"] == 2

    def in_force(on: str) -> tuple:
        doc = api.get(f"/v1/policies/{region}", params={"on": on}).json()
        return doc["region"], doc["version"], doc["average_monthly_wage"]

    assert in_force("2025-06-30")[:2] == ("000000", 1)
    assert in_force("2025-07-01") == (region, 1, "12964.00")
    assert in_force("2026-01-01") == (region, 2, "13730.00")
    # a correction of the 2025-07-01 document is a new version that supersedes the first
    third = publish_shenzhen(api, region, "2025-07-01", average_monthly_wage="12000.00")
    assert third["version"] == 3
    assert in_force("2025-12-31") == (region, 3, "12000.00")
    assert in_force("2026-02-01") == (region, 2, "13730.00")
    # publishing the newest document for a date again changes nothing (PUT is idempotent)
    doc = api.get(f"/v1/policies/{region}", params={"on": "2025-08-01"}).json()
    again = api.put(f"/v1/policies/{region}/2025-07-01", json=doc)
    assert (again.status_code, again.json()["version"]) == (200, 3)
    trail = events_of(api, f"policy-{region}")
    assert [(e["payload"]["version"], e["payload"]["effective_from"]) for e in trail] == [
        (1, "2025-07-01"), (2, "2026-01-01"), (3, "2025-07-01")]
    assert all(e["actor"] == "env-agency" for e in trail)


def test_a_bad_policy_is_refused_naming_the_field_and_nothing_is_recorded(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    doc = national(api)
    bad_rate = {**doc, "base_rates": {**doc["base_rates"], "3": "seven"}}
    response = api.put(f"/v1/policies/{region}/2025-07-01", json=bad_rate)
    assert only_error(response) == "base_rates.3"
    assert response.headers["content-type"].startswith("application/problem+json")
    missing = {k: v for k, v in doc.items() if k != "due_day"}
    assert only_error(api.put(f"/v1/policies/{region}/2025-07-01", json=missing)) == "due_day"
    assert only_error(api.put("/v1/policies/99030/2025-07-01", json=doc)) == "region"
    assert only_error(api.put(f"/v1/policies/{region}/2025-02-30", json=doc)) == "effective_from"
    assert events_of(api, f"policy-{region}") == []
    assert api.get(f"/v1/policies/{region}", params={"on": "2025-08-01"}).json()["region"] == "000000"


def test_policy_reads_need_a_token_and_writes_the_agency(api, unique) -> None:  # noqa: ANN001
    assert api.get("/v1/policies/000000", headers={"Authorization": ""}).status_code == 401
    hospital = api.post("/v1/clients", json={"name": "Hospital", "role": "hospital", "hospital_id": "H1"}).json()
    as_hospital = bearer(hospital["token"])
    assert api.get(f"/v1/policies/{unique.region}", headers=as_hospital).status_code == 200
    assert api.put(f"/v1/policies/{unique.region}/2025-07-01", json=national(api),
                   headers=as_hospital).status_code == 403
    assert events_of(api, f"policy-{unique.region}") == []


# --------------------------------------------------------------------------------- employers

def test_an_employer_gets_the_class_and_rate_of_the_policy_in_force(api, unique) -> None:  # noqa: ANN001
    region = unique.region
    publish_shenzhen(api, region, base_rates={"1": "0.0020", "2": "0.0040", "3": "0.0070", "4": "0.0095",
                                              "5": "0.0110", "6": "0.0130", "7": "0.0160", "8": "0.0190"})
    soft = enroll(api, unique.uscc(), region)
    assert (soft["risk_class"], soft["base_rate"], soft["division"]) == (1, "0.0020", "I65")
    assert soft["policy_ref"] == {"region": region, "effective_from": "2025-07-01", "version": 1}
    metal_uscc = unique.uscc()
    metal = enroll(api, metal_uscc, region, "C3311", name="深圳金属制品厂")
    assert (metal["risk_class"], metal["base_rate"]) == (4, "0.0095")   # the region's own rate
    coal = enroll(api, unique.uscc(), region, "B0610", on="2025-06-01", name="煤矿")  # before the region's policy
    assert (coal["risk_class"], coal["base_rate"], coal["policy_ref"]["region"]) == (8, "0.0190", "000000")
    got = api.get(f"/v1/employers/{metal['employer_id']}").json()
    assert (got["uscc"], got["status"], got["industry_code"], got["enrolled_on"]) == (
        metal_uscc, "active", "C3311", "2025-07-01")
    trail = events_of(api, metal["employer_id"])
    assert [e["type"] for e in trail] == ["EmployerEnrolled"]
    assert trail[0]["payload"]["base_rate"] == "0.0095"


def test_each_bad_employer_input_is_a_422_naming_the_field_and_records_nothing(api, unique) -> None:  # noqa: ANN001
    uscc = unique.uscc()
    good = {"uscc": uscc, "name": "X", "industry_code": "I6510", "region": unique.region, "enrolled_on": "2025-07-01"}
    bad_check = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    wrong_org = uscc[:16] + ("1" if uscc[16] != "1" else "2")  # the organization code check (char 17) broken ...
    wrong_org += uscc_check_char(wrong_org)  # ... while the GB 32100 check character is right
    cases = [
        ({"uscc": bad_check}, "uscc", "check character"),
        ({"uscc": wrong_org}, "uscc", "organization code"),
        ({"industry_code": "C99"}, "industry_code", "division 99"),
        ({"industry_code": "A65"}, "industry_code", "section I"),
        ({"region": "990000"}, "region", "province"),
        ({"enrolled_on": "2015-09-30"}, "enrolled_on", "no policy"),
        ({"enrolled_on": "2025-13-01"}, "enrolled_on", ""),
        ({"name": ""}, "name", ""),
    ]
    for change, field, words in cases:
        response = api.post("/v1/employers", json={**good, **change})
        assert only_error(response) == field, (change, response.text)
        assert words in response.json()["errors"][0]["message"], response.text
    assert api.get("/v1/employers", params={"region": unique.region}).json()["items"] == []


def test_a_duplicate_uscc_is_a_409_naming_the_employer(api, unique) -> None:  # noqa: ANN001
    uscc = unique.uscc()
    first = enroll(api, uscc, unique.region)
    response = api.post("/v1/employers", json={"uscc": uscc.lower(), "name": "again", "industry_code": "C3311",
                                               "region": unique.region, "enrolled_on": "2025-08-01"})
    assert response.status_code == 409, response.text
    assert response.json()["employer_id"] == first["employer_id"]
    assert len(api.get("/v1/employers", params={"region": unique.region}).json()["items"]) == 1


def test_status_and_industry_changes_with_the_audit_trail_in_order(api, unique) -> None:  # noqa: ANN001
    staff = api.post("/v1/clients", json={"name": "Agency desk 2", "role": "agency"}).json()
    soft = enroll(api, unique.uscc(), unique.region)
    eid = soft["employer_id"]
    r = api.post(f"/v1/employers/{eid}/changes", json={"changed_on": "2025-09-01", "industry_code": "C3311"},
                 headers=bearer(staff["token"]))
    assert r.status_code == 200, r.text
    assert (r.json()["risk_class"], r.json()["base_rate"], r.json()["division"]) == (4, "0.0090", "C33")
    r = api.post(f"/v1/employers/{eid}/status", json={"status": "suspended", "changed_on": "2025-10-01"})
    assert (r.status_code, r.json()["status"], r.json()["risk_class"]) == (200, "suspended", 4)
    assert api.post(f"/v1/employers/{eid}/status",
                    json={"status": "suspended", "changed_on": "2025-10-02"}).status_code == 409
    assert only_error(api.post(f"/v1/employers/{eid}/status",
                               json={"status": "active", "changed_on": "2025-09-15"})) == "changed_on"
    assert only_error(api.post(f"/v1/employers/{eid}/changes", json={"changed_on": "2025-10-05"})) == "body"
    assert only_error(api.post(f"/v1/employers/{eid}/status",
                               json={"status": "dormant", "changed_on": "2025-10-05"})) == "status"
    r = api.post(f"/v1/employers/{eid}/status", json={"status": "closed", "changed_on": "2025-12-31"})
    assert r.status_code == 200
    assert api.post(f"/v1/employers/{eid}/changes",
                    json={"changed_on": "2026-01-05", "name": "Reborn"}).status_code == 409
    assert api.post(f"/v1/employers/er_0000000000000000/status",
                    json={"status": "closed", "changed_on": "2026-01-05"}).status_code == 404
    trail = events_of(api, eid)
    assert [(e["sequence"], e["type"], e["actor"]) for e in trail] == [
        (1, "EmployerEnrolled", "env-agency"),
        (2, "EmployerChanged", staff["client_id"]),
        (3, "EmployerChanged", "env-agency"),
        (4, "EmployerChanged", "env-agency"),
    ]
    assert [e["payload"]["status"] for e in trail[1:]] == ["active", "suspended", "closed"]
    assert api.get(f"/v1/employers/{eid}").json()["status"] == "closed"


def test_employers_are_listed_by_page_and_region(api, unique) -> None:  # noqa: ANN001
    # three employers in the test's region are paged through two at a time; a fourth elsewhere
    mine = {enroll(api, unique.uscc(), unique.region)["employer_id"],
            enroll(api, unique.uscc(), unique.region, "C3311")["employer_id"],
            enroll(api, unique.uscc(), unique.region, name="深圳第三家公司")["employer_id"]}
    coal_uscc = unique.uscc()
    enroll(api, coal_uscc, other_region(unique), "B0610")
    by_region = {"region": unique.region, "limit": 2}
    first = api.get("/v1/employers", params=by_region).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get("/v1/employers", params={**by_region, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {e["employer_id"] for e in first["items"] + rest["items"]} == mine
    listed = api.get("/v1/employers", params={"region": other_region(unique)}).json()["items"]
    assert [e["uscc"] for e in listed] == [coal_uscc]
    assert api.get("/v1/employers", params={"limit": 1001}).status_code == 422


# ------------------------------------------------------------------------------------ workers

def test_a_worker_moving_to_a_second_employer_keeps_the_employee_id(api, unique, zhang) -> None:  # noqa: ANN001
    soft, metal = enroll(api, unique.uscc(), unique.region), enroll(api, unique.uscc(), unique.region, "C3311")
    first = hire(api, soft["employer_id"], zhang, bank_account=ACCOUNT)
    assert first.status_code == 201, first.text
    employee_id = first.json()["employee_id"]
    dup = hire(api, soft["employer_id"], zhang, hired_on="2025-08-01")
    assert (dup.status_code, dup.json()["employee_id"]) == (409, employee_id)
    second = hire(api, metal["employer_id"], zhang.lower(), hired_on="2025-09-01")
    assert (second.status_code, second.json()["employee_id"]) == (201, employee_id)
    got = api.get(f"/v1/employers/{metal['employer_id']}/employees/{employee_id}").json()
    assert (got["id_number"], got["birth_date"], got["sex"]) == (zhang, "1990-03-07", "male")
    assert [(j["employer_id"], j["active"]) for j in got["employments"]] == [
        (soft["employer_id"], True), (metal["employer_id"], True)]
    assert got["bank_account"] == ACCOUNT
    trail = events_of(api, employee_id)
    assert [(e["type"], e["payload"]["employer_id"]) for e in trail] == [
        ("EmployeeEnrolled", soft["employer_id"]), ("EmployeeEnrolled", metal["employer_id"])]
    assert trail[1]["payload"]["bank_account"] == ACCOUNT  # the account on record travels along


def test_ids_of_the_shape_made_before_keep_working_beside_time_ordered_ones(  # noqa: ANN001
        api, runtime, unique, zhang, monkeypatch) -> None:
    """Books enrolled before ids were time-ordered hold "er_"/"ee_" + 16 random hex digits: such an
    employer takes new workers (with new ids), its worker moves to a new employer keeping the id,
    and both are listed, read and separated as any."""
    import os

    from services.enrollment.domain.commands import EnrollEmployee, EnrollEmployer

    ctx = runtime.services["enrollment"].ctx
    old_employer, old_worker = "er_" + os.urandom(8).hex(), "ee_" + os.urandom(8).hex()
    monkeypatch.setattr(handlers, "new_employer_id", lambda: old_employer)
    monkeypatch.setattr(handlers, "new_employee_id", lambda: old_worker)
    made = handlers.enroll_employer(ctx, "tester", EnrollEmployer(unique.uscc(), "旧公司", "I6510", unique.region,
                                                                  date(2025, 7, 1)))
    hired = handlers.enroll_employee(ctx, "tester", EnrollEmployee(old_employer, zhang, "张三", date(2025, 7, 1)))
    assert (made["employer_id"], hired["employee_id"]) == (old_employer, old_worker)
    monkeypatch.undo()

    new_employer = enroll(api, unique.uscc(), unique.region)["employer_id"]
    newcomer = hire(api, old_employer, unique.id_number(date(1991, 4, 8)))
    assert newcomer.status_code == 201, newcomer.text
    new_worker = newcomer.json()["employee_id"]
    assert re.fullmatch(r"er_[0-9a-f]{31}", new_employer) and re.fullmatch(r"ee_[0-9a-f]{31}", new_worker)
    listed = api.get(f"/v1/employers/{old_employer}/employees").json()["items"]
    assert sorted(w["employee_id"] for w in listed) == sorted([old_worker, new_worker])
    moved = hire(api, new_employer, zhang, hired_on="2025-09-01")
    assert (moved.status_code, moved.json()["employee_id"]) == (201, old_worker)
    got = api.get(f"/v1/employers/{new_employer}/employees/{old_worker}").json()
    assert [j["employer_id"] for j in got["employments"]] == [old_employer, new_employer]
    left = api.post(f"/v1/employers/{old_employer}/employees/{old_worker}/separation",
                    json={"separated_on": "2025-12-31"})
    assert left.status_code == 200, left.text
    assert [e["type"] for e in events_of(api, old_worker)] == [
        "EmployeeEnrolled", "EmployeeEnrolled", "EmployeeSeparated"]


def test_each_bad_worker_input_is_a_422_naming_the_field_and_records_nothing(api, unique, zhang) -> None:  # noqa: ANN001
    soft = enroll(api, unique.uscc(), unique.region)
    eid = soft["employer_id"]
    bad_check = zhang[:17] + ("0" if zhang[17] != "0" else "1")
    body17 = f"{unique.region}19900230001"  # 30 February
    impossible = body17 + id_check_char(body17)
    young = unique.id_number(date(2009, 7, 2))
    cases = [
        ({"id_number": bad_check}, "id_number", "check character"),
        ({"id_number": impossible}, "id_number", "not a real date"),
        ({"id_number": young}, "hired_on", "sixteenth birthday"),
        ({"bank_account": {**ACCOUNT, "bank_code": "10258400001"}}, "bank_account.bank_code", "CNAPS"),
        ({"bank_account": {**ACCOUNT, "account_no": "62220202001122334X"}}, "bank_account.account_no", "digits"),
        ({"hired_on": "2025-02-29"}, "hired_on", ""),
    ]
    for change, field, words in cases:
        response = hire(api, eid, **{"id_number": zhang, "hired_on": "2025-07-01", **change})
        assert only_error(response) == field, (change, response.text)
        assert words in response.json()["errors"][0]["message"], response.text
    assert api.get(f"/v1/employers/{eid}/employees").json()["items"] == []
    assert hire(api, "er_0000000000000000", zhang).status_code == 404
    # on the sixteenth birthday the same young worker may be hired
    assert hire(api, eid, young, hired_on="2025-07-02").status_code == 201


def test_separation_rules(api, unique, zhang) -> None:  # noqa: ANN001
    eid = enroll(api, unique.uscc(), unique.region)["employer_id"]
    employee_id = hire(api, eid, zhang).json()["employee_id"]
    path = f"/v1/employers/{eid}/employees/{employee_id}/separation"
    assert only_error(api.post(path, json={"separated_on": "2025-06-30"})) == "separated_on"
    ok = api.post(path, json={"separated_on": "2025-12-31"})
    assert (ok.status_code, ok.json()["separated_on"]) == (200, "2025-12-31")
    assert api.post(path, json={"separated_on": "2026-01-31"}).status_code == 409
    other = enroll(api, unique.uscc(), unique.region, "C3311")["employer_id"]
    assert api.post(f"/v1/employers/{other}/employees/{employee_id}/separation",
                    json={"separated_on": "2026-01-31"}).status_code == 404
    # rehired at the same employer later: the same person, a new employment
    assert only_error(hire(api, eid, zhang, hired_on="2025-12-01")) == "hired_on"
    back = hire(api, eid, zhang, hired_on="2026-03-01")
    assert (back.status_code, back.json()["employee_id"]) == (201, employee_id)
    jobs = api.get(f"/v1/employers/{eid}/employees/{employee_id}").json()["employments"]
    assert [(j["hired_on"], j["separated_on"]) for j in jobs] == [("2025-07-01", "2025-12-31"), ("2026-03-01", None)]
    assert [e["type"] for e in events_of(api, employee_id)] == [
        "EmployeeEnrolled", "EmployeeSeparated", "EmployeeEnrolled"]


def test_bank_account_changes(api, unique, zhang) -> None:  # noqa: ANN001
    eid = enroll(api, unique.uscc(), unique.region)["employer_id"]
    employee_id = hire(api, eid, zhang).json()["employee_id"]
    path = f"/v1/employers/{eid}/employees/{employee_id}/bank-account"
    assert only_error(api.put(path, json={**ACCOUNT, "bank_code": "1025840000"})) == "bank_account.bank_code"
    r = api.put(path, json={**ACCOUNT, "changed_on": "2025-08-01"})
    assert (r.status_code, r.json()["changed"]) == (200, True)
    assert api.put(path, json={**ACCOUNT, "changed_on": "2025-08-02"}).json()["changed"] is False
    trail = events_of(api, employee_id)
    assert [e["type"] for e in trail] == ["EmployeeEnrolled", "BankAccountChanged"]
    assert trail[1]["payload"] == {"employee_id": employee_id, "bank_account": ACCOUNT, "changed_on": "2025-08-01"}


def test_a_hospital_sees_masked_numbers_the_agency_in_full_and_both_reads_are_logged(  # noqa: ANN001
        api, runtime, unique, zhang) -> None:
    eid = enroll(api, unique.uscc(), unique.region)["employer_id"]
    employee_id = hire(api, eid, zhang, bank_account=ACCOUNT).json()["employee_id"]
    hospital = api.post("/v1/clients", json={"name": "Hospital", "role": "hospital", "hospital_id": "H1"}).json()
    bank = api.post("/v1/clients", json={"name": "Bank", "role": "bank", "bank_code": "102584000011"}).json()
    path = f"/v1/employers/{eid}/employees/{employee_id}"
    masked = api.get(path, headers=bearer(hospital["token"])).json()
    assert masked["id_number"] == f"{unique.region}********{zhang[-4:]}"
    assert masked["bank_account"]["account_no"] == "6222***********3445"
    full = api.get(path).json()
    assert (full["id_number"], full["bank_account"]["account_no"]) == (zhang, ACCOUNT["account_no"])
    assert api.get(path, headers=bearer(bank["token"])).status_code == 403
    with runtime.services["enrollment"].ctx.session_factory() as session:
        reads = session.execute(select(access_log.c.client_id, access_log.c.method, access_log.c.path,
                                       access_log.c.subject_id).order_by(access_log.c.id)).all()
    assert [tuple(r) for r in reads] == [
        (hospital["client_id"], "GET", path, employee_id), ("env-agency", "GET", path, employee_id)]


# ------------------------------------------------------------------------------- the contract

def contract_fields() -> dict[str, list[str]]:
    """The enrollment table of docs/events.md: event type → the payload fields it lists."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    section = text.split("## enrollment", 1)[1].split("\n## ", 1)[0]
    fields: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("type", "---"):
            continue
        listed = re.sub(r"\([^)]*\)", "", cells[2])  # drop the explanations in brackets
        listed = re.sub(r"`[^`]*`", "", listed)
        fields[cells[0]] = [f.strip() for f in listed.split(",") if f.strip()]
    return fields


def test_every_event_written_validates_and_carries_the_contract_fields(api, runtime, unique, zhang) -> None:  # noqa: ANN001
    contract = contract_fields()
    assert set(contract) == {"PolicyPublished", "EmployerEnrolled", "EmployerChanged", "EmployeeEnrolled",
                             "EmployeeSeparated", "EmployeesImported", "BankAccountChanged", "PoolsConsolidated"}
    assert contract["EmployerEnrolled"][-1] == "policy_ref" and "region" in contract["EmployerChanged"]
    publish_shenzhen(api, unique.region)
    eid = enroll(api, unique.uscc(), unique.region)["employer_id"]
    api.post(f"/v1/employers/{eid}/status", json={"status": "suspended", "changed_on": "2025-08-01"})
    employee_id = hire(api, eid, zhang, bank_account=ACCOUNT).json()["employee_id"]
    api.put(f"/v1/employers/{eid}/employees/{employee_id}/bank-account",
            json={**ACCOUNT, "holder": "张三丰", "changed_on": "2025-08-01"})
    api.post(f"/v1/employers/{eid}/employees/{employee_id}/separation", json={"separated_on": "2025-09-30"})
    pool = "65" + unique.region[2:]  # a pool of this test alone, consolidated into its region
    consolidation = api.post("/v1/pooling/consolidations", json={
        "into_region": unique.region, "from_regions": [pool], "effective_from": "2026-01-01"}).json()["consolidation_id"]
    envelopes = [Envelope.model_validate(e) for agg in ("policy-000000", f"policy-{unique.region}", eid, employee_id,
                                                        "pooling")
                 for e in events_of(api, agg)
                 if agg != "pooling" or e["payload"]["consolidation_id"] == consolidation]
    assert {e.type for e in envelopes} == set(contract) - {"EmployeesImported"}  # an import's: tests/imports
    for envelope in envelopes:
        REGISTRY.payload(envelope)  # validates against the payload model
        missing = [f for f in contract[envelope.type] if f not in envelope.payload]
        assert not missing, (envelope.type, missing)
        assert envelope.aggregate_type in ("policy", "employer", "worker", "pooling")


# ------------------------------------------------------------------------------- concurrency

def test_concurrent_duplicates_make_one_employer_and_one_worker(api, runtime, unique, zhang) -> None:  # noqa: ANN001
    from concurrent.futures import ThreadPoolExecutor

    from services.enrollment.domain.commands import EnrollEmployee, EnrollEmployer
    from services.enrollment.domain.model import Conflict

    ctx = runtime.services["enrollment"].ctx

    def attempt(fn, cmd):  # noqa: ANN001, ANN202
        try:
            return fn(ctx, "racer", cmd)
        except Conflict as exc:
            return exc

    cmd = EnrollEmployer(unique.uscc(), "racer", "I6510", unique.region, date(2025, 7, 1))
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: attempt(handlers.enroll_employer, cmd), range(4)))
    winners = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1
    assert all(o.extra["employer_id"] == winners[0]["employer_id"] for o in outcomes if isinstance(o, Conflict))
    hire_cmd = EnrollEmployee(winners[0]["employer_id"], zhang, "张三", date(2025, 7, 1))
    with ThreadPoolExecutor(4) as pool:
        hires = list(pool.map(lambda _: attempt(handlers.enroll_employee, hire_cmd), range(4)))
    assert len([h for h in hires if isinstance(h, dict)]) == 1
    assert len(api.get("/v1/employers", params={"region": unique.region}).json()["items"]) == 1
    assert len(api.get(f"/v1/employers/{winners[0]['employer_id']}/employees").json()["items"]) == 1


def test_the_openapi_document_describes_the_enrollment_routes(api) -> None:  # noqa: ANN001
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/v1/policies/{region}/{effective_from}", "/v1/policies/{region}", "/v1/employers",
                 "/v1/employers/{employer_id}", "/v1/employers/{employer_id}/employees",
                 "/v1/employers/{employer_id}/employees/{employee_id}",
                 "/v1/employers/{employer_id}/employees/{employee_id}/bank-account",
                 "/v1/employers/{employer_id}/employees/{employee_id}/separation"):
        assert path in paths, path


def test_an_employers_employees_page_by_page_are_its_employments_in_order(api, unique) -> None:  # noqa: ANN001
    """`GET /v1/employers/{id}/employees` pages by its cursor: every employment once, in the order
    they were recorded, whatever another employer's hires in between (ix_employments_employer)."""
    employer, other = (enroll(api, unique.uscc(), unique.region)["employer_id"] for _ in range(2))
    hired = []
    for n in range(5):
        response = hire(api, employer, unique.id_number(date(1990, 1, 1 + n)))
        assert response.status_code == 201, response.text
        hired.append(response.json()["employee_id"])
        assert hire(api, other, unique.id_number(date(1991, 1, 1 + n))).status_code == 201
    listed, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/employers/{employer}/employees", params=params).json()
        assert len(page["items"]) <= 2
        listed += [w["employee_id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == hired
