"""The bulk route buys nothing by skipping work: the same reports sent one by one to
POST /v1/wage-reports (system A) and all at once to POST /v1/wage-reports/bulk (system B, its
batches made small so that a correction falls both within a batch and across two) leave the same
events (types, versions, payloads), outbox rows and log records, books (postings), read models
(levy's reports and wage history, the claims service's wage history), account statements with
their explanations, and refuse the same reports naming the same fields.

On SQLite and on PostgreSQL (the embedded runtime with each service's database there: COPY and
the PostgreSQL append are the paths taken).

Identifiers minted at random (employers, employees, reports) are compared by what they stand
for: the n-th employer, the worker's ID number, the report's employer, month and place.
"""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from libs.identifiers import make_id_number, make_uscc
from libs.settings import SERVICE_NAMES
from services.claims.tables import claims_wage_reports, wages
from services.levy import bulk
from services.levy.tables import postings, wage_history, wage_reports
from tests.conftest import AGENCY_TOKEN, Api, embedded_settings, fresh_data_dir

REGION = "440305"
# Three employers; (hired_on, separated_on) of each worker.
STAFF = {
    0: [("2025-07-01", None), ("2025-07-01", None), ("2025-08-10", None), ("2025-07-01", "2025-07-20")],
    1: [("2025-07-01", None), ("2025-07-01", None)],
    2: [("2025-07-01", None), ("2025-07-01", None), ("2025-07-01", None)],
}


def id_number(e: int, w: int) -> str:
    return make_id_number(REGION, date(1980 + e, 1 + w, 7), 10 * e + w)


def reports() -> list[dict]:
    """In order; `None` wages leave the worker out. Refused: a wage with three places, a worker
    not employed that month, a report before the employer's last payment."""
    def rep(e: int, period: str, on: str, wages: list[str | None]) -> dict:
        return {"employer_id": e, "period": period, "reported_on": on,
                "lines": [{"id_number": id_number(e, w), "wage": v} for w, v in enumerate(wages) if v is not None]}
    return [
        rep(0, "2025-07", "2025-08-05", ["8123.45", "6000.00", None, "3000"]),
        rep(1, "2025-07", "2025-08-06", ["5000.10", "7000.99"]),
        rep(0, "2025-07", "2025-08-10", ["8123.45", "6000.00", None, "3500.00"]),  # a correction, same batch
        rep(2, "2025-07", "2025-08-07", ["4000.00", "4000.01", "4000.02"]),
        rep(1, "2025-07", "2025-08-12", ["5000.10", "7000.995"]),  # refused: three places
        rep(0, "2025-08", "2025-09-05", ["8000.00", "6000.00", "5000.00"]),
        rep(1, "2025-08", "2025-09-05", ["5100.00", "7100.00"]),  # refused: before its payment of 9-06
        rep(0, "2025-07", "2025-09-06", ["8123.45", "6000.00", None, "3600.00"]),  # a correction across batches
        rep(2, "2025-08", "2025-09-08", ["4100.00", None, "4100.00"]),
        rep(0, "2025-09", "2025-10-05", ["8000.00", "6000.00", "5000.00", "1.00"]),  # refused: D left in July
        rep(1, "2025-08", "2025-09-09", ["5100.00", "7100.00"]),
    ]


def build(tmp: Path, databases: dict[str, str]) -> tuple:
    from libs.runtime.embedded import EmbeddedRuntime

    runtime = EmbeddedRuntime(embedded_settings(tmp).model_copy(update=databases))
    api = Api(runtime.app(), headers={"Authorization": f"Bearer {AGENCY_TOKEN}"})
    employers = []
    for e, staff in STAFF.items():
        r = api.post("/v1/employers", json={"uscc": make_uscc(f"91440300{e:08d}"), "name": f"深圳测试{e}有限公司",
                                            "industry_code": "C3311" if e != 2 else "B0610", "region": REGION,
                                            "enrolled_on": "2025-07-01"})
        assert r.status_code == 201, r.text
        eid = r.json()["employer_id"]
        employers.append(eid)
        for w, (hired, left) in enumerate(staff):
            r = api.post(f"/v1/employers/{eid}/employees",
                         json={"id_number": id_number(e, w), "name": "张三", "hired_on": hired})
            assert r.status_code == 201, r.text
            if left:
                r = api.post(f"/v1/employers/{eid}/employees/{r.json()['employee_id']}/separation",
                             json={"separated_on": left})
                assert r.status_code in (200, 201), r.text
    # employer 2 changes class from 20 August (charged by day); employer 1 pays on 6 September
    r = api.post(f"/v1/employers/{employers[2]}/changes", json={"changed_on": "2025-08-20", "industry_code": "C3311"})
    assert r.status_code in (200, 201), r.text
    return runtime, api, employers


def body(employers: list[str]) -> list[dict]:
    return [{**r, "employer_id": employers[r["employer_id"]]} for r in reports()]


def pay(api: Api, employers: list[str]) -> None:
    r = api.post("/v1/contribution-payments", json={"employer_id": employers[1], "amount": "100.00",
                                                    "paid_on": "2025-09-06"})
    assert r.status_code == 201, r.text


def snapshot(runtime, api: Api, employers: list[str]) -> dict:  # noqa: ANN001
    levy = runtime.services["levy"].ctx.session_factory
    claims = runtime.services["claims"].ctx.session_factory
    names = {eid: f"E{i}" for i, eid in enumerate(employers)}
    with levy() as s:
        reps = s.execute(select(wage_reports).order_by(wage_reports.c.recorded_at, wage_reports.c.report_id)).all()
        for i, r in enumerate(reps):
            names[r.report_id] = f"R{i}:{names[r.employer_id]}:{r.period}"
        for i, r in enumerate(s.execute(text("SELECT payment_id FROM contribution_payments ORDER BY paid_on"))):
            names[r.payment_id] = f"P{i}"
        for r in s.execute(text("SELECT employee_id, id_number FROM levy_employments")):
            names[r.employee_id] = f"W{r.id_number}"
        events = [dict(r._mapping) for r in s.execute(text(
            "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.type, e.schema_version, e.occurred_on, e.actor, "
            "e.payload, e.topic, e.sent_at IS NOT NULL AS sent FROM events e "
            "WHERE e.type IN ('WageReported', 'ContributionPaid', "
            "'ContributionReassessed') ORDER BY e.aggregate_id, e.sequence"))]
        books = [{k: v for k, v in r._mapping.items() if k != "id"}  # a surrogate key, renumbered by each rebuild
                 for r in s.execute(select(postings).where(postings.c.source == "levy"))]
        levy_reports = [{k: v for k, v in r._mapping.items() if k != "recorded_at"} for r in reps]
        history = [dict(r._mapping) for r in s.execute(select(wage_history))]
    with claims() as s:
        claims_rows = [[dict(r._mapping) for r in s.execute(select(t))]
                       for t in (claims_wage_reports, wages)]
    accounts = [api.get(f"/v1/employers/{eid}/account", params={"on": "2025-11-30"}).json() for eid in employers]
    with runtime.log.engine.connect() as c:  # what the relay put on the levy's topic
        log = [{k: v for k, v in json.loads(r.value).items() if k in ("type", "aggregate_id", "sequence", "payload")}
               for r in c.execute(text("SELECT topic, value FROM log_records ORDER BY topic, \"offset\""))
               if r.topic.endswith("levy")]
    found = {"events": events, "books": books, "levy_reports": levy_reports, "history": history,
             "claims": claims_rows, "accounts": accounts, "log": log}
    dumped = json.dumps(found, default=str, ensure_ascii=False)
    for raw in sorted(names, key=len, reverse=True):
        dumped = dumped.replace(raw, names[raw])
    canon = json.loads(dumped)
    for key in ("events", "books", "history", "log"):
        canon[key] = sorted(canon[key], key=lambda r: json.dumps(r, sort_keys=True))
    for r in canon["claims"][0]:  # a report's lines, sorted by worker id: here by the names given them
        r["lines"] = sorted(json.loads(r["lines"]))
    canon["claims"] = [sorted(rows, key=lambda r: json.dumps(r, sort_keys=True)) for rows in canon["claims"]]
    return canon


@pytest.fixture(params=["sqlite", "postgres"])
def databases(request):  # noqa: ANN001, ANN201
    """system → its services' database URLs: none (SQLite files) or fresh PostgreSQL databases."""
    if request.param == "sqlite":
        return lambda system: {}
    server = request.getfixturevalue("postgres")
    return lambda system: {f"{service}_db_url": server.fresh_database(f"il_bulk_eq_{os.getpid()}_{system}_{service}")
                           for service in SERVICE_NAMES}


@pytest.fixture
def small_batches(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(bulk, "BATCH_REPORTS", 3)


def test_the_bulk_route_leaves_what_the_ordinary_route_leaves(tmp_path: Path, small_batches, databases,  # noqa: ANN001
                                                              migrated_data_dir: Path) -> None:
    # Each system starts on a copy of the session's migrated files (on PostgreSQL the services'
    # copies go unused: their URLs name the fresh databases, which the runtime migrates).
    one_rt, one, one_employers = build(fresh_data_dir(migrated_data_dir, tmp_path / "one"), databases("one"))
    many_rt, many, many_employers = build(fresh_data_dir(migrated_data_dir, tmp_path / "many"), databases("many"))
    try:
        refused_one = []
        for k, r in enumerate(body(one_employers)):
            if k == 6:
                pay(one, one_employers)
            answer = one.post("/v1/wage-reports", json=r)
            if answer.status_code != 201:
                assert answer.status_code == 422, answer.text
                refused_one.append((k, sorted(e["field"] for e in answer.json()["errors"])))

        reps = body(many_employers)
        first = many.post("/v1/wage-reports/bulk", json={"reports": reps[:6]})
        assert first.status_code == 201, first.text
        pay(many, many_employers)
        second = many.post("/v1/wage-reports/bulk", json={"reports": reps[6:]})
        assert second.status_code == 201, second.text
        refused_many = [(k + off, sorted(e["field"].split(".", 2)[2] for e in r["errors"]))
                        for off, answer in ((0, first), (6, second)) for r in answer.json()["refused"]
                        for k in [r["report"]]]
        assert refused_one == refused_many == [(4, ["lines.1.wage"]), (6, ["reported_on"]),
                                               (9, ["lines.3.id_number"])]
        assert (first.json()["reports"], second.json()["reports"]) == (5, 3)
        assert first.json()["lines"] == 3 + 2 + 3 + 3 + 3

        a, b = snapshot(one_rt, one, one_employers), snapshot(many_rt, many, many_employers)
        assert a["events"] and a["books"] and a["claims"][1]
        for key in a:
            assert a[key] == b[key], key
        # a worked figure: employer 0's July as corrected twice, 8123.45 + 6000.00 + 3600.00 = 17723.45
        july = [r for r in b["levy_reports"] if r["report_id"].endswith(":E0:2025-07") and r["superseded_by"] is None]
        assert [r["payroll_fen"] for r in july] == [1_772_345]
    finally:
        one.close()
        many.close()
        one_rt.close()
        many_rt.close()
