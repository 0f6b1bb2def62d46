"""Going live, the enrollment service's kinds (MIGRATION.md): `employers` and `employees`.

Each row is checked as `POST /v1/employers` and `POST /v1/employers/{id}/employees` check it
(the identifiers, the industry's class from the policy in force, the worker's age, the employment)
and recorded by the same aggregates, its events carrying the row as their `source`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from libs import identifiers
from libs.events.consumer import insert_rows
from libs.events.uow import UnitOfWork
from libs.imports.bulk import driver_rows, stored_values
from libs.imports.rows import Row, RowRejected, Table, all_texts
from libs.imports.runner import (Accepted, AcceptedRows, Outcome, RecordedRows, in_one_savepoint, in_savepoint,
                                 source)
from libs.imports.tables import TABLES
from libs.policy.projection import policy_in_force
from libs.runtime.service import ServiceContext

from . import handlers
from .domain.commands import BankAccountInput
from .domain.events import BankAccount
from .domain.model import (POOLING_ID, Classification, Conflict, Employer, Invalid, NewHire, NotFound, Pooling,
                           Worker, WorkersImport, workers_import_id)
from .tables import employers, employments, imported_workers, workers
from .worker_history import load_worker

LOOKUP_CHUNK = 500
SAVE_CHUNK = 1_000  # new aggregates per append (libs.events.store.MAX_APPEND_BATCH events at most)
WORKERS_PER_EVENT = 1_000  # an EmployeesImported of ~250 kB: well under a Kafka message's limit,
EVENT_TEXT_BYTES = 500_000  # and of at most this much text (names of 200 characters, in UTF-8)
WORKER_FIXED_BYTES = 300  # a worker's ids, dates, account numbers and JSON punctuation, at most


def _rejected(exc: Exception) -> RowRejected:
    """The enrollment domain's refusals as a row's rejection, naming the field where it can."""
    if isinstance(exc, Invalid):
        return RowRejected(exc.field, exc.message)
    if isinstance(exc, Conflict):
        return RowRejected("legacy_id", exc.message)
    return RowRejected("legacy_id", str(exc))


def _checked(column: str, check, value: str):  # noqa: ANN001, ANN202
    try:
        return check(value)
    except identifiers.InvalidIdentifier as exc:
        raise RowRejected(column, exc.message) from None


# ---------------------------------------------------------------------------------- employers

@dataclass(frozen=True)
class NewEmployer:
    uscc: str
    name: str
    region: str
    enrolled_on: date
    classification: Classification
    floating_step: Decimal | None


EMPLOYER_COLUMNS = ("employer_id", "uscc", "name", "industry_code", "division", "region", "risk_class", "base_rate",
                    "status", "enrolled_on", "changed_on", "version")


_employer_driver_row = driver_rows(employers, EMPLOYER_COLUMNS)


def _employer_values(employer: Employer) -> tuple:
    """handlers.employer_row as the driver takes it, in EMPLOYER_COLUMNS' order."""
    return _employer_driver_row(handlers.employer_row(employer))


class EmployersKind:
    name = "employers"
    columns = ("legacy_id", "uscc", "name", "industry_code", "region", "enrolled_on", "floating_step")
    optional = ()

    def legacy_id(self, row: Row) -> str:
        return row.text("legacy_id", max_len=64)  # type: ignore[return-value]

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        versions: dict[tuple[str, date], Any] = {}
        # an industry's class under a policy version: the same (immutable) Classification for each
        # of the chunk's employers of that industry, region and day, made once
        classes: dict[tuple[str, date, identifiers.IndustryCode], Classification] = {}
        with ctx.session_factory() as session:
            known = stored_values(session, employers.c.uscc, employers.c.employer_id, [r["uscc"] for r in rows])

            def version(region: str, on: date) -> Any:
                if (region, on) not in versions:
                    versions[(region, on)] = policy_in_force(session, region, on)
                return versions[(region, on)]

            def classification(region: str, on: date, policy: Any, industry: identifiers.IndustryCode,
                               ) -> Classification:
                key = (region, on, industry)
                if key not in classes:
                    classes[key] = handlers.classification_by(policy, industry)
                return classes[key]

            out: dict[int, Any] = {}
            for row in rows:
                try:
                    out[row.number] = self._check(row, known, version, classification)
                except RowRejected as exc:
                    out[row.number] = exc
        return out

    @staticmethod
    def _check(row: Row, known: dict[str, str], version, classification) -> NewEmployer:  # noqa: ANN001
        uscc = _checked("uscc", identifiers.check_uscc, row["uscc"])
        if uscc in known:
            raise RowRejected("uscc", f"is already enrolled as employer {known[uscc]}")
        name = row.text("name")
        region = _checked("region", identifiers.check_region, row["region"])
        enrolled_on = row.day("enrolled_on")
        industry = _checked("industry_code", identifiers.check_industry_code, row["industry_code"])
        policy = version(region, enrolled_on)
        if policy is None:
            raise RowRejected("enrolled_on", f"no policy is in force in region {region} (nor nationally) on "
                                             f"{enrolled_on.isoformat()}")
        classified = classification(region, enrolled_on, policy, industry)
        step = None
        if row["floating_step"]:
            try:
                step = Decimal(row["floating_step"])
            except ArithmeticError:
                raise RowRejected("floating_step", "must be a multiplier such as 1.20") from None
            allowed = policy.document.allowed_multipliers(classified.risk_class)
            if step not in allowed:
                raise RowRejected("floating_step", f"class {classified.risk_class} floats only to "
                                                   f"{', '.join(str(a) for a in allowed)}")
            step = next(a for a in allowed if a == step)  # the policy's own spelling (1.2 → 1.20)
        return NewEmployer(uscc, name, region, enrolled_on, classified, step)  # type: ignore[arg-type]

    def record(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, NewEmployer]]) -> dict[int, Outcome]:
        enrolled: dict[str, int] = {}  # USCC → the row that enrolled it in this request
        pooling = uow.load(Pooling, POOLING_ID)  # the consolidations, read once for the file

        def enroll(row: Row, e: NewEmployer) -> Accepted:
            if e.uscc in enrolled:
                raise RowRejected("uscc", f"is enrolled by row {enrolled[e.uscc]} of this file")
            try:  # a pool gone by the employer's enrolment day takes it no more (as POST /v1/employers)
                handlers.refuse_region_gone(pooling, e.region, e.enrolled_on)
            except Invalid as exc:
                raise _rejected(exc) from None
            employer = Employer.enroll(handlers.new_employer_id(), e.uscc, e.name, e.region, e.enrolled_on,
                                       e.classification, e.floating_step, source(import_id, self.name, row))
            uow.save(employer)
            uow.session.execute(insert(employers).values(handlers.employer_row(employer)))
            enrolled[e.uscc] = row.number
            return Accepted(employer.id, {"employers": 1})

        out: dict[int, Outcome] = {}
        once = Counter(e.uscc for _row, e in rows)
        new: list[tuple[Row, Employer]] = []  # rows of a USCC once in the chunk: recorded together
        ids = iter(handlers.new_employer_ids(sum(1 for _row, e in rows if once[e.uscc] == 1)))
        for row, e in rows:
            if once[e.uscc] == 1:
                try:
                    handlers.refuse_region_gone(pooling, e.region, e.enrolled_on)
                except Invalid as exc:
                    out[row.number] = _rejected(exc)
                    continue
                new.append((row, Employer.enroll(next(ids), e.uscc, e.name, e.region, e.enrolled_on,
                                                 e.classification, e.floating_step,
                                                 source(import_id, self.name, row))))

        def write() -> None:
            for i in range(0, len(new), SAVE_CHUNK):
                uow.save_new([employer for _row, employer in new[i:i + SAVE_CHUNK]])
            # on the driver (insert_rows): dates as ISO text
            insert_rows(uow.session, employers, EMPLOYER_COLUMNS, [_employer_values(employer) for _row, employer in new])

        if in_one_savepoint(uow, write):
            out.update({row.number: Accepted(employer.id, {"employers": 1}) for row, employer in new})
        else:  # one of them was enrolled meanwhile: row by row, each refused or recorded alone
            out.update({row.number: in_savepoint(uow, lambda row=row, e=e: enroll(row, e)) for row, e in rows
                        if once[e.uscc] == 1 and row.number not in out})
        out.update({row.number: in_savepoint(uow, lambda row=row, e=e: enroll(row, e)) for row, e in rows
                    if once[e.uscc] > 1})
        return out


# ---------------------------------------------------------------------------------- employees

WORKER_COLUMNS = ("employee_id", "id_number", "name", "birth_date", "sex", "bank_code", "account_no", "holder")
EMPLOYMENT_COLUMNS = ("employee_id", "employer_id", "hired_on", "separated_on", "active_employer_id")


def _worker_values(worker: Worker) -> tuple:
    """handlers.worker_row as the driver takes it, in WORKER_COLUMNS' order."""
    row = handlers.worker_row(worker)
    return (*(row[c] for c in WORKER_COLUMNS[:3]), row["birth_date"].isoformat(),
            *(row[c] for c in WORKER_COLUMNS[4:]))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


class NewEmployment(NamedTuple):
    employer_id: str
    id_number: identifiers.IdNumber
    name: str
    hired_on: date
    separated_on: date | None
    bank_account: BankAccount | None


def _event_sized(hires: list[NewHire]) -> list[list[NewHire]]:
    """The hires in parts of at most WORKERS_PER_EVENT and EVENT_TEXT_BYTES, in their order."""
    longest = max(map(len, (hire.name for hire in hires)), default=0) + max(
        map(len, (hire.holder for hire in hires if hire.holder)), default=0)
    if WORKERS_PER_EVENT * (WORKER_FIXED_BYTES + 4 * longest) <= EVENT_TEXT_BYTES:
        # no part can reach EVENT_TEXT_BYTES (UTF-8 takes at most 4 bytes a character): the
        # parts the loop below makes are its slices of WORKERS_PER_EVENT, without a byte counted
        return [hires[i:i + WORKERS_PER_EVENT] for i in range(0, len(hires), WORKERS_PER_EVENT)]
    parts: list[list[NewHire]] = []
    size = 0
    for hire in hires:
        text = WORKER_FIXED_BYTES + len(hire.name.encode()) + (len(hire.holder.encode()) if hire.holder else 0)
        if not parts or len(parts[-1]) == WORKERS_PER_EVENT or size + text > EVENT_TEXT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(hire)
        size += text
    return parts


class EmployeesKind:
    name = "employees"
    columns = ("legacy_id", "employer_legacy_id", "id_number", "name", "hired_on", "separated_on", "bank_code",
               "account_no", "holder")
    optional = ()
    # A request's commit, its pump round (each consumer's poll, projections and commit) and the
    # pages its writes dirty in the random-keyed B-trees (ID numbers, legacy keys) are shared by
    # its rows: a province's million workers in 50 requests, not 500 (the command line posts
    # this many, injuryledger/imports_cli.py CHUNK_ROWS_OF)
    max_rows = 20_000

    def legacy_id(self, row: Row) -> str:
        return row.text("legacy_id", max_len=64)  # type: ignore[return-value]

    def check(self, ctx: ServiceContext, rows: Sequence[Row]) -> dict[int, Any]:
        with ctx.session_factory() as session:
            t = TABLES.import_rows
            wanted = sorted({r["employer_legacy_id"] for r in rows if r["employer_legacy_id"]})
            found: dict[str, str] = {}
            for i in range(0, len(wanted), LOOKUP_CHUNK):
                found.update(session.execute(select(t.c.legacy_id, t.c.ref_id).where(
                    t.c.kind == "employers", t.c.legacy_id.in_(wanted[i:i + LOOKUP_CHUNK]))).all())
        today = handlers.today()
        good = self._all_good(rows, found, today)
        if good is not None:
            return good
        out: dict[int, Any] = {}
        for row in rows:
            try:
                out[row.number] = self._check(row, found, today)
            except RowRejected as exc:
                out[row.number] = exc
        return out

    @staticmethod
    def _all_good(rows: Sequence[Row], employers_by_legacy: dict[str, str],
                  today: date) -> dict[int, NewEmployment] | None:
        """`_check` of every row, a column at a time (each date read once), when every row is
        good, the commonest request; None as soon as one is not: then row by row, which names
        each bad row's field (tests/imports/test_employees_check_paths.py: the same verdicts)."""
        values = [row.values for row in rows]
        if not values:
            return {}

        def column(name: str) -> list[str]:
            return [v[name] for v in values]

        employer_legacy_ids, names = column("employer_legacy_id"), column("name")
        if not all_texts(employer_legacy_ids, 64) or not all_texts(names, 200):
            return None
        employer_ids = list(map(employers_by_legacy.get, employer_legacy_ids))
        id_numbers = identifiers.id_numbers_if_all_good(column("id_number"), today)
        if None in employer_ids or id_numbers is None:
            return None
        days: dict[str, date | None] = {"": None}
        for text in {*column("hired_on"), *column("separated_on")} - {""}:
            try:
                days[text] = date.fromisoformat(text)
            except ValueError:
                return None
        hired_ons = list(map(days.__getitem__, column("hired_on")))
        separated_ons = list(map(days.__getitem__, column("separated_on")))
        if None in hired_ons or any(s is not None and s < h  # type: ignore[operator]
                                    for s, h in zip(separated_ons, hired_ons)):
            return None
        accounts: list[BankAccount | None] = [None] * len(values)
        banked = [i for i, v in enumerate(values) if v["bank_code"] or v["account_no"] or v["holder"]]
        if banked:
            codes, numbers, holders = ([values[i][c] for i in banked] for c in ("bank_code", "account_no", "holder"))
            digits = "".join(codes) + "".join(numbers)
            if not (all_texts(codes, 12) and min(map(len, codes)) == 12 and all_texts(numbers, 32)
                    and min(map(len, numbers)) >= 8 and all_texts(holders, 200) and digits.isascii() and digits.isdigit()):
                return None
            for i, code, number, holder in zip(banked, codes, numbers, holders):
                accounts[i] = BankAccount(bank_code=code, account_no=number, holder=holder)
        return {row.number: NewEmployment(*fields) for row, fields in zip(rows, zip(
            employer_ids, id_numbers, names, hired_ons, separated_ons, accounts))}

    @staticmethod
    def _check(row: Row, employers_by_legacy: dict[str, str], today: date) -> NewEmployment:
        employer_legacy_id = row.text("employer_legacy_id", max_len=64)
        employer_id = employers_by_legacy.get(employer_legacy_id)  # type: ignore[arg-type]
        if employer_id is None:
            raise RowRejected("employer_legacy_id", f"no employer with legacy_id {employer_legacy_id} is imported")
        id_number = _checked("id_number", lambda s: identifiers.check_id_number(s, today=today), row["id_number"])
        name = row.text("name")
        hired_on = row.day("hired_on")
        separated_on = row.day("separated_on", required=False)
        if separated_on is not None and separated_on < hired_on:  # type: ignore[operator]
            raise RowRejected("separated_on", f"is before the hire on {hired_on.isoformat()}")  # type: ignore[union-attr]
        given = [c for c in ("bank_code", "account_no", "holder") if row[c]]
        account = None
        if given:
            missing = [c for c in ("bank_code", "account_no", "holder") if not row[c]]
            if missing:
                raise RowRejected(missing[0], "is required with a bank account (bank_code, account_no, holder)")
            try:
                account = handlers.checked_account("bank_account", BankAccountInput(
                    row["bank_code"], row["account_no"], row.text("holder")))  # type: ignore[arg-type]
            except Invalid as exc:
                raise RowRejected(exc.field.removeprefix("bank_account."), exc.message) from None
        return NewEmployment(employer_id, id_number, name, hired_on, separated_on, account)  # type: ignore[arg-type]

    def legacy_ids(self, table: Table) -> list[str] | None:
        """`legacy_id` of every row, a column at a time when each is within its 64 characters."""
        keys = table.columns["legacy_id"]
        return keys if all_texts(keys, 64) else None

    def record(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, NewEmployment]]) -> RecordedRows:
        """A new person (an ID number not on the ledger, once in the chunk) is hired in memory and
        the chunk's new workers recorded together (one append, one insert of each read model;
        those still employed answered as columns); a person already on the ledger, or in several
        rows, goes row by row in a savepoint."""
        session = uow.session
        known = stored_values(session, workers.c.id_number, workers.c.employee_id, [e.id_number.value for _, e in rows])
        once = Counter(e.id_number.value for _row, e in rows)
        new_people = [(row, e) for row, e in rows if once[e.id_number.value] == 1 and e.id_number.value not in known]
        out, hired = self._record_new(uow, import_id, new_people) if new_people else ({}, [])
        done = {hire.row for hire in hired}
        out.update(self._record_each(uow, import_id, [(row, e) for row, e in rows
                                                      if row.number not in out and row.number not in done], known))
        ones = [1] * len(hired)
        return RecordedRows(AcceptedRows([hire.row for hire in hired], [hire.employee_id for hire in hired],
                                         {"employments": ones, "workers": ones}), out)

    def _record_new(self, uow: UnitOfWork, import_id: str,
                    rows: Sequence[tuple[Row, NewEmployment]]) -> tuple[dict[int, Outcome], list[NewHire]]:
        """Every row here is a new person: recorded together in one savepoint (or none: rows left
        out of the answer go row by row), the outcomes of the others by row and the hires still
        employed apart, all accepted. Those still employed are checked as a first hire
        (`Worker.check_first_hire`) and recorded WORKERS_PER_EVENT to an EmployeesImported
        (`WorkersImport`), one event for a thousand rows, no Worker each; one who left (a
        separation too) is hired and separated by its own Worker, its own events, as one by one."""
        session = uow.session
        status = stored_values(session, employers.c.employer_id, employers.c.status, [e.employer_id for _, e in rows])
        out: dict[int, Outcome] = {}
        staying: list[NewHire] = []
        left: list[tuple[Row, NewEmployment, Worker]] = []
        ids = iter(handlers.new_employee_ids(len(rows)))
        check_first_hire = Worker.check_first_hire
        for row, e in rows:
            if e.employer_id not in status:
                out[row.number] = RowRejected("employer_legacy_id", f"employer {e.employer_id} does not exist")
                continue
            if status[e.employer_id] == "closed":
                out[row.number] = RowRejected("employer_legacy_id", f"employer {e.employer_id} is closed")
                continue
            id_number, account = e.id_number, e.bank_account
            try:
                if e.separated_on is None:
                    check_first_hire(id_number.birth_date, e.hired_on)
                    staying.append(NewHire(
                        next(ids), e.employer_id, id_number.value, e.name, id_number.birth_date, id_number.sex,
                        e.hired_on, account.bank_code if account else None, account.account_no if account else None,
                        account.holder if account else None, row.number, row.legacy_id))
                    continue
                worker = Worker(next(ids))
                with worker.sourced(source(import_id, self.name, row)):
                    worker.hire(e.employer_id, id_number.value, e.name, id_number.birth_date, id_number.sex,
                                e.hired_on, account)
                    worker.separate(e.employer_id, e.separated_on)
            except (Invalid, Conflict, NotFound) as exc:
                out[row.number] = _rejected(exc)
                continue
            left.append((row, e, worker))
        chunks: list[tuple[WorkersImport, list[NewHire]]] = []
        on = handlers.today()
        for part in _event_sized(staying):
            chunk = WorkersImport(workers_import_id(import_id, part[0].row))
            chunk.record(import_id, part, on)
            chunks.append((chunk, part))

        def write() -> None:
            for i in range(0, len(chunks), SAVE_CHUNK):
                uow.save_new([chunk for chunk, _part in chunks[i:i + SAVE_CHUNK]])
            for i in range(0, len(left), SAVE_CHUNK):
                uow.save_new([worker for _row, _e, worker in left[i:i + SAVE_CHUNK]])
            # on the driver (libs.events.consumer.insert_rows): dates as ISO text
            if chunks:
                insert_rows(session, imported_workers, ("employee_id", "aggregate_id"),
                            [(hire.employee_id, chunk.id) for chunk, part in chunks for hire in part])
            insert_rows(session, workers, WORKER_COLUMNS, [
                *((h.employee_id, h.id_number, h.name, h.birth_date.isoformat(), h.sex, h.bank_code, h.account_no,
                   h.holder) for h in staying),
                *(_worker_values(worker) for _row, _e, worker in left)])
            insert_rows(session, employments, EMPLOYMENT_COLUMNS, [
                *((h.employee_id, h.employer_id, h.hired_on.isoformat(), None, h.employer_id) for h in staying),
                *((worker.id, e.employer_id, e.hired_on.isoformat(), _iso(e.separated_on), None)
                  for _row, e, worker in left)])

        if not in_one_savepoint(uow, write):
            return out, []  # someone enrolled one of them meanwhile: the hired rows go row by row
        out.update({row.number: Accepted(worker.id, {"employments": 1, "workers": 1}) for row, _e, worker in left})
        return out, staying

    def _record_each(self, uow: UnitOfWork, import_id: str, rows: Sequence[tuple[Row, NewEmployment]],
                     known: dict[str, str]) -> dict[int, Outcome]:
        session = uow.session
        cache: dict[str, Worker] = {}  # by ID number: one person may have several rows
        employers_seen: dict[str, Employer] = {}

        def hire(row: Row, e: NewEmployment) -> Accepted:
            employer = employers_seen.get(e.employer_id) or uow.load(Employer, e.employer_id)
            if employer is None:
                raise RowRejected("employer_legacy_id", f"employer {e.employer_id} does not exist")
            employers_seen[e.employer_id] = employer
            if employer.status == "closed":
                raise RowRejected("employer_legacy_id", f"employer {employer.id} is closed")
            number = e.id_number.value
            worker = cache.get(number)
            new = False
            if worker is None:
                employee_id = known.get(number)
                worker = load_worker(uow, employee_id) if employee_id else None
                if worker is None:
                    worker, new = Worker(handlers.new_employee_id()), True
            try:
                with worker.sourced(source(import_id, self.name, row)):
                    worker.hire(employer.id, number, e.name, e.id_number.birth_date, e.id_number.sex, e.hired_on,
                                e.bank_account)
                    if e.separated_on is not None:
                        worker.separate(employer.id, e.separated_on)
            except (Invalid, Conflict, NotFound) as exc:
                raise _rejected(exc) from None
            uow.save(worker)
            handlers._write_worker(session, worker, new=new)
            session.execute(insert(employments).values(
                employee_id=worker.id, employer_id=employer.id, hired_on=e.hired_on, separated_on=e.separated_on,
                active_employer_id=None if e.separated_on else employer.id))
            cache[number] = worker
            known[number] = worker.id
            return Accepted(worker.id, {"employments": 1, "workers": int(new)})

        def forget(number: str) -> None:
            cache.pop(number, None)  # its savepoint rolled back: load it afresh next time

        return {row.number: in_savepoint(uow, lambda row=row, e=e: hire(row, e),
                                         lambda number=e.id_number.value: forget(number)) for row, e in rows}


KINDS = (EmployersKind(), EmployeesKind())
