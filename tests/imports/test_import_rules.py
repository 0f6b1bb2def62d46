"""The import routes' edges (API.md "Going live"): what refuses a whole file and what only a row,
and what a migrated record becomes for the commands that come after it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.both_runtimes
CSV = {"Content-Type": "text/csv"}
EMPLOYERS = "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step"


def post(api, kind: str, body: str, **params):  # noqa: ANN001, ANN201
    return api.post(f"/v1/imports/{kind}", content=body.encode(), headers=CSV, params=params)


def test_a_file_is_refused_whole_only_for_what_is_wrong_with_the_file(api, unique) -> None:  # noqa: ANN001
    r = post(api, "employers", "legacy_id,uscc,name,industry_code,region,enrolled_on,floatingstep\n")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"header.floatingstep", "header.floating_step"}
    r = api.post("/v1/imports/employers", json={"legacy_id": "x"})
    assert r.status_code == 415
    r = api.post("/v1/imports/employers", content=EMPLOYERS.encode() + b"\nx,\xff\n", headers=CSV)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"  # not UTF-8
    assert api.get("/v1/imports/imp_employers_0000000000000000").status_code == 404
    r = post(api, "employers", EMPLOYERS + "\n", import_id="imp_wages_0000000000000000")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.import_id"


def test_one_bad_row_rejects_that_row_only(api, unique) -> None:  # noqa: ANN001
    tag, region, uscc = f"R{unique.n}", unique.region, unique.uscc()
    body = "\n".join([
        EMPLOYERS,
        f"{tag}-1,{uscc},First,C3311,{region},2016-01-01,",
        f"{tag}-2,{uscc},Same USCC,C3311,{region},2016-01-01,",  # twice in one file
        f"{tag}-3,{unique.uscc()},Bad date,C3311,{region},2016-13-01,",
        f",{unique.uscc()},No key,C3311,{region},2016-01-01,",
        f"{tag}-5,{unique.uscc()},Too many,C3311,{region},2016-01-01,,extra",
        f"{tag}-6,{unique.uscc()},Bad industry,Z99,{region},2016-01-01,",
    ]) + "\n"
    r = post(api, "employers", body)
    assert r.status_code == 201, r.text
    summary = r.json()
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (6, 1, 5)
    assert [(e["row"], e["field"]) for e in summary["errors"]] == [
        (3, "uscc"), (4, "enrolled_on"), (5, "legacy_id"), (6, "row"), (7, "industry_code")]
    assert "row 2" in summary["errors"][0]["message"]


def test_a_migrated_period_is_corrected_by_a_wage_report_assessing_only_the_difference(api, unique) -> None:  # noqa: ANN001
    tag, region = f"P{unique.n}", unique.region
    uscc = unique.uscc()
    assert post(api, "employers", f"{EMPLOYERS}\n{tag}-E,{uscc},Firm,C3311,{region},2016-01-01,\n").json()["accepted"] == 1
    id_number = unique.id_number(date(1980, 1, 1), 15)
    staff = post(api, "employees", "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,"
                                   f"account_no,holder\n{tag}-W,{tag}-E,{id_number},Li,2016-02-01,,,,\n").json()
    assert staff["accepted"] == 1, staff
    today = datetime.now(timezone(timedelta(hours=8))).date()
    last = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    books = post(api, "accounts", "legacy_id,employer_legacy_id,period,payroll,contribution,paid,paid_on\n"
                                  f"{tag}-A,{tag}-E,{last},8000.00,100.00,100.00,{last}-05\n").json()
    assert books["accepted"] == 1, books
    employer_id = next(e["employer_id"] for e in api.get("/v1/employers", params={"region": region}).json()["items"])
    # the old system assessed 100.00; the report of the same month (8000.00 × 0.009 × 1.00 = 72.00)
    # corrects it: the difference is assessed, not a second full charge
    r = api.post("/v1/wage-reports", json={"employer_id": employer_id, "period": last,
                                           "lines": [{"id_number": id_number, "wage": "8000.00"}]})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["correction_of"] is not None and report["delta_due"] == "-28.00"
    account = api.get(f"/v1/employers/{employer_id}/account").json()
    assert (account["assessed"], account["paid"], account["credit"]) == ("72.00", "100.00", "28.00")
    trail = api.get("/v1/events", params={"aggregate_id": f"wages-{employer_id}-{last}"}).json()["items"]
    assert [e["type"] for e in trail] == ["LegacyPeriodImported", "WageReported"]
    assert trail[0]["payload"]["source"]["legacy_id"] == f"{tag}-A"


def test_a_pool_gone_takes_no_employer_from_its_date_on_going_live_either(api, unique) -> None:  # noqa: ANN001
    tag, into, pool = f"P{unique.n}", unique.region, "46" + unique.region[2:]  # Hainan: this test's alone
    r = api.post("/v1/pooling/consolidations", json={"into_region": into, "from_regions": [pool],
                                                     "effective_from": "2026-01-01"})
    assert r.status_code == 201, r.text
    body = "\n".join([
        EMPLOYERS,
        f"{tag}-1,{unique.uscc()},Old county firm,C3311,{pool},2016-01-01,",    # before the date: the pool's
        f"{tag}-2,{unique.uscc()},Late county firm,C3311,{pool},2026-01-01,",   # from the date: refused
        f"{tag}-3,{unique.uscc()},Prefecture firm,C3311,{into},2026-01-01,",    # the new region takes it
    ]) + "\n"
    for dry_run in (True, False):  # the dry run says the same, and records nothing
        summary = post(api, "employers", body, dry_run=str(dry_run).lower()).json()
        assert (summary["accepted"], summary["rejected"]) == (2, 1), summary
        [error] = summary["errors"]
        assert (error["row"], error["field"]) == (3, "region") and into in error["message"], error
    listed = api.get("/v1/employers", params={"region": pool}).json()["items"]
    assert [e["name"] for e in listed] == ["Old county firm"]


def test_a_rehired_workers_wage_of_a_month_is_taken_once_whatever_the_request(api, unique) -> None:  # noqa: ANN001
    """A worker the old system keyed twice at one employer (a rehire) has one wage a month there:
    the month's second wage, under the other key, is rejected naming its row and field, in the
    request of the first as in a later one; the rows beside it go on."""
    tag, region = f"H{unique.n}", unique.region
    r = post(api, "employers", EMPLOYERS + f"\n{tag}-E1,{unique.uscc()},Rehiring Works,C3311,{region},2016-01-01,\n")
    assert r.json()["accepted"] == 1, r.text
    person = unique.id_number(date(1981, 4, 2), 31)
    r = post(api, "employees", "\n".join([
        "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder",
        f"{tag}-K1,{tag}-E1,{person},Sun Li,2016-02-01,2020-12-31,,,",
        f"{tag}-K2,{tag}-E1,{person},Sun Li,2021-02-01,,,,"]) + "\n")
    assert (r.json()["accepted"], r.json()["totals"]) == (2, {"employments": 2, "workers": 1}), r.text
    header = "employee_legacy_id,employer_legacy_id,period,wage"

    within = post(api, "wages", "\n".join([header, f"{tag}-K1,{tag}-E1,2020-05,6000.00",
                                           f"{tag}-K2,{tag}-E1,2020-05,6100.00"]) + "\n").json()
    assert (within["accepted"], within["rejected"]) == (1, 1)
    assert [(e["row"], e["field"]) for e in within["errors"]] == [(3, "employee_legacy_id")]

    first = post(api, "wages", f"{header}\n{tag}-K1,{tag}-E1,2020-06,6000.00\n").json()
    assert (first["accepted"], first["rejected"]) == (1, 0)
    later = post(api, "wages", "\n".join([header, f"{tag}-K2,{tag}-E1,2021-03,6500.00",
                                          f"{tag}-K2,{tag}-E1,2020-06,6200.00"]) + "\n").json()
    assert (later["accepted"], later["rejected"]) == (1, 1), later["errors"]
    assert [(e["row"], e["field"]) for e in later["errors"]] == [(3, "employee_legacy_id")]
    assert f"{tag}-K1/{tag}-E1/2020-06" in later["errors"][0]["message"]
    assert later["totals"] == {"wage_lines": 1, "wages": "6500.00"}
