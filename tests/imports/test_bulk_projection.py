"""The go-live's bulk path (libs.imports.bulk) gives the rows projecting one by one gives: the same
enrollment events (runs of new employers and workers, a worker twice in a run, a rehire after a
separation, a name arriving after the claim that waits for it, accounts changed between runs)
projected one by one, as one batch, as two batches split anywhere, and redelivered, end with equal
rows and an equal state_hash in every projection that has a bulk path, on the services' databases.
The same for imported wage history (WageHistoryImported, and the WagesImported of older logs)
among the wage reports of the same months."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.imports.bulk import ImportedWorkers, each_worker, enrollments
from libs.imports.projection import LegacyRefsProjection
from libs.imports.tables import TABLES
from services.claims.documents.projection import DocumentsProjection
from services.claims.documents.tables import claim_documents, document_parties
from services.claims.handlers import worker_wages
from services.claims.tables import wages
from services.claims.projections import ClaimsEnrollmentProjection, ClaimsWagesProjection
from services.levy.projections import LevyEnrollmentProjection
from services.payments.entitlements.projection import EntitlementsProjection
from services.payments.entitlements.tables import accounts, employer_facts, entitlement_lines
from services.payments.payouts.projection import PayoutFactsProjection
from tests.payments.entitlements.test_entitlements_projection import streams

T0 = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)
REGION = "449911"
legacy_refs = TABLES.legacy_refs
CLOCK = {"rendered_at"}  # when a document was rendered: the clock's, not the events'


def account(n: int) -> dict:
    return {"bank_code": "102584000001", "account_no": f"62220202{n:011d}", "holder": f"Worker {n}"}


def logged(made: list[Envelope], name: str, type_: str, aggregate_type: str, aggregate_id: str, sequence: int,
           payload: dict) -> None:
    """The next event of a made-up log `made` (its id, and a second later than the one before, by its place)."""
    n = len(made)
    made.append(Envelope(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{n}"), type=type_,
        schema_version=REGISTRY.latest_version(type_), aggregate_type=aggregate_type, aggregate_id=aggregate_id,
        sequence=sequence, occurred_on=date(2026, 1, 1), recorded_at=T0 + timedelta(seconds=n), actor="t",
        payload=payload))


def enrollment_events() -> list[Envelope]:
    made: list[Envelope] = []

    def add(type_: str, aggregate_id: str, payload: dict) -> None:
        logged(made, "bulk", type_, "x", aggregate_id, 1, payload)

    def employer(employer_id: str, step: str | None = None) -> None:
        add("EmployerEnrolled", employer_id, {
            "employer_id": employer_id, "uscc": "x", "name": f"Firm {employer_id}", "region": REGION,
            "industry_code": "C3311", "risk_class": 2, "base_rate": "0.0040", "enrolled_on": "2016-01-01",
            "floating_step": step})

    def worker(employee_id: str, employer_id: str, hired_on: str, n: int | None) -> None:
        add("EmployeeEnrolled", employee_id, {
            "employee_id": employee_id, "employer_id": employer_id, "id_number": f"id-{employee_id}",
            "name": f"Worker {employee_id}", "birth_date": "1980-05-17", "sex": "male", "hired_on": hired_on,
            "bank_account": account(n) if n is not None else None})

    for employer_id, step in (("er_1", None), ("er_2", "1.20"), ("e9", None), ("er_2", "1.20")):  # er_2 twice
        employer(employer_id, step)
    add("EmployerChanged", "er_1", {"employer_id": "er_1", "name": "Firm er_1 (renamed)", "region": REGION,
                                    "status": "active", "changed_on": "2020-06-01", "risk_class": 3,
                                    "base_rate": "0.0060"})
    employer("er_3")
    worker("ee_1", "er_1", "2016-02-01", 1)
    worker("ee_2", "er_1", "2016-02-01", None)
    worker("ee_3", "er_2", "2016-02-01", 3)
    worker("ee_3", "er_3", "2017-03-01", 33)  # the same worker twice in the run
    worker("ee_4", "er_2", "2016-02-01", 4)
    add("EmployeeSeparated", "ee_1", {"employee_id": "ee_1", "employer_id": "er_1", "separated_on": "2019-08-31"})
    worker("ee_1", "er_1", "2019-10-01", 11)  # a rehire: its worker is stored already
    worker("ee_5", "er_3", "2016-02-01", 5)
    worker("w9", "e9", "2025-01-01", 9)  # the claim's worker, after the claim (its lines wait for the account)
    add("BankAccountChanged", "ee_4", {"employee_id": "ee_4", "bank_account": account(44), "changed_on": "2021-01-01"})
    worker("ee_6", "er_3", "2016-02-01", 6)
    return made


def book() -> list[Envelope]:
    claims, policies = streams(REGION)
    published = [e for e in policies if e.type == "PolicyPublished"]
    return [published[0], *claims, *enrollment_events(), published[1]]


def wage_events(history_version: int = 0) -> list[Envelope]:
    """Wage history of two employers and months in one WageHistoryImported (a worker's month
    again in a later one: the first stays), an older log's WagesImported, and a report of one
    of the months, which is in force over the history from then on. The first history is a v1
    event (lines) of an older log, the second a v2 (columns); `history_version` makes both v1
    or both v2, for the upcaster's read to be compared with the columns'."""
    made: list[Envelope] = []

    def add(type_: str, aggregate_id: str, payload: dict, version: int = 0) -> None:
        n = len(made)
        made.append(Envelope(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"wages/{n}"), type=type_,
            schema_version=version or REGISTRY.latest_version(type_), aggregate_type="x", aggregate_id=aggregate_id,
            sequence=n + 1, occurred_on=date(2026, 1, 1), recorded_at=T0 + timedelta(seconds=n), actor="t",
            payload=payload))

    def line(employee_id: str, employer_id: str, period: str, wage: str, row: int) -> dict:
        return {"employee_id": employee_id, "employer_id": employer_id, "period": period, "wage": wage, "row": row,
                "legacy_id": f"{employee_id}/{employer_id}/{period}"}

    def history(aggregate_id: str, lines: list[dict], version: int) -> None:
        if version == 1:
            add("WageHistoryImported", aggregate_id, {"import_id": "imp_wages_a", "lines": lines}, version=1)
            return
        add("WageHistoryImported", aggregate_id, {
            "import_id": "imp_wages_a", "employee_ids": [ln["employee_id"] for ln in lines],
            "employer_ids": [ln["employer_id"] for ln in lines], "periods": [ln["period"] for ln in lines],
            "wages_fen": [int(ln["wage"].replace(".", "")) for ln in lines], "rows": [ln["row"] for ln in lines],
            "legacy_ids": [ln["legacy_id"] for ln in lines]}, version=2)

    add("WagesImported", "legacy-wages-er_1-2025-10", {
        "employer_id": "er_1", "region": REGION, "period": "2025-10", "import_id": "imp_wages_old",
        "lines": [{"employee_id": "ee_1", "wage": "7000.00", "row": 2, "legacy_id": "W1/E1/2025-10"}]})
    history("legacy-wages-imp_wages_a-2", [
        line("ee_1", "er_1", "2025-11", "7100.00", 2), line("ee_2", "er_1", "2025-11", "5200.00", 3),
        line("ee_1", "er_1", "2025-12", "7200.00", 4), line("ee_3", "er_2", "2025-11", "6300.00", 5),
        line("ee_1", "er_1", "2025-10", "9999.00", 6)],  # ee_1's 2025-10 came first from the old log
        history_version or 1)
    add("WageReported", "wages-er_2-2025-11", {
        "report_id": "wr_1", "employer_id": "er_2", "region": REGION, "period": "2025-11",
        "lines": [{"employee_id": "ee_3", "wage": "6400.00"}, {"employee_id": "ee_4", "wage": "4000.00"}],
        "payroll": "10400.00", "rate": "0.004", "contribution_due": "41.60", "due_date": "2025-12-15",
        "correction_of": None, "delta_due": "41.60", "rate_segments": [],
        "policy_ref": {"region": REGION, "effective_from": "2016-01-01", "version": 1}})
    history("legacy-wages-imp_wages_a-7", [
        line("ee_5", "er_2", "2025-11", "5500.00", 7), line("ee_2", "er_1", "2025-12", "5300.00", 8),
        line("ee_1", "er_1", "2025-11", "1.00", 9)],  # a lower wage of ee_1's 2025-11, later: the first stays
        history_version or 2)
    return made


def test_wage_history_as_lines_v1_or_columns_v2_projects_the_same(runtime) -> None:  # noqa: ANN001
    """A log's v1 WageHistoryImported (lines, upcast on read, one by one) and the v2 an import
    writes now (columns, in bulk) leave the same claims rows."""
    ctx = runtime.services["claims"].ctx
    projection = ClaimsWagesProjection(ctx)
    v1, v2 = wage_events(history_version=1), wage_events(history_version=2)
    assert REGISTRY.upcast(v1[1]).payload == v2[1].payload
    project(ctx, projection, [v1])
    reference = snapshot(ctx, projection, ())
    project(ctx, projection, [v2])
    assert snapshot(ctx, projection, ()) == reference


CASES = {
    "levy": ("levy", LevyEnrollmentProjection, ()),
    "claims": ("claims", ClaimsEnrollmentProjection, ()),
    "documents": ("claims", DocumentsProjection, (document_parties, claim_documents)),
    "wages": ("claims", ClaimsWagesProjection, ()),
    "payouts": ("payments", PayoutFactsProjection, ()),
    "entitlements": ("payments", EntitlementsProjection, (accounts, employer_facts, entitlement_lines)),
}


def snapshot(ctx, projection, tables) -> tuple[str, list]:  # noqa: ANN001
    with ctx.session_factory() as s:
        rows = [(t.name, [tuple(r) for r in s.execute(select(*[c for c in t.columns if c.name not in CLOCK])
                                                      .order_by(*t.primary_key.columns))])
                for t in (*getattr(projection, "tables", ()), *tables)]
        return projection.state_hash(s), rows


def project(ctx, projection, batches: list[list[Envelope]], one_by_one: bool = False) -> None:  # noqa: ANN001
    with ctx.session_factory() as s, s.begin():
        projection.reset(s)
    for batch in batches:
        with ctx.session_factory() as s, s.begin():
            if one_by_one:
                for e in batch:
                    projection.handle(s, e)
            else:
                projection.handle_batch(s, batch)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_batch_projects_the_rows_one_by_one_gives(runtime, case: str) -> None:  # noqa: ANN001
    service, make, tables = CASES[case]
    ctx = runtime.services[service].ctx
    events = wage_events() if case == "wages" else book()
    projection = make(ctx) if case == "wages" else make()
    project(ctx, projection, [events], one_by_one=True)
    reference = snapshot(ctx, projection, tables)
    assert any(rows for _name, rows in reference[1]), "the events were projected"
    for batches in ([events], [events[:9], events[9:]], [events[:14], events[14:]], [events[:2], events[2:]],
                    [events, events], [events + events]):
        project(ctx, projection, batches)
        assert snapshot(ctx, projection, tables) == reference, [len(b) for b in batches]


@pytest.mark.parametrize("case", ["levy", "claims", "documents", "payouts"])
def test_the_new_keys_of_a_run_do_not_go_one_by_one(runtime, case: str) -> None:  # noqa: ANN001
    service, make, _tables = CASES[case]
    ctx = runtime.services[service].ctx
    events = book()
    projection = make()
    handled: list[str] = []
    plain = projection.handle
    projection.handle = lambda s, e: (handled.append(e.type), plain(s, e))[1]  # type: ignore[method-assign]
    project(ctx, projection, [events])
    # one by one: ee_3 (twice in its run), ee_1 (its rehire: stored, or for documents and payouts,
    # whose run goes on past the separation they do not read, twice in its run), w9 for documents
    # (a claim waits)
    assert handled.count("EmployeeEnrolled") <= 5 < sum(e.type == "EmployeeEnrolled" for e in events)


def chunked(events: list[Envelope]) -> list[Envelope]:
    """`events` with each run of EmployeeEnrolled recorded as an import's chunk of workers (an
    EmployeesImported, its workers as columns), as a go-live logs them: a chunk here holds a
    worker twice (ee_3) and a worker stored already (ee_1's rehire), which no import makes but a
    consumer must take as one by one."""
    out: list[Envelope] = []
    run: list[Envelope] = []

    def chunk() -> None:
        if not run:
            return
        n = len(out)
        p = [e.payload for e in run]
        accounts = [q["bank_account"] or {} for q in p]
        out.append(Envelope(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"chunk/{n}"), type="EmployeesImported", schema_version=1,
            aggregate_type="workers_import", aggregate_id=f"workers-imp_employees_a-{n}", sequence=1,
            occurred_on=date(2026, 1, 1), recorded_at=run[0].recorded_at, actor="t", payload={
                "import_id": "imp_employees_a", "employee_ids": [q["employee_id"] for q in p],
                "employer_ids": [q["employer_id"] for q in p], "id_numbers": [q["id_number"] for q in p],
                "names": [q["name"] for q in p], "birth_dates": [q["birth_date"] for q in p],
                "sexes": [q["sex"] for q in p], "hired_ons": [q["hired_on"] for q in p],
                "bank_codes": [a.get("bank_code") for a in accounts], "account_nos": [a.get("account_no") for a in accounts],
                "holders": [a.get("holder") for a in accounts], "rows": [10 * n + i + 2 for i in range(len(p))],
                "legacy_ids": [f"W{10 * n + i}" for i in range(len(p))]}))
        run.clear()

    for e in events:
        if e.type == "EmployeeEnrolled":
            run.append(e)
            continue
        chunk()
        out.append(e)
    chunk()
    return out


@pytest.mark.parametrize("case", ["levy", "claims", "documents", "payouts", "entitlements"])
def test_a_chunk_of_workers_as_columns_projects_what_its_enrollments_one_by_one_give(runtime, case: str) -> None:  # noqa: ANN001
    service, make, tables = CASES[case]
    ctx = runtime.services[service].ctx
    events = chunked(book())
    assert sum(e.type == "EmployeesImported" for e in events) == 3
    projection = make()
    project(ctx, projection, [each_worker(events)], one_by_one=True)
    reference = snapshot(ctx, projection, tables)
    for batches in ([events], [events[:9], events[9:]], [events[:12], events[12:]], [events, events]):
        project(ctx, projection, batches)
        assert snapshot(ctx, projection, tables) == reference, [len(b) for b in batches]


def test_a_chunk_of_workers_as_columns_is_its_enrollments(runtime) -> None:  # noqa: ANN001 - its event types
    for e in chunked(book()):
        if e.type == "EmployeesImported":
            chunk, enrolled = ImportedWorkers.of(e), enrollments(e)
            assert chunk.event_ids() == [str(w.event_id) for w in enrolled]
            backwards = list(range(len(chunk)))[::-1]
            assert chunk.only(backwards).enrollments() == enrolled[::-1]
            assert chunk.employee_ids == [w.aggregate_id for w in enrolled]


def test_a_chunk_of_workers_names_its_old_keys_as_its_enrollments_do(runtime) -> None:  # noqa: ANN001
    ctx = runtime.services["claims"].ctx
    projection = LegacyRefsProjection(("enrollment",))
    events = chunked(book())
    project(ctx, projection, [each_worker(events)], one_by_one=True)
    with ctx.session_factory() as s:
        reference = projection.state_hash(s)
        assert s.execute(select(legacy_refs)).first() is not None
    for batches in ([events], [events[:12], events[12:]], [events, events]):
        project(ctx, projection, batches)
        with ctx.session_factory() as s:
            assert projection.state_hash(s) == reference


def test_imported_wage_history_is_in_force_until_a_report_of_its_month(runtime) -> None:  # noqa: ANN001
    ctx = runtime.services["claims"].ctx
    projection = ClaimsWagesProjection(ctx)
    project(ctx, projection, [wage_events()])
    keys = [("ee_1", "er_1", "2025-10"), ("ee_1", "er_1", "2025-11"), ("ee_2", "er_1", "2025-11"),
            ("ee_1", "er_1", "2025-12"), ("ee_2", "er_1", "2025-12"), ("ee_3", "er_2", "2025-11"),
            ("ee_4", "er_2", "2025-11"), ("ee_5", "er_2", "2025-11")]
    with ctx.session_factory() as s:
        in_force = {key: worker_wages(s, key[0], key[1], [key[2]]).get(key[2]) for key in keys}
        reported = {(r.employee_id, r.employer_id, r.period): r.report_id for r in s.execute(select(wages))}
    assert in_force == {
        ("ee_1", "er_1", "2025-10"): Decimal("7000.00"),  # the older log's, first: the later 9999.00 stays out
        ("ee_1", "er_1", "2025-11"): Decimal("7100.00"), ("ee_2", "er_1", "2025-11"): Decimal("5200.00"),
        ("ee_1", "er_1", "2025-12"): Decimal("7200.00"), ("ee_2", "er_1", "2025-12"): Decimal("5300.00"),
        # er_2's 2025-11 is reported: the report is in force, ee_5's imported wage is not
        ("ee_3", "er_2", "2025-11"): Decimal("6400.00"), ("ee_4", "er_2", "2025-11"): Decimal("4000.00"),
        ("ee_5", "er_2", "2025-11"): None}
    # the history is kept once: the wages table holds the reports' lines alone
    assert reported == {("ee_3", "er_2", "2025-11"): "wr_1", ("ee_4", "er_2", "2025-11"): "wr_1"}


def test_stored_finds_the_stored_keys_whatever_their_span(runtime) -> None:  # noqa: ANN001
    """`stored` answers a span of keys no stored key falls in by one range probe (SQLite): the
    same answer as a lookup a key, with a stored key inside the span, at its ends or outside."""
    from libs.imports.bulk import RANGE_PROBE_KEYS, stored
    from services.claims.tables import claims_workers

    ctx = runtime.services["claims"].ctx
    keys = [f"ee_b{n:04d}" for n in range(RANGE_PROBE_KEYS + 4)]
    with ctx.session_factory() as s, s.begin():
        s.execute(claims_workers.insert(), [{"employee_id": k, "birth_date": date(1990, 1, 1), "sex": "female"}
                                            for k in ("ee_a0001", "ee_c0001")])
        assert stored(s, claims_workers.c.employee_id, keys) == set()  # stored keys outside the span only
        inserted: set[str] = set()
        for inside in (keys[7], keys[0], keys[-1]):  # within the span, then at its ends
            s.execute(claims_workers.insert().values(employee_id=inside, birth_date=date(1990, 1, 1), sex="male"))
            inserted.add(inside)
            assert stored(s, claims_workers.c.employee_id, keys) == inserted
        # a column no index leads with: looked up key by key, as ever
        assert stored(s, claims_workers.c.sex, ["male", *[f"x{n}" for n in range(RANGE_PROBE_KEYS)]]) == {"male"}


def leavers() -> list[Envelope]:
    """A go-live's workers who left, as the employees kind logs them: each one's EmployeeEnrolled
    and EmployeeSeparated in turn (its own stream), among them a worker rehired and separated
    again, one separated on the day it was hired, a separation before any hire of its employer,
    a worker whose employer is not enrolled, and a worker of the run hired twice by one employer."""
    made: list[Envelope] = []

    def add(type_: str, aggregate_id: str, payload: dict) -> None:
        logged(made, "leavers", type_, "worker", aggregate_id, len(made) + 1, payload)

    def hire(employee_id: str, employer_id: str, hired_on: str, n: int | None = None) -> None:
        add("EmployeeEnrolled", employee_id, {
            "employee_id": employee_id, "employer_id": employer_id, "id_number": f"id-{employee_id}",
            "name": f"Worker {employee_id}", "birth_date": "1981-02-03", "sex": "female", "hired_on": hired_on,
            "bank_account": account(n) if n is not None else None})

    def leave(employee_id: str, employer_id: str, separated_on: str) -> None:
        add("EmployeeSeparated", employee_id, {"employee_id": employee_id, "employer_id": employer_id,
                                               "separated_on": separated_on})

    for employer_id in ("er_1", "er_2"):
        add("EmployerEnrolled", employer_id, {
            "employer_id": employer_id, "uscc": "x", "name": f"Firm {employer_id}", "region": REGION,
            "industry_code": "C3311", "risk_class": 2, "base_rate": "0.0040", "enrolled_on": "2016-01-01",
            "floating_step": None})
    for i in range(1, 7):
        hire(f"lw_{i}", f"er_{1 + i % 2}", f"2016-0{i}-01", i if i % 3 else None)
        leave(f"lw_{i}", f"er_{1 + i % 2}", f"2020-0{i}-15")
    hire("lw_2", "er_1", "2020-09-01", 22)  # rehired and separated again
    leave("lw_2", "er_1", "2021-03-31")
    hire("lw_7", "er_2", "2018-05-05")
    leave("lw_7", "er_2", "2018-05-05")  # the day of the hire
    leave("lw_8", "er_1", "2017-01-31")  # before its hire by er_1
    hire("lw_8", "er_1", "2017-06-01", 8)
    hire("lw_9", "er_9", "2019-01-01")  # an employer not enrolled: no coverage
    leave("lw_9", "er_9", "2019-12-31")
    hire("lw_10", "er_1", "2016-01-01")
    hire("lw_10", "er_1", "2019-01-01")  # hired twice in the run by one employer
    leave("lw_10", "er_1", "2018-06-30")
    add("EmployerChanged", "er_2", {"employer_id": "er_2", "name": "Firm er_2", "region": "449912", "status": "active",
                                    "changed_on": "2022-01-01", "risk_class": 2, "base_rate": "0.0040"})
    hire("lw_11", "er_2", "2022-02-01")  # after the region's change: the run before it is done
    leave("lw_11", "er_2", "2023-06-30")
    return made


@pytest.mark.parametrize("case", ["levy", "claims", "documents", "payouts", "entitlements"])
def test_workers_who_left_project_in_bulk_what_one_by_one_gives(runtime, case: str) -> None:  # noqa: ANN001
    """Workers who left, each one's enrollment and separation in turn: as one batch, split
    anywhere (a worker's separation after its enrollment is stored), and redelivered, the rows
    and state_hash of one by one; levy and claims write them in bulk (no handler one by one), the
    others' runs of enrollments go on past the separations they do not read."""
    service, make, tables = CASES[case]
    ctx = runtime.services[service].ctx
    events = leavers()
    projection = make()
    project(ctx, projection, [events], one_by_one=True)
    reference = snapshot(ctx, projection, tables)
    assert any(rows for _name, rows in reference[1]), "the events were projected"
    for batches in ([events], [events[:5], events[5:]], [events[:18], events[18:]], [events[:21], events[21:]],
                    [events, events]):
        project(ctx, projection, batches)
        assert snapshot(ctx, projection, tables) == reference, [len(b) for b in batches]
    handled: list[str] = []
    plain = projection.handle
    projection.handle = lambda s, e: (handled.append(e.type), plain(s, e))[1]  # type: ignore[method-assign]
    project(ctx, projection, [events])
    if case in ("levy", "claims"):
        assert "EmployeeEnrolled" not in handled and "EmployeeSeparated" not in handled, handled
    elif case in ("documents", "payouts"):  # the runs of enrollments: before the employer's change, and after it
        name = "_names" if case == "documents" else "_workers"
        runs: list[int] = []
        bulk = getattr(projection, name)
        setattr(projection, name, lambda s, run: (runs.append(len(run)), bulk(s, run))[1])
        project(ctx, projection, [events])
        assert len([n for n in runs if n > 2]) == 1 and len(runs) <= 3, runs
