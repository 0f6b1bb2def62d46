"""A whole go-live (issue 11, MIGRATION.md) through the public contract, on both runtimes: every
kind of file in its order, bad rows of each kind, a dry run, the same file twice, a corrected file,
then the first payment run, whose total is worked out by hand below for the month after
`paid_through`: no benefit twice, none forgotten, no arrears invented.

The distributed runtime is one system for the whole session: the region, the identifiers and the
old system's keys are this test's own (`unique`)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from libs.policy import load_national_default

pytestmark = pytest.mark.both_runtimes
CSV = {"Content-Type": "text/csv"}


def D(value: str) -> Decimal:  # noqa: N802
    return Decimal(value)


def this_month() -> str:
    """The ledger's current month (its calendar is China Standard Time)."""
    return datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")


def months_back(month: str, n: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def csv_of(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def post(api, kind: str, body: str, **params) -> dict:  # noqa: ANN001
    r = api.post(f"/v1/imports/{kind}", content=body.encode(), headers=CSV,
                 params={k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()})
    assert r.status_code == 201, r.text
    return r.json()


def errors_by_row(summary: dict) -> dict[int, str]:
    return {e["row"]: e["field"] for e in summary["errors"]}


def test_a_fund_goes_live(api, unique) -> None:  # noqa: ANN001, PLR0915
    region, tag = unique.region, f"T{unique.n}"
    policy = load_national_default().model_dump(mode="json")
    policy.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00"})
    assert api.put(f"/v1/policies/{region}/2016-01-01", json=policy).status_code == 201

    # -- employers: a dry run records nothing; a bad USCC is rejected, naming row and field
    good_a, good_b = unique.uscc(), unique.uscc()
    bad_b = good_b[:-1] + ("0" if good_b[-1] != "0" else "1")
    header = "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step"
    employers = csv_of(header,
                       f"{tag}-E1,{good_a},Pearl River Metalworks,C3311,{region},2016-01-01,1.20",
                       f"{tag}-E2,{bad_b},Lotus Software,I6510,{region},2016-01-01,",
                       f"{tag}-E3,{unique.uscc()},Jade Mining,B06,{region},2016-01-01,0.70")
    dry = post(api, "employers", employers, dry_run=True)
    assert (dry["dry_run"], dry["rows"], dry["accepted"], dry["rejected"]) == (True, 3, 1, 2)
    assert errors_by_row(dry) == {3: "uscc", 4: "floating_step"}  # class VIII floats to 0.50 or 0.80, not 0.70
    assert api.get("/v1/employers", params={"region": region}).json()["items"] == []

    first = post(api, "employers", employers)
    assert (first["accepted"], first["skipped"], first["rejected"]) == (1, 0, 2)
    assert first["totals"] == {"employers": 1}
    again = post(api, "employers", employers)  # the same file twice records nothing twice
    assert (again["accepted"], again["skipped"], again["rejected"]) == (0, 1, 2)
    corrected = employers.replace(bad_b, good_b).replace("2016-01-01,0.70", "2016-01-01,0.80")
    fixed = post(api, "employers", corrected)  # only the corrected rows are applied
    assert (fixed["accepted"], fixed["skipped"], fixed["rejected"]) == (2, 1, 0), fixed["errors"]
    assert fixed["totals"] == {"employers": 3}
    changed = post(api, "employers", csv_of(header, f"{tag}-E1,{good_a},Another Name,C3311,{region},2016-01-01,1.20"))
    assert errors_by_row(changed) == {2: "legacy_id"}  # the same key with other content
    listed = {e["uscc"]: e for e in api.get("/v1/employers", params={"region": region}).json()["items"]}
    assert len(listed) == 3 and listed[good_a]["name"] == "Pearl River Metalworks" and good_b in listed
    assert api.get(f"/v1/imports/{first['import_id']}").json()["accepted"] == 1

    # -- employees
    li, wang, zhao = (unique.id_number(date(1975, 5, 17), 11), unique.id_number(date(1980, 2, 3), 13),
                      unique.id_number(date(1986, 8, 9), 22))
    header = "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"
    employees = csv_of(header,
                       f"{tag}-W1,{tag}-E1,{li},Li Lei,2016-02-01,,102584000001,6222020200000000011,Li Lei",
                       f"{tag}-W2,{tag}-E1,{wang},Wang Wu,2016-02-01,,102584000001,6222020200000000012,Wang Wu",
                       f"{tag}-W3,{tag}-E2,{zhao},Zhao Min,2016-03-01,,102584000001,6222020200000000013,Zhao Min",
                       f"{tag}-W4,{tag}-E9,{li},Li Lei,2016-02-01,,,,",
                       f"{tag}-W5,{tag}-E1,{li[:-1]}{'0' if li[-1] != '0' else '1'},Li Lei,2016-02-01,,,,")
    staff = post(api, "employees", employees)
    assert (staff["accepted"], staff["rejected"]) == (3, 2)
    assert errors_by_row(staff) == {5: "employer_legacy_id", 6: "id_number"}
    assert staff["totals"] == {"employments": 3, "workers": 3}

    # -- wages: history for injuries to come; they assess nothing
    month = this_month()
    last_month = months_back(month, 1)
    header = "employee_legacy_id,employer_legacy_id,period,wage"
    wages = csv_of(header, *[f"{tag}-W2,{tag}-E1,{months_back(month, n)},9000.00" for n in range(1, 13)],
                   f"{tag}-W2,{tag}-E1,{last_month},abc",  # the same key twice in the file
                   f"{tag}-W3,{tag}-E1,{last_month},5000.00",  # W3 works at E2
                   f"{tag}-W1,{tag}-E1,2015-12,5000.00")  # before the employer's enrollment
    history = post(api, "wages", wages)
    assert (history["accepted"], history["rejected"]) == (12, 3), history["errors"]
    assert errors_by_row(history) == {14: "legacy_id", 15: "employee_legacy_id", 16: "period"}
    assert history["totals"] == {"wage_lines": 12, "wages": "108000.00"}
    again = post(api, "wages", wages)  # the same file twice records nothing twice
    assert (again["accepted"], again["skipped"], again["rejected"]) == (0, 12, 3), again["errors"]
    assert errors_by_row(again) == errors_by_row(history)

    # -- accounts: the old system's assessment, not re-assessed; fees on what is outstanding
    header = "legacy_id,employer_legacy_id,period,payroll,contribution,paid,paid_on"
    p1, p2 = months_back(month, 3), months_back(month, 2)
    accounts = csv_of(header, f"{tag}-A1,{tag}-E1,{p1},100000.00,1080.00,400.00,{p1}-28",
                      f"{tag}-A2,{tag}-E1,{p2},100000.00,1080.00,1080.00,{p2}-28",
                      f"{tag}-A3,{tag}-E1,{last_month},100000.00,1080.00,2000.00,{last_month}-01")
    books = post(api, "accounts", accounts)
    assert (books["accepted"], books["rejected"]) == (2, 1)
    assert errors_by_row(books) == {4: "paid"}
    assert books["totals"] == {"periods": 2, "contributions": "2160.00", "paid": "1480.00",
                               "outstanding_contributions": "680.00"}
    employer_a = listed[good_a]["employer_id"]
    account = api.get(f"/v1/employers/{employer_a}/account").json()
    assert (account["assessed"], account["paid"], account["arrears"]) == ("2160.00", "1480.00", "680.00")
    period = next(p for p in account["periods"] if p["period"] == p1)
    assert period["outstanding"] == "680.00" and period["contribution"] == "1080.00"
    due = date.fromisoformat(period["due_date"])
    days = max(0, (date.fromisoformat(account["on"]) - due).days)
    assert D(account["late_fees"]) == (D("680.00") * D("0.0005") * days).quantize(D("0.01"))

    # -- claims, in the state their columns describe
    paid_through = last_month
    header = ("legacy_id,employee_legacy_id,employer_legacy_id,kind,occurred_on,applied_on,decision,decided_on,"
              "grade,care_level,concluded_on,insured_wage,terminated_on,died_on,one_off_paid,paid_through")
    claims = csv_of(
        header,
        # Li Lei, grade 3, partial care: allowance and care paid through last month, grants paid
        f"{tag}-C1,{tag}-W1,{tag}-E1,accident,2018-03-10,2018-03-20,recognized,2018-04-20,3,partial,2019-01-15,"
        f"6000.00,,,true,{paid_through}",
        # Wang Wu, grade 2, died of the injury in 2024: survivors paid through last month
        f"{tag}-C2,{tag}-W2,{tag}-E1,accident,2017-06-01,2017-06-05,recognized,2017-07-01,2,none,2018-02-01,"
        f"5000.00,,2024-06-01,true,{paid_through}",
        # Zhao Min, grade 7, employment ended: the old system never paid the one-off grants
        f"{tag}-C3,{tag}-W3,{tag}-E2,accident,2019-04-02,2019-04-10,recognized,2019-05-10,7,none,2019-12-01,"
        f"7000.00,2020-05-01,,false,{paid_through}",
        f"{tag}-C4,{tag}-W1,{tag}-E1,accident,2020-01-01,2020-01-05,rejected,2020-02-01,,,,,,,false,",
        f"{tag}-C5,{tag}-W9,{tag}-E1,accident,2020-01-01,2020-01-05,recognized,2020-02-01,,,,5000.00,,,false,",
        f"{tag}-C6,{tag}-W1,{tag}-E1,accident,2020-01-01,2020-01-05,recognized,2019-12-01,,,,5000.00,,,false,")
    entered = post(api, "claims", claims)
    assert (entered["accepted"], entered["rejected"]) == (4, 2), entered["errors"]
    assert errors_by_row(entered) == {6: "employee_legacy_id", 7: "decided_on"}
    doc = load_national_default()
    allowance, care = D("6000.00") * doc.disability_allowance_ratios["3"], D("8000.00") * doc.care_ratios.partial
    assert entered["totals"]["recurring_benefits"][month] == {
        "care_allowance": {"fund": f"{care:.2f}"}, "disability_allowance": {"fund": f"{allowance:.2f}"}}

    # -- dependents of Wang Wu's claim
    spouse_id, child_id = unique.id_number(date(1978, 4, 4), 42), unique.id_number(date(2015, 3, 1), 31)
    header = ("legacy_id,claim_legacy_id,id_number,name,relation,born_on,orphan_or_lone_elder,bank_code,account_no,"
              "holder")
    dependents = csv_of(
        header,
        f"{tag}-D1,{tag}-C2,{spouse_id},Wang Fang,spouse,1978-04-04,false,102584000001,6222020200000000021,Wang Fang",
        f"{tag}-D2,{tag}-C2,{child_id},Wang Xiao,child,2015-03-01,false,102584000001,6222020200000000022,Wang Fang",
        f"{tag}-D3,{tag}-C9,{child_id},Wang Xiao,child,2015-03-01,false,,,",
        f"{tag}-D4,{tag}-C2,{child_id},Wang Xiao,cousin,2015-03-01,false,,,")
    family = post(api, "dependents", dependents)
    assert (family["accepted"], family["rejected"]) == (2, 2), family["errors"]
    assert errors_by_row(family) == {4: "claim_legacy_id", 5: "relation"}
    spouse, child = D("5000.00") * doc.survivor_ratios.spouse, D("5000.00") * doc.survivor_ratios.other
    assert family["totals"]["recurring_benefits"][month] == {"survivor_pension": {"fund": f"{spouse + child:.2f}"}}

    # -- the first payment run: one month of each recurring benefit, the one-off grants not paid
    disability_grant = D("7000.00") * doc.disability_grant_months["7"]
    medical_grant = D("8000.00") * doc.termination_medical_grant_months["7"]
    by_hand = allowance + care + spouse + child + disability_grant + medical_grant
    r = api.post("/v1/payment-runs", json={"region": region, "period": month})
    assert r.status_code == 201, r.text
    run = r.json()
    assert D(run["total"]) == by_hand, (run, by_hand)
    assert run["count"] == 4  # Li Lei, Zhao Min, the spouse, the child

    # the audit trail and the explanation name the source of a migrated claim
    claim_id = next(c["claim_id"] for c in api.get("/v1/claims", params={"employer_id": employer_a}).json()["items"]
                    if c["grade"] == 3)
    trail = api.get("/v1/events", params={"aggregate_id": claim_id}).json()["items"]
    assert trail[0]["payload"]["source"]["import_id"] == entered["import_id"]
    assert trail[0]["payload"]["source"]["row"] == 2
    lines = api.get(f"/v1/claims/{claim_id}/entitlements").json()["items"]
    settled = [ln for ln in lines if ln["status"] == "settled_outside"]
    assert {ln["kind"] for ln in settled} == {"disability_grant", "disability_allowance", "care_allowance"}
    assert all(ln["period"] <= paid_through for ln in settled if ln["kind"] != "disability_grant")
    paid_now = [ln for ln in lines if ln["period"] == month]
    assert {ln["kind"] for ln in paid_now} == {"disability_allowance", "care_allowance"}
    explained = api.get(f"/v1/payouts/{paid_now[0]['line_id']}/explain").json()
    assert f"migrated: import {entered['import_id']}, row 2" in explained["migrated"]

    # its past decisions (the old system issued them) are rendered when first asked for, as an advice is
    documents = api.get(f"/v1/claims/{claim_id}/documents").json()["items"]
    assert [d["kind"] for d in documents] == ["recognition", "appraisal"]
    assert [d["sha256"] for d in documents] == [None, None]
    pdf = api.get(documents[1]["href"])
    assert pdf.status_code == 200 and pdf.headers["x-document-sha256"] == hashlib.sha256(pdf.content).hexdigest()
    assert api.get(documents[1]["href"]).content == pdf.content  # the same bytes ever after
    documents = api.get(f"/v1/claims/{claim_id}/documents").json()["items"]
    assert [d["sha256"] for d in documents] == [None, hashlib.sha256(pdf.content).hexdigest()]
