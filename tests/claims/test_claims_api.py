"""The claims service through its public API on both runtimes: application to grade, death with
dependents, the worklist; each refusal names its field (422) or the claim's state (409) and
records nothing. Each test has a region, an employer and people of its own (`unique`), and counts
and lists only its own employer's claims, so it holds on the one shared distributed system."""
from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.both_runtimes

ACCOUNT = {"bank_code": "102584000011", "account_no": "6222020200112233445", "holder": "李娜"}


def ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def only_error(response) -> str:  # noqa: ANN001
    assert response.status_code == 422, response.text
    return response.json()["errors"][0]["field"]


@pytest.fixture
def family(unique) -> dict[str, str]:  # noqa: ANN001
    """The worker (male), his wife and their son, registered in the test's own region."""
    return {"worker": unique.id_number(date(1990, 3, 7), 1), "wife": unique.id_number(date(1991, 6, 1), 2),
            "son": unique.id_number(date(2015, 5, 20), 3)}


@pytest.fixture
def world(api, unique, family) -> dict:  # noqa: ANN001
    """An employer in a region with no policy of its own (the national default applies: average
    wage 8000.00) and a worker."""
    employer = ok(api.post("/v1/employers", json={"uscc": unique.uscc(), "name": "深圳建安有限公司",
                                                  "industry_code": "E4700", "region": unique.region,
                                                  "enrolled_on": "2025-01-01"}), 201)
    worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees",
                         json={"id_number": family["worker"], "name": "王五", "hired_on": "2025-06-01"}), 201)
    return {"employer_id": employer["employer_id"], "employee_id": worker["employee_id"]}


def application(world: dict, **change) -> dict:  # noqa: ANN003
    return {**world, "kind": "accident", "occurred_on": "2026-03-02", "applied_on": "2026-03-10",
            "applicant": "employer", "description": "fell from a scaffold", **change}


def count_claims(api, world: dict) -> int:  # noqa: ANN001
    """The claims of the test's own employer (other tests' claims may share the system)."""
    return len(ok(api.get("/v1/claims", params={"employer_id": world["employer_id"]}))["items"])


def test_application_to_grade_then_death_with_dependents(api, unique, family, world) -> None:  # noqa: ANN001
    created = ok(api.post("/v1/claims", json=application(world)), 201)
    assert created["status"] == "applied" and created["employer_late_days"] == 0
    claim_id = created["claim_id"]
    path = f"/v1/claims/{claim_id}"

    shown = ok(api.get(path, params={"on": "2026-05-09"}))
    assert shown["deadlines"]["decision"] == {"due_on": "2026-05-09", "clear_case": False, "decided_on": None,
                                              "overdue": False}
    assert ok(api.get(path, params={"on": "2026-05-10"}))["deadlines"]["decision"]["overdue"] is True

    decided = ok(api.post(f"{path}/recognition", json={"decision": "recognized", "decided_on": "2026-04-01",
                                                        "basis": "R.14(1)"}))
    # no contribution wage on record: the floor, 60 % of 8000.00
    assert decided["status"] == "recognized" and decided["insured_wage"] == "4800.00"

    ok(api.post(f"{path}/treatment-leave", json={"start": "2026-03-02", "end": "2026-06-30"}))
    ext = ok(api.post(f"{path}/treatment-leave", json={"start": "2026-07-01", "end": "2026-08-31"}))
    assert ext["extension"] is True and ext["status"] == "on_treatment_leave"
    graded = ok(api.post(f"{path}/appraisals", json={"grade": 3, "care_level": "partial",
                                                      "concluded_on": "2026-09-15"}))
    assert graded["grade"] == 3 and graded["reappraisal"] is False

    died = ok(api.post(f"{path}/death", json={"died_on": "2026-10-20", "dependents": [
        {"id_number": family["wife"], "name": "李娜", "relation": "spouse", "born_on": "1991-06-01", "bank_account": ACCOUNT},
        {"id_number": family["son"], "name": "王小", "relation": "child", "born_on": "2015-05-20",
         "orphan_or_lone_elder": False, "bank_account": None},
    ]}))
    assert died["status"] == "deceased" and died["grade_at_death"] == 3
    assert [d["qualifies_until"] for d in died["dependents"]] == [None, "2033-05-20"]

    shown = ok(api.get(path, params={"on": "2026-11-01"}))
    assert shown["status"] == "deceased" and shown["grade"] == 3 and shown["care_level"] == "partial"
    assert shown["insured_wage"]["insured_wage"] == "4800.00"
    assert shown["insured_wage"]["no_wage_history"] is True and shown["insured_wage"]["months"] == []
    assert shown["insured_wage"]["floor"] == "4800.00" and shown["insured_wage"]["cap"] == "24000.00"
    assert shown["insured_wage"]["policy_ref"]["region"] == "000000"
    assert [d["relation"] for d in shown["dependents"]] == ["spouse", "child"]
    assert shown["dependents"][0]["bank_account"]["account_no"] == ACCOUNT["account_no"]
    assert [h["type"] for h in shown["history"]] == [
        "InjuryApplied", "InjuryRecognized", "InsuredWageDetermined", "TreatmentLeaveGranted",
        "TreatmentLeaveGranted", "GradeAssigned", "WorkerDied", "DependentRegistered", "DependentRegistered"]

    # the events carry what the other services need
    trail = ok(api.get("/v1/events", params={"aggregate_id": claim_id}))["items"]
    applied = trail[0]["payload"]
    assert (applied["region"], applied["birth_date"], applied["sex"]) == (unique.region, "1990-03-07", "male")
    assert trail[6]["payload"]["grade_at_death"] == 3

    conflict = api.post(f"{path}/termination", json={"terminated_on": "2026-11-01"})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["claim_status"] == "deceased" and "deceased" in conflict.json()["detail"]

    ok(api.post(f"{path}/closure", json={"closed_on": "2026-11-02", "reason": "survivor benefits set"}))
    listed = ok(api.get("/v1/claims", params={"employee_id": world["employee_id"]}))["items"]
    assert [(c["claim_id"], c["status"], c["grade"], c["insured_wage"]) for c in listed] == [
        (claim_id, "closed", 3, "4800.00")]


def test_late_employer_application_is_accepted_and_flagged(api, world) -> None:  # noqa: ANN001
    in_time = ok(api.post("/v1/claims", json=application(world, applied_on="2026-04-01")), 201)  # day 30
    late = ok(api.post("/v1/claims", json=application(world, applied_on="2026-04-02")), 201)  # day 31
    assert (in_time["employer_late_days"], late["employer_late_days"]) == (0, 1)


def test_worker_application_after_one_year_is_refused(api, world) -> None:  # noqa: ANN001
    # 2025-07-01 + 365 days = 2026-07-01: in time; 2026-07-02: refused
    ok(api.post("/v1/claims", json=application(world, occurred_on="2025-07-01", applied_on="2026-07-01",
                                               applicant="worker")), 201)
    before = count_claims(api, world)
    assert only_error(api.post("/v1/claims", json=application(
        world, occurred_on="2025-07-01", applied_on="2026-07-02", applicant="worker"))) == "applied_on"
    assert count_claims(api, world) == before


@pytest.mark.parametrize("change, field", [
    ({"employer_id": "er_unknown"}, "employer_id"),
    ({"employee_id": "ee_unknown"}, "employee_id"),
    ({"occurred_on": "2025-05-31", "applied_on": "2025-06-10"}, "employee_id"),  # hired 2025-06-01
    ({"occurred_on": "2099-01-01", "applied_on": "2099-01-02"}, "occurred_on"),
    ({"applied_on": "2099-01-02"}, "applied_on"),
    ({"applied_on": "2026-03-01"}, "applied_on"),
    ({"kind": "sickness"}, "kind"),
    ({"applicant": "union"}, "applicant"),
])
def test_bad_application_is_422_naming_the_field(api, world, change: dict, field: str) -> None:  # noqa: ANN001
    assert only_error(api.post("/v1/claims", json=application(world, **change))) == field
    assert count_claims(api, world) == 0


def test_separated_worker_is_not_covered_after_the_last_day(api, world) -> None:  # noqa: ANN001
    ok(api.post(f"/v1/employers/{world['employer_id']}/employees/{world['employee_id']}/separation",
                json={"separated_on": "2026-01-31"}))
    ok(api.post("/v1/claims", json=application(world, occurred_on="2026-01-31", applied_on="2026-02-01")), 201)
    assert only_error(api.post("/v1/claims", json=application(
        world, occurred_on="2026-02-01", applied_on="2026-02-02"))) == "employee_id"


def test_bad_commands_on_a_claim_record_nothing(api, family, world) -> None:  # noqa: ANN001
    wife = family["wife"]
    claim_id = ok(api.post("/v1/claims", json=application(world)), 201)["claim_id"]
    path = f"/v1/claims/{claim_id}"
    # not decided yet: leave and appraisal are state conflicts
    refused = api.post(f"{path}/treatment-leave", json={"start": "2026-03-02", "end": "2026-04-01"})
    assert refused.status_code == 409 and refused.json()["claim_status"] == "applied"
    assert "applied" in refused.json()["detail"]
    ok(api.post(f"{path}/recognition", json={"decision": "deemed", "decided_on": "2026-04-01"}))
    version = ok(api.get(path))["version"]
    for sub, body, field in [
        ("treatment-leave", {"start": "2026-05-02", "end": "2026-05-01"}, "end"),
        ("treatment-leave", {"start": "2026-03-02", "end": "2027-03-02"}, "end"),  # beyond 12 months
        ("appraisals", {"grade": 11, "care_level": "none", "concluded_on": "2026-05-01"}, "grade"),
        ("appraisals", {"grade": 0, "care_level": "none", "concluded_on": "2026-05-01"}, "grade"),
        ("appraisals", {"grade": 5, "care_level": "some", "concluded_on": "2026-05-01"}, "care_level"),
        ("appraisals", {"grade": 5, "care_level": "none", "concluded_on": "2099-05-01"}, "concluded_on"),
        ("death", {"died_on": "2026-03-01"}, "died_on"),
        ("death", {"died_on": "2026-05-01", "dependents": [
            {"id_number": wife, "name": "x", "relation": "cousin", "born_on": "1991-06-01"}]}, "dependents.0.relation"),
        ("death", {"died_on": "2026-05-01", "dependents": [
            {"id_number": wife[:-1] + ("1" if wife[-1] != "1" else "2"), "name": "x", "relation": "spouse", "born_on": "1991-06-01"}]},
         "dependents.0.id_number"),
        ("death", {"died_on": "2026-05-01", "dependents": [
            {"id_number": wife, "name": "x", "relation": "spouse", "born_on": "1991-06-02"}]}, "dependents.0.born_on"),
        ("death", {"died_on": "2026-05-01", "dependents": [
            {"id_number": wife, "name": "x", "relation": "spouse", "born_on": "1991-06-01",
             "bank_account": {**ACCOUNT, "bank_code": "1025"}}]}, "dependents.0.bank_account.bank_code"),
    ]:
        assert only_error(api.post(f"{path}/{sub}", json=body)) == field, (sub, body)
    assert ok(api.get(path))["version"] == version
    assert api.post("/v1/claims/clm_nope/recognition",
                    json={"decision": "deemed", "decided_on": "2026-04-01"}).status_code == 404


def test_reappraisal_timing_and_termination(api, world) -> None:  # noqa: ANN001
    claim_id = ok(api.post("/v1/claims", json=application(world, occurred_on="2025-07-02",
                                                          applied_on="2025-07-10")), 201)["claim_id"]
    path = f"/v1/claims/{claim_id}"
    ok(api.post(f"{path}/recognition", json={"decision": "recognized", "decided_on": "2025-08-01"}))
    ok(api.post(f"{path}/appraisals", json={"grade": 4, "care_level": "none", "concluded_on": "2025-09-15"}))
    refused = api.post(f"{path}/termination", json={"terminated_on": "2025-10-01"})
    assert refused.status_code == 409 and "grade 4" in refused.json()["detail"]
    assert only_error(api.post(f"{path}/appraisals", json={"grade": 6, "care_level": "none",
                                                            "concluded_on": "2026-09-14"})) == "concluded_on"
    again = ok(api.post(f"{path}/appraisals", json={"grade": 6, "care_level": "none", "concluded_on": "2026-09-15"}))
    assert again["reappraisal"] is True and again["grade"] == 6
    assert ok(api.post(f"{path}/termination", json={"terminated_on": "2026-10-01"}))["status"] == "terminated"


def test_overdue_worklist(api, world) -> None:  # noqa: ANN001
    undecided = ok(api.post("/v1/claims", json=application(world, applied_on="2026-03-10")), 201)["claim_id"]
    clear = ok(api.post("/v1/claims", json=application(world, applied_on="2026-03-10", clear_case=True)),
               201)["claim_id"]
    awaiting = ok(api.post("/v1/claims", json=application(world)), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{awaiting}/recognition", json={"decision": "recognized", "decided_on": "2026-04-01"}))
    # decision due: 2026-05-09 (60 days), clear case 2026-03-25 (15 days); appraisal due 2026-05-31

    def overdue_on(day: str) -> set[str]:
        return {c["claim_id"] for c in ok(api.get("/v1/claims", params={
            "employer_id": world["employer_id"], "overdue": "true", "on": day}))["items"]}

    assert overdue_on("2026-03-25") == set()
    assert overdue_on("2026-03-26") == {clear}
    assert overdue_on("2026-05-10") == {clear, undecided}
    assert overdue_on("2026-06-01") == {clear, undecided, awaiting}
    shown = ok(api.get(f"/v1/claims/{awaiting}", params={"on": "2026-06-01"}))["deadlines"]["appraisal"]
    assert shown["due_on"] == "2026-05-31" and shown["overdue"] is True

    mine = {"employer_id": world["employer_id"]}
    first = ok(api.get("/v1/claims", params={**mine, "limit": 2}))
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = ok(api.get("/v1/claims", params={**mine, "limit": 2, "cursor": first["next_cursor"]}))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert only_error(api.get("/v1/claims", params={"limit": 1001})) == "query.limit"


def test_the_regions_own_policy_sets_every_limit(api, unique, world) -> None:  # noqa: ANN001
    """No literal day count or wage: the region's own policy with a 20-day employer limit, a 10-day
    clear-case decision and an average wage of 12964.00 (floor 7778.40) is what applies."""
    national = ok(api.get("/v1/policies/000000", params={"on": "2025-01-01"}))
    doc = {**national, "average_monthly_wage": "12964.00",
           "deadlines": {**national["deadlines"], "employer_application_days": 20, "decision_days_clear": 10}}
    ok(api.put(f"/v1/policies/{unique.region}/2025-01-01", json=doc), 201)
    late = ok(api.post("/v1/claims", json=application(world, applied_on="2026-03-23", clear_case=True)), 201)
    assert late["employer_late_days"] == 1 and late["decision_due_on"] == "2026-04-02"  # day 21; +10 days
    decided = ok(api.post(f"/v1/claims/{late['claim_id']}/recognition",
                          json={"decision": "recognized", "decided_on": "2026-04-01"}))
    assert decided["insured_wage"] == "7778.40"  # 60 % of 12964.00, no wage on record
    wage = ok(api.get(f"/v1/claims/{late['claim_id']}"))["insured_wage"]
    assert wage["policy_ref"]["region"] == unique.region and wage["cap"] == "38892.00"


def test_claims_are_for_the_agency_only(api, world) -> None:  # noqa: ANN001
    hospital = ok(api.post("/v1/clients", json={"name": "Hospital", "role": "hospital", "hospital_id": "H1"}), 201)
    headers = {"Authorization": f"Bearer {hospital['token']}"}
    assert api.get("/v1/claims", headers=headers).status_code == 403
    assert api.post("/v1/claims", json=application(world), headers=headers).status_code == 403
    assert api.get("/v1/claims", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_death_claim_is_decided_after_the_death_is_recorded(api, family, world) -> None:  # noqa: ANN001
    claim_id = ok(api.post("/v1/claims", json=application(world, kind="death", applicant="worker")), 201)["claim_id"]
    path = f"/v1/claims/{claim_id}"
    died = ok(api.post(f"{path}/death", json={"died_on": "2026-03-02", "dependents": [
        {"id_number": family["son"], "name": "王小", "relation": "child", "born_on": "2015-05-20",
         "orphan_or_lone_elder": True}]}))
    assert died["status"] == "applied" and died["grade_at_death"] is None
    again = api.post(f"{path}/death", json={"died_on": "2026-03-03"})
    assert again.status_code == 409 and again.json()["claim_status"] == "applied"
    assert ok(api.post(f"{path}/recognition", json={"decision": "recognized", "decided_on": "2026-03-20"}))[
        "status"] == "deceased"
    shown = ok(api.get(path, params={"on": "2026-12-01"}))
    assert shown["deadlines"]["appraisal"] == {"due_on": None, "concluded_on": None, "overdue": False}
    assert shown["dependents"][0]["orphan_or_lone_elder"] is True
    assert "/v1/claims/{claim_id}/closure" in ok(api.get("/openapi.json"))["paths"]


def test_the_worklist_by_deadline_of_a_region(api, unique, world) -> None:  # noqa: ANN001
    """`order=deadline`: the earliest open deadline first (so the overdue first), claims awaiting
    no decision last; `region` keeps to one region; the position cursor pages through it."""
    undecided = ok(api.post("/v1/claims", json=application(world, applied_on="2026-03-10")), 201)["claim_id"]
    clear = ok(api.post("/v1/claims", json=application(world, applied_on="2026-03-10", clear_case=True)),
               201)["claim_id"]
    awaiting = ok(api.post("/v1/claims", json=application(world)), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{awaiting}/recognition", json={"decision": "recognized", "decided_on": "2026-04-01"}))
    rejected = ok(api.post("/v1/claims", json=application(world)), 201)["claim_id"]
    ok(api.post(f"/v1/claims/{rejected}/recognition", json={"decision": "rejected", "decided_on": "2026-04-01"}))
    # due: clear case 2026-03-25, decision 2026-05-09, appraisal 2026-05-31; the rejected claim awaits nothing
    query = {"region": unique.region, "order": "deadline", "on": "2026-05-10"}
    items = ok(api.get("/v1/claims", params=query))["items"]
    assert [c["claim_id"] for c in items] == [clear, undecided, awaiting, rejected]
    assert [c["overdue"] for c in items] == [True, True, False, False]
    first = ok(api.get("/v1/claims", params={**query, "limit": 3}))
    rest = ok(api.get("/v1/claims", params={**query, "limit": 3, "cursor": first["next_cursor"]}))
    assert first["next_cursor"] == "@3" and [c["claim_id"] for c in rest["items"]] == [rejected]
    assert ok(api.get("/v1/claims", params={"region": "449999" if unique.region != "449999" else "449998",
                                            "employer_id": world["employer_id"]}))["items"] == []


def test_a_claim_of_the_id_shape_made_before_works_beside_a_time_ordered_one(  # noqa: ANN001
        api, runtime, unique, family, world, monkeypatch) -> None:
    """Books opened before claim ids were time-ordered hold "clm_" + 20 random hex digits: such a
    claim is decided, graded and closed by a death with dependents as a new one is, and both have
    their entitlement lines, documents and places in the list (embedded: the id is made here)."""
    import re
    import uuid

    from services.claims import handlers

    old_id = "clm_" + uuid.uuid4().hex[:20]
    monkeypatch.setattr(handlers, "new_claim_id", lambda: old_id)
    assert ok(api.post("/v1/claims", json=application(world)), 201)["claim_id"] == old_id
    monkeypatch.undo()
    new_id = ok(api.post("/v1/claims", json=application(world, occurred_on="2026-03-05")), 201)["claim_id"]
    assert re.fullmatch(r"clm_[0-9a-f]{31}", new_id) and new_id != old_id
    for claim_id, wife, son in ((old_id, family["wife"], family["son"]),
                                (new_id, unique.id_number(date(1991, 6, 1), 4), unique.id_number(date(2015, 5, 20), 5))):
        path = f"/v1/claims/{claim_id}"
        ok(api.post(f"{path}/recognition", json={"decision": "recognized", "decided_on": "2026-04-01",
                                                 "basis": "R.14(1)"}))
        ok(api.post(f"{path}/appraisals", json={"grade": 3, "care_level": "partial", "concluded_on": "2026-09-15"}))
        died = ok(api.post(f"{path}/death", json={"died_on": "2026-10-20", "dependents": [
            {"id_number": wife, "name": "李娜", "relation": "spouse", "born_on": "1991-06-01", "bank_account": ACCOUNT},
            {"id_number": son, "name": "王小", "relation": "child", "born_on": "2015-05-20"}]}))
        assert [d["dependent_id"] for d in died["dependents"]] == [f"{claim_id}-d1", f"{claim_id}-d2"]
    listed = ok(api.get("/v1/claims", params={"employer_id": world["employer_id"]}))["items"]
    assert sorted(c["claim_id"] for c in listed) == sorted([old_id, new_id])
    for claim_id in (old_id, new_id):
        items = ok(api.get(f"/v1/claims/{claim_id}/entitlements"))["items"]
        assert {ln["payee"] for ln in items} >= {f"dependent:{claim_id}-d1", f"dependent:{claim_id}-d2"}
        kinds = {ln["kind"] for ln in items}
        assert {"disability_allowance", "funeral_grant", "survivor_pension"} <= kinds, kinds
        docs = ok(api.get(f"/v1/claims/{claim_id}/documents"))["items"]
        assert docs and all(d["href"].startswith(f"/v1/claims/{claim_id}/documents/doc_") for d in docs)
        assert api.get(docs[0]["href"]).status_code == 200
    old_lines = ok(api.get(f"/v1/claims/{old_id}/entitlements"))["items"]
    new_lines = ok(api.get(f"/v1/claims/{new_id}/entitlements"))["items"]
    assert sorted((ln["kind"], ln["period"], ln["amount"]) for ln in old_lines if ln["kind"] != "survivor_pension") \
        == sorted((ln["kind"], ln["period"], ln["amount"]) for ln in new_lines if ln["kind"] != "survivor_pension")
