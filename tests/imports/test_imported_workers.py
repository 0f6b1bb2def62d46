"""Workers an import enrolls a thousand to an `EmployeesImported` are workers like any other: the
REST reads answer them as the per-worker path's, the audit trail names each one's import and row,
and a later command on one of them is the worker's own next event, with its own concurrency."""
from __future__ import annotations

from datetime import date

import pytest

from libs.db import writing
from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.policy import load_national_default
from services.enrollment.read_models import read_models_hash, rebuild_read_models
from tests.enrollment.test_enrollment_api import contract_fields

CSV = {"Content-Type": "text/csv"}
HEADER = "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"


def post(api, kind: str, *lines: str) -> dict:  # noqa: ANN001
    r = api.post(f"/v1/imports/{kind}", content=("\n".join(lines) + "\n").encode(), headers=CSV)
    assert r.status_code == 201, r.text
    return r.json()


def go_live(api, unique) -> tuple[str, str, list[str], list[str]]:  # noqa: ANN001
    """Two employers, then three workers in one request (the chunk path: new, still employed) and
    one who left (its own events); the employers' ids, the import's, the workers' ID numbers."""
    region, tag = unique.region, f"IW{unique.n}"
    policy = load_national_default().model_dump(mode="json")
    assert api.put(f"/v1/policies/{region}/2016-01-01", json=policy).status_code == 201
    post(api, "employers", "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step",
         f"{tag}-E1,{unique.uscc()},Pearl River Metalworks,C3311,{region},2016-01-01,",
         f"{tag}-E2,{unique.uscc()},Lotus Software,I6510,{region},2016-01-01,")
    people = [unique.id_number(date(1975 + n, 5, 17), 11 + n) for n in range(4)]
    summary = post(api, "employees", HEADER,
                   f"{tag}-W1,{tag}-E1,{people[0]},Li Lei,2016-02-01,,102584000001,6222020200000000011,Li Lei",
                   f"{tag}-W2,{tag}-E1,{people[1]},Wang Wu,2016-03-01,,,,",
                   f"{tag}-W3,{tag}-E1,{people[2]},Zhao Min,2016-02-01,2018-06-30,,,",
                   f"{tag}-W4,{tag}-E1,{people[3]},Han Mei,2016-04-01,,102584000001,6222020200000000014,Han Mei")
    assert (summary["accepted"], summary["rejected"]) == (4, 0), summary["errors"]
    employers = {e["name"]: e["employer_id"] for e in api.get("/v1/employers", params={"region": region}).json()["items"]}
    return employers["Pearl River Metalworks"], employers["Lotus Software"], summary["import_id"], people


pytestmark = pytest.mark.both_runtimes


def by_id_number(api, employer_id: str) -> dict[str, str]:  # noqa: ANN001
    """The employer's workers' ids by their ID numbers."""
    ids = [w["employee_id"] for w in api.get(f"/v1/employers/{employer_id}/employees").json()["items"]]
    return {api.get(f"/v1/employers/{employer_id}/employees/{i}").json()["id_number"]: i for i in ids}


def test_an_imported_worker_reads_and_changes_as_any_worker(api, unique) -> None:  # noqa: ANN001
    e1, e2, import_id, people = go_live(api, unique)
    staff = by_id_number(api, e1)
    assert len(staff) == 4
    li = staff[people[0]]

    one = api.get(f"/v1/employers/{e1}/employees/{li}")
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["id_number"], body["name"], body["birth_date"]) == (people[0], "Li Lei", "1975-05-17")
    assert [(j["employer_id"], j["hired_on"], j["separated_on"]) for j in body["employments"]] == [
        (e1, "2016-02-01", None)]
    assert body["bank_account"] == {"bank_code": "102584000001", "account_no": "6222020200000000011",
                                    "holder": "Li Lei"}

    # the audit trail: its enrollment, naming the import and row, as the per-worker path's first event
    [enrolled] = api.get("/v1/events", params={"aggregate_id": li}).json()["items"]
    assert (enrolled["type"], enrolled["sequence"], enrolled["aggregate_type"]) == ("EmployeeEnrolled", 1, "worker")
    assert enrolled["payload"]["source"] == {"import_id": import_id, "kind": "employees", "row": 2,
                                             "legacy_id": f"IW{unique.n}-W1"}
    assert enrolled["payload"]["hired_on"] == "2016-02-01" and enrolled["occurred_on"] == "2016-02-01"

    # the chunk itself: one EmployeesImported of the three still employed, with the contract's fields
    [chunk] = api.get("/v1/events", params={"aggregate_id": f"workers-{import_id}-2"}).json()["items"]
    assert (chunk["type"], chunk["aggregate_type"]) == ("EmployeesImported", "workers_import")
    REGISTRY.payload(Envelope.model_validate(chunk))
    assert not [f for f in contract_fields()["EmployeesImported"] if f not in chunk["payload"]]
    assert chunk["payload"]["rows"] == [2, 3, 5] and chunk["payload"]["employee_ids"][0] == li
    assert chunk["payload"]["bank_codes"] == ["102584000001", None, "102584000001"]

    # a later command is the worker's event 2; a repeated one meets the state the chunk gave it
    r = api.post(f"/v1/employers/{e1}/employees/{li}/separation", json={"separated_on": "2020-12-31"})
    assert r.status_code in (200, 201), r.text
    again = api.post(f"/v1/employers/{e1}/employees/{li}/separation", json={"separated_on": "2021-01-31"})
    assert again.status_code == 409, again.text
    trail = api.get("/v1/events", params={"aggregate_id": li}).json()["items"]
    assert [(e["type"], e["sequence"]) for e in trail] == [("EmployeeEnrolled", 1), ("EmployeeSeparated", 2)]
    assert [e["sequence"] for e in api.get("/v1/events", params={"aggregate_id": li, "cursor": 1}).json()["items"]] == [2]

    # the same person hired by another employer: the same worker, its event 3 (its birth date from the chunk)
    rehired = api.post(f"/v1/employers/{e2}/employees", json={"id_number": people[0], "name": "Li Lei",
                                                                "hired_on": "2021-03-01"})
    assert rehired.status_code == 201, rehired.text
    assert (rehired.json()["employee_id"], rehired.json()["new_worker"]) == (li, False)
    wang = staff[people[1]]
    account = {"bank_code": "102584000001", "account_no": "6222020200000000099", "holder": "Wang Wu"}
    changed = api.put(f"/v1/employers/{e1}/employees/{wang}/bank-account", json={**account, "changed_on": "2021-01-01"})
    assert changed.status_code in (200, 201), changed.text
    assert api.get(f"/v1/employers/{e1}/employees/{wang}").json()["bank_account"] == account
    trail = api.get("/v1/events", params={"aggregate_id": li}).json()["items"]
    assert [(e["type"], e["sequence"]) for e in trail] == [
        ("EmployeeEnrolled", 1), ("EmployeeSeparated", 2), ("EmployeeEnrolled", 3)]
    assert trail[2]["payload"]["source"] is None

    # the one who left was recorded by its own events, as ever
    zhao = staff[people[2]]
    trail = api.get("/v1/events", params={"aggregate_id": zhao}).json()["items"]
    assert [(e["type"], e["sequence"]) for e in trail] == [("EmployeeEnrolled", 1), ("EmployeeSeparated", 2)]


def test_read_models_rebuilt_with_imported_workers_are_the_same(api, runtime, unique) -> None:  # noqa: ANN001
    e1, _e2, _import_id, people = go_live(api, unique)
    li = by_id_number(api, e1)[people[0]]
    assert api.post(f"/v1/employers/{e1}/employees/{li}/separation",
                    json={"separated_on": "2020-12-31"}).status_code in (200, 201)
    sessions = runtime.services["enrollment"].ctx.session_factory
    with sessions() as s:
        before = read_models_hash(s)
    with writing(sessions) as s:
        rebuild_read_models(s)
    with sessions() as s:
        assert read_models_hash(s) == before


def test_one_list_of_the_chunks_columns() -> None:
    """EmployeesImported is declared, recorded (a NewHire per worker) and read (libs.imports.bulk)
    by one list of its columns, in one order."""
    from libs.imports.bulk import WORKER_COLUMNS
    from services.enrollment.domain.events import EmployeesImported
    from services.enrollment.domain.model import NewHire

    assert tuple(n for n in EmployeesImported.model_fields if n != "import_id") == WORKER_COLUMNS
    assert tuple(f + "s" if f != "sex" else "sexes" for f in NewHire._fields) == WORKER_COLUMNS
