"""The enrollment read tables hold nothing the events do not: rebuilt from the event store,
they come out the same, row for row."""
from __future__ import annotations

from datetime import date

from libs.db import writing
from libs.identifiers import make_id_number, make_uscc
from services.enrollment.read_models import read_models_hash, rebuild_read_models


def test_read_models_rebuilt_from_the_events_are_the_same(api, runtime) -> None:  # noqa: ANN001
    employer_ids = []
    for n in range(3):
        r = api.post("/v1/employers", json={"uscc": make_uscc(f"9144030077{n:06d}"), "name": f"Rebuild {n}",
                                              "industry_code": "C3311", "region": "440300", "enrolled_on": "2025-01-01"})
        assert r.status_code == 201, r.text
        employer_ids.append(r.json()["employer_id"])
    assert api.post(f"/v1/employers/{employer_ids[2]}/status",
                    json={"status": "suspended", "changed_on": "2025-06-01"}).status_code in (200, 201)
    mover = make_id_number("440304", date(1988, 4, 2), 317)
    account = {"bank_code": "102584000001", "account_no": "6222020000001234", "holder": "李雷"}
    first = api.post(f"/v1/employers/{employer_ids[0]}/employees",
                     json={"id_number": mover, "name": "李雷", "hired_on": "2025-02-01", "bank_account": account})
    employee_id = first.json()["employee_id"]
    assert api.post(f"/v1/employers/{employer_ids[0]}/employees/{employee_id}/separation",
                    json={"separated_on": "2025-05-31"}).status_code in (200, 201)
    assert api.post(f"/v1/employers/{employer_ids[1]}/employees",
                    json={"id_number": mover, "name": "李雷", "hired_on": "2025-06-01"}).json()["employee_id"] == employee_id
    assert api.put(f"/v1/employers/{employer_ids[1]}/employees/{employee_id}/bank-account",
                   json={**account, "account_no": "6222020000009999", "changed_on": "2025-07-01"}).status_code in (200, 201)
    api.post(f"/v1/employers/{employer_ids[1]}/employees",
             json={"id_number": make_id_number("440304", date(1995, 9, 9), 402), "name": "韩梅梅", "hired_on": "2025-03-01"})

    sessions = runtime.services["enrollment"].ctx.session_factory
    with sessions() as s:
        before = read_models_hash(s)
    with writing(sessions) as s:
        rebuilt = rebuild_read_models(s)
    with sessions() as s:
        after = read_models_hash(s)
    assert rebuilt >= 3 + 2 and after == before
