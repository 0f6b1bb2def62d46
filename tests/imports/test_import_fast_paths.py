"""The go-live's fast paths record what the ordinary path records. The same book (employers,
employees, accounts, claims, dependents: bad rows, an employer with several periods, deaths with
dependents, a rejected claim) is imported into two fresh embedded systems: once as the imports
run (each kind's chunk of new aggregates in one append, projections folding a batch in memory),
once with every fast path switched off (each row in its own savepoint and append — a claim's
dependents: each claim —, each event projected one by one). Every table of every service then holds the same rows, once the ids each
run draws afresh (event, claim, report and line ids, the clock) are named by the old system's keys,
and the summaries and the first payment run are equal. The workers the fast path records a
thousand to an EmployeesImported are compared as the EmployeeEnrolled each stands for (what every
consumer reads, `libs.imports.bulk.enrollments`), and where each worker's enrollment is kept
(`imported_workers`) is the fast path's own bookkeeping."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from libs.events.consumer import Projection
from libs.events.envelope import envelope_of
from libs.imports.bulk import enrollments
from libs.policy import load_national_default
from libs.runtime.embedded import EmbeddedRuntime
from tests.conftest import AGENCY_TOKEN, embedded_settings, fresh_data_dir

REGION = "440300"
CSV = {"Content-Type": "text/csv"}
# The bookkeeping of the spine itself (positions, marks, outboxes) differs by how it was batched.
SPINE = {"outbox", "processed_events", "consumer_positions", "dead_letters", "idempotency_keys", "alembic_version",
         "log_records", "relay_positions", "imported_workers"}
# Values each run draws afresh, whatever the path: ids made of random bits or of the clock.
VOLATILE = {"event_id", "recorded_at", "line_id", "entry_id", "known_at", "adjusts", "source_event_ids_json",
            "created_at", "updated_at", "rendered_at", "document_id", "verification_code", "source_event_id",
            "causation_id", "correlation_id", "position", "log_offset", "digest", "requested_at", "knowledge",
            "id"}  # a surrogate key counts insertions, in whatever order the random ids sort
RANDOM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[a-z]+_[0-9a-f]{16,32}\b"
                    r"|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?")  # and the clock's moments


def this_month() -> str:
    return datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")


def months_back(month: str, n: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def book() -> list[tuple[str, str]]:
    from libs.identifiers import make_id_number, make_uscc
    from datetime import date

    month = this_month()
    paid_through = months_back(month, 1)
    employers = ["legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step"] + [
        f"E{e},{make_uscc(f'91{REGION}{e:08d}')},Employer {e},C3311,{REGION},2016-01-01," for e in range(3)]
    employees = ["legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"] + [
        f"W{w},E{w % 3},{make_id_number(REGION, date(1970 + w, 1, 1), w + 1)},Worker {w},2016-02-01,,"
        f"102584000001,62220202{w:011d},Worker {w}" for w in range(8)]
    p1, p2, p3 = months_back(month, 4), months_back(month, 3), months_back(month, 2)
    accounts = ["legacy_id,employer_legacy_id,period,payroll,contribution,paid,paid_on",
                f"A1,E0,{p1},100000.00,1080.00,400.00,{p1}-28",  # one employer, three periods in one chunk
                f"A2,E0,{p2},100000.00,1080.00,,",
                f"A3,E0,{p3},100000.00,1080.00,1080.00,{p3}-28",
                f"A4,E1,{p3},90000.00,810.00,100.00,{p3}-20",
                f"A5,E1,{p3},90000.00,810.00,,",  # the same month twice: the second is refused
                f"A6,E2,{p2},50000.00,2000.00,3000.00,{p2}-01"]  # paid more than assessed: rejected
    claims = ["legacy_id,employee_legacy_id,employer_legacy_id,kind,occurred_on,applied_on,decision,decided_on,"
              "grade,care_level,concluded_on,insured_wage,terminated_on,died_on,one_off_paid,paid_through",
              f"C1,W0,E0,accident,2018-03-10,2018-03-20,recognized,2018-04-20,3,partial,2019-01-15,6000.00,,,true,"
              f"{paid_through}",
              f"C2,W1,E1,accident,2017-06-01,2017-06-05,recognized,2017-07-01,2,none,2018-02-01,5000.00,,2024-06-01,"
              f"true,{paid_through}",
              f"C3,W2,E2,accident,2019-04-02,2019-04-10,recognized,2019-05-10,7,none,2019-12-01,7000.00,2020-05-01,,"
              f"false,{paid_through}",
              "C4,W3,E0,accident,2020-01-01,2020-01-05,rejected,2020-02-01,,,,,,,false,",
              f"C5,W4,E1,occupational_disease,2019-01-01,2019-01-05,deemed,2019-02-01,5,full,2019-09-01,4000.00,,,"
              f"false,{months_back(month, 3)}",
              "C6,W9,E1,accident,2020-01-01,2020-01-05,recognized,2020-02-01,,,,5000.00,,,false,",  # no such worker
              f"C7,W5,E2,death,2021-01-01,2021-01-05,recognized,2021-02-01,,,,5500.00,,2021-01-01,true,"
              f"{paid_through}"]
    dependents = ["legacy_id,claim_legacy_id,id_number,name,relation,born_on,orphan_or_lone_elder,bank_code,"
                  "account_no,holder",
                  f"D1,C2,{make_id_number('110101', date(1978, 4, 4), 42)},Spouse,spouse,1978-04-04,false,"
                  "102584000001,6222020300000000021,Spouse",
                  f"D2,C2,{make_id_number('110101', date(2015, 3, 1), 31)},Child,child,2015-03-01,false,,,",
                  f"D3,C7,{make_id_number('110101', date(1950, 3, 1), 7)},Parent,parent,1950-03-01,true,,,",
                  f"D4,C9,{make_id_number('110101', date(2015, 3, 1), 31)},Child,child,2015-03-01,false,,,",
                  f"D5,C7,{make_id_number('110101', date(2012, 5, 1), 9)},Kid,cousin,2012-05-01,false,,,"]
    return [("employers", employers), ("employees", employees), ("accounts", accounts), ("claims", claims),
            ("dependents", dependents)]


def ordinary_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fast path off: each row alone (as when a chunk meets a concurrent record), each
    event projected alone."""
    import services.claims.imports as claims_imports
    import services.enrollment.imports as enrollment_imports
    import services.levy.imports as levy_imports
    import services.payments.entitlements.projection as entitlements
    from services.claims.documents.projection import DocumentsProjection
    from services.claims.projections import ClaimsListProjection
    from services.levy.projections import LevyClaimsProjection
    from services.payments.payouts.projection import PayoutFactsProjection

    for module in (claims_imports, enrollment_imports, levy_imports):
        monkeypatch.setattr(module, "in_one_savepoint", lambda _uow, _write: False)
    monkeypatch.setattr(ClaimsListProjection, "handle_batch", Projection.handle_batch)
    monkeypatch.setattr(PayoutFactsProjection, "handle_batch", Projection.handle_batch)
    monkeypatch.setattr(LevyClaimsProjection, "handle_batch", Projection.handle_batch)
    monkeypatch.setattr(DocumentsProjection, "_fold_migrated", lambda self, session, run: [
        self.handle(session, e) for e in run])
    # each claim alone, its stored lines always read (`unseen` not believed)
    monkeypatch.setattr(entitlements, "materialize_claims", lambda session, claim_ids, now, unseen=(): sum(
        entitlements.materialize_claim(session, claim_id, now) for claim_id in claim_ids))


def go_live(folder: Path) -> tuple[dict, dict]:
    rt = EmbeddedRuntime(embedded_settings(folder))
    try:
        with TestClient(rt.app(), headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}) as api:
            policy = load_national_default().model_dump(mode="json")
            policy.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00"})
            assert api.put(f"/v1/policies/{REGION}/2016-01-01", json=policy).status_code == 201
            summaries = {}
            for kind, lines in book():
                r = api.post(f"/v1/imports/{kind}", content=("\n".join(lines) + "\n").encode(), headers=CSV)
                assert r.status_code == 201, r.text
                s = r.json()
                summaries[kind] = json.loads(RANDOM.sub("<random>", json.dumps(
                    {k: s[k] for k in ("rows", "accepted", "skipped", "rejected", "errors", "totals")})))
            run = api.post("/v1/payment-runs", json={"region": REGION, "period": this_month()})
            assert run.status_code == 201, run.text
            summaries["payment_run"] = {k: run.json()[k] for k in ("total", "count")}
        return summaries, tables(rt)
    finally:
        rt.close()


def tables(rt: EmbeddedRuntime) -> dict:
    """Every table of every service, its rows with the fresh ids named by the old system's keys."""
    names: dict[str, str] = {}
    raw: dict[str, list[dict]] = {}
    for service, wired in rt.services.items():
        engine = wired.ctx.engine
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                if table in SPINE or table.endswith("_shadow"):
                    continue
                result = conn.exec_driver_sql(f'SELECT * FROM "{table}"')
                raw[f"{service}.{table}"] = [row for r in result for row in each_worker(dict(zip(result.keys(), r)))]
    for key, rows in raw.items():  # the aggregates an import made, by the row that made them
        for r in rows:
            if key.endswith(".events"):
                source = json.loads(r["payload"]).get("source")
                if source and r["sequence"] == 1:
                    names.setdefault(r["aggregate_id"], f"<{source['kind']}:{source['legacy_id']}>")
            if key.endswith(".import_rows") and r["ref_id"]:
                names.setdefault(r["ref_id"], f"<{r['kind']}:{r['legacy_id']}>")
            if key.endswith(".imports"):
                names.setdefault(r["import_id"], f"<import:{r['kind']}>")
    pattern = re.compile("|".join(re.escape(k) for k in sorted(names, key=len, reverse=True)))

    def clean(value):  # noqa: ANN001, ANN202
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            if value[:1] in "[{":
                try:
                    return clean(json.loads(value))
                except ValueError:
                    pass
            return RANDOM.sub("<random>", pattern.sub(lambda m: names[m.group(0)], value))
        return value

    return {key: sorted(json.dumps(clean(r), sort_keys=True, default=str) for r in rows) for key, rows in raw.items()}


def each_worker(row: dict) -> list[dict]:
    """A row of a table, an EmployeesImported event's row as its workers' EmployeeEnrolled rows."""
    if row.get("type") != "EmployeesImported" or "payload" not in row:
        return [row]
    chunk = envelope_of({"event_id": uuid.UUID(row["event_id"]), "type": row["type"], "schema_version": 1,
                         "aggregate_type": row["aggregate_type"], "aggregate_id": row["aggregate_id"], "sequence": 1,
                         "occurred_on": row["occurred_on"], "recorded_at": row["recorded_at"], "causation_id": None,
                         "correlation_id": row["correlation_id"], "actor": row["actor"],
                         "payload": json.loads(row["payload"])})
    return [{**row, "type": e.type, "schema_version": e.schema_version, "aggregate_type": e.aggregate_type,
             "aggregate_id": e.aggregate_id, "sequence": e.sequence, "occurred_on": e.occurred_on.isoformat(),
             "payload": json.dumps(e.payload)} for e in enrollments(chunk)]


def test_the_fast_paths_record_what_the_ordinary_path_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              migrated_data_dir: Path) -> None:
    fast_summaries, fast = go_live(fresh_data_dir(migrated_data_dir, tmp_path / "fast"))
    with monkeypatch.context() as patched:
        ordinary_paths(patched)
        plain_summaries, plain = go_live(fresh_data_dir(migrated_data_dir, tmp_path / "plain"))
    assert fast_summaries == plain_summaries
    assert fast_summaries["claims"]["accepted"] == 6 and fast_summaries["dependents"]["accepted"] == 3
    assert fast_summaries["accounts"]["rejected"] == 2
    assert fast.keys() == plain.keys()
    for key in fast:
        assert fast[key] == plain[key], key
