"""The wages kind keeps the employers a request found for the next requests
(`services.levy.imports._KeptEmployers`) while the levy's projections of the enrollment service's
events stand still. What happens between two chunks of one import is still seen: an employer
enrolled meanwhile is found, an employer's levy row changed meanwhile is read again, and a key
no employer had is asked again (not kept as missing)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

CSV = {"Content-Type": "text/csv"}
WAGES = "employee_legacy_id,employer_legacy_id,period,wage"
EMPLOYERS = "legacy_id,uscc,name,industry_code,region,enrolled_on,floating_step"
EMPLOYEES = "legacy_id,employer_legacy_id,id_number,name,hired_on,separated_on,bank_code,account_no,holder"


def post(api, kind: str, body: str, **params) -> dict:  # noqa: ANN001, ANN003
    r = api.post(f"/v1/imports/{kind}", content=(body + "\n").encode(), headers=CSV, params=params)
    assert r.status_code == 201, r.text
    return r.json()


def enroll(api, unique, tag: str, employer: str, enrolled_on: str, worker: str, seq: int) -> None:  # noqa: ANN001
    assert post(api, "employers", "\n".join([
        EMPLOYERS, f"{tag}-{employer},{unique.uscc()},{employer},C3311,{unique.region},{enrolled_on},"]))["accepted"] == 1
    id_number = unique.id_number(date(1985, 1, 1 + seq), seq)
    assert post(api, "employees", "\n".join([
        EMPLOYEES, f"{tag}-{worker},{tag}-{employer},{id_number},{worker},2020-01-01,,,,"]))["accepted"] == 1


@pytest.mark.both_runtimes
def test_an_employer_enrolled_between_two_chunks_is_found(api, unique) -> None:  # noqa: ANN001
    tag = f"K{unique.n}"
    enroll(api, unique, tag, "E1", "2016-01-01", "W1", 11)
    first = post(api, "wages", "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2021-01,5000.00",
                                          f"{tag}-W2,{tag}-E2,2021-01,6000.00"]))
    assert (first["accepted"], first["rejected"]) == (1, 1)
    assert first["errors"][0]["field"] == "employer_legacy_id"
    enroll(api, unique, tag, "E2", "2016-01-01", "W2", 13)
    api.settle()
    second = post(api, "wages", "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2021-02,5000.00",
                                           f"{tag}-W2,{tag}-E2,2021-01,6000.00"]),
                  import_id=first["import_id"], first_row=4)
    assert (second["rows"], second["accepted"], second["rejected"]) == (4, 3, 1), second["errors"]


def test_an_employers_row_changed_between_two_chunks_is_read_again(api, runtime, unique) -> None:  # noqa: ANN001
    """The levy's row of an employer changed by the projection (here by hand, with a position of
    the enrollment topic moved by another employer's enrollment): the next chunk reads it anew."""
    tag = f"K{unique.n}"
    enroll(api, unique, tag, "E1", "2016-01-01", "W1", 15)
    first = post(api, "wages", "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2021-01,5000.00"]))
    assert first["accepted"] == 1
    levy = runtime.services["levy"].ctx
    with levy.session_factory() as session:
        employer_id = session.execute(text("SELECT aggregate_id FROM legacy_refs WHERE kind = 'employers' "
                                           "AND legacy_id = :key"), {"key": f"{tag}-E1"}).scalar_one()
        session.execute(text("UPDATE levy_employers SET enrolled_on = '2022-01-01' WHERE employer_id = :id"),
                        {"id": employer_id})
        session.commit()
    enroll(api, unique, tag, "E2", "2016-01-01", "W2", 17)  # the enrollment projections move on
    second = post(api, "wages", "\n".join([WAGES, f"{tag}-W1,{tag}-E1,2021-02,5000.00"]),
                  import_id=first["import_id"], first_row=3)
    assert second["rejected"] == 1
    assert second["errors"][0]["field"] == "period"
    assert "enrollment month 2022-01" in second["errors"][0]["message"]
