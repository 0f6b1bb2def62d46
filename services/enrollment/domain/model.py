"""The enrollment aggregates: a region's policy versions, an employer, a worker.

Each decides by triggering an event and changes state only in `apply_<Event>`; replaying the
events rebuilds the same state. Inputs arrive already well-formed (identifiers checked, the risk
class mapped by the handler from the policy in force); the aggregates enforce what depends on
their own history. No I/O here.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from libs.events.aggregate import Aggregate
from libs.events.source import Source
from libs.imports.bulk import WORKER_COLUMNS
from libs.pooling import Move, region_on

from . import rules
from .events import (
    BankAccount,
    BankAccountChanged,
    EmployeeEnrolled,
    EmployeeSeparated,
    EmployeesImported,
    EmployerChanged,
    EmployerEnrolled,
    PolicyPublished,
    PolicyRef,
    PoolsConsolidated,
)


class DomainError(Exception):
    pass


class Invalid(DomainError):
    """The input contradicts the facts on record: a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class Conflict(DomainError):
    """The command does not fit the aggregate's current state: a 409."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message, self.extra = message, extra


class NotFound(DomainError):
    """Something the command names does not exist (the API answers 404)."""

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} does not exist")
        self.what, self.ident = what, ident


class NotEmployed(NotFound):
    """The worker has no employment at that employer."""

    def __init__(self, employee_id: str, employer_id: str) -> None:
        super().__init__("employment", f"of {employee_id} at {employer_id}")


# ---------------------------------------------------------------------------------- policy

POLICY_PREFIX = "policy-"


def policy_aggregate_id(region: str) -> str:
    return POLICY_PREFIX + region


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Policy(Aggregate):
    """The published versions of one region's policy (`policy-<region>`). A version is never
    edited: a second publication for the same effective date is a new version that supersedes."""

    aggregate_type = "policy"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        assert aggregate_id.startswith(POLICY_PREFIX)
        self.region = aggregate_id[len(POLICY_PREFIX):]
        self.latest_version = 0
        # effective_from -> (version, canonical document) of the newest version for that date
        self.by_date: dict[date, tuple[int, str]] = {}

    def publish(self, effective_from: date, document: dict[str, Any], on: date) -> tuple[int, bool]:
        """Publish `document` from `effective_from`. Returns (version, published): publishing
        the very document already newest for that date records nothing (a PUT is idempotent)."""
        newest = self.by_date.get(effective_from)
        if newest is not None and newest[1] == canonical(document):
            return newest[0], False
        self.trigger(PolicyPublished(region=self.region, effective_from=effective_from,
                                     version=self.latest_version + 1, document=document), on)
        return self.latest_version, True

    def apply_PolicyPublished(self, e: PolicyPublished) -> None:
        assert e.version == self.latest_version + 1, "policy versions are consecutive"
        self.latest_version = e.version
        self.by_date[e.effective_from] = (e.version, canonical(e.document))


# -------------------------------------------------------------------------------- employer

@dataclass(frozen=True)
class Classification:
    """An industry mapped to its risk class by a policy version."""

    industry_code: str
    division: str
    risk_class: int
    base_rate: Decimal
    policy_ref: PolicyRef


class Employer(Aggregate):
    aggregate_type = "employer"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.uscc = ""
        self.name = ""
        self.region = ""
        self.status = "active"
        self.enrolled_on: date | None = None
        self.last_changed_on: date | None = None
        self.classification: Classification | None = None

    @classmethod
    def enroll(cls, employer_id: str, uscc: str, name: str, region: str, enrolled_on: date,
               classification: Classification, floating_step: Decimal | None = None,
               source: Source | None = None) -> "Employer":
        """Enroll; a migrated employer (`source`) keeps the floating step the old system set."""
        employer = cls(employer_id)
        c = classification
        event = EmployerEnrolled(
            employer_id=employer_id, uscc=uscc, name=name, industry_code=c.industry_code, division=c.division,
            region=region, risk_class=c.risk_class, base_rate=c.base_rate, enrolled_on=enrolled_on,
            policy_ref=c.policy_ref, floating_step=floating_step)
        if source is None:
            employer.trigger(event, enrolled_on)
        else:
            with employer.sourced(source):
                employer.trigger(event, enrolled_on)
        return employer

    def change_status(self, status: str, changed_on: date) -> None:
        self._check_change_date(changed_on)
        if status == self.status:
            raise Conflict(f"employer {self.id} is already {status}")
        if not rules.may_change_status(self.status, status):
            raise Conflict(f"employer {self.id} is {self.status} and cannot become {status}")
        self._changed(changed_on, ("status",), status=status)

    def change(self, changed_on: date, name: str | None = None,
               classification: Classification | None = None) -> None:
        """Rename, or re-classify after a change of industry (the class mapped anew)."""
        self._check_change_date(changed_on)
        if self.status == "closed":
            raise Conflict(f"employer {self.id} is closed")
        assert self.classification is not None
        changed: list[str] = []
        if name is not None and name != self.name:
            changed.append("name")
        if classification is not None and classification.industry_code != self.classification.industry_code:
            changed.append("industry_code")
            if classification.risk_class != self.classification.risk_class:
                changed.append("risk_class")
        if not changed:
            raise Invalid("body", "changes nothing: name and industry_code are as recorded")
        self._changed(changed_on, tuple(changed), name=name if name is not None else self.name,
                      classification=classification if "industry_code" in changed else None)

    def _check_change_date(self, changed_on: date) -> None:
        assert self.enrolled_on is not None, "employer not enrolled"
        if changed_on < self.enrolled_on:
            raise Invalid("changed_on", f"is before the enrollment on {self.enrolled_on.isoformat()}")
        if self.last_changed_on is not None and changed_on < self.last_changed_on:
            raise Invalid("changed_on", f"is before the last change on {self.last_changed_on.isoformat()}")

    def _changed(self, changed_on: date, changed: tuple[str, ...], *, status: str | None = None,
                 name: str | None = None, classification: Classification | None = None) -> None:
        assert self.classification is not None
        c = classification or self.classification
        self.trigger(EmployerChanged(
            employer_id=self.id, changed_on=changed_on, status=status or self.status, name=name or self.name,
            industry_code=c.industry_code, division=c.division, risk_class=c.risk_class, base_rate=c.base_rate,
            region=self.region, changed=changed,
            policy_ref=classification.policy_ref if classification is not None else None), changed_on)

    def apply_EmployerEnrolled(self, e: EmployerEnrolled) -> None:
        self.uscc, self.name, self.region, self.enrolled_on = e.uscc, e.name, e.region, e.enrolled_on
        self.status = "active"
        self.classification = Classification(e.industry_code, e.division, e.risk_class, e.base_rate, e.policy_ref)

    def apply_EmployerChanged(self, e: EmployerChanged) -> None:
        assert self.classification is not None
        self.status, self.name, self.last_changed_on = e.status, e.name, e.changed_on
        self.classification = Classification(e.industry_code, e.division, e.risk_class, e.base_rate,
                                             e.policy_ref or self.classification.policy_ref)


# ---------------------------------------------------------------------------------- worker

@dataclass
class Employment:
    employer_id: str
    hired_on: date
    separated_on: date | None = None

    @property
    def active(self) -> bool:
        return self.separated_on is None


class Worker(Aggregate):
    """One person (one ID number), with every employment they had at any insured employer.
    The aggregate id is the `employee_id`: the same at every employer."""

    aggregate_type = "worker"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.id_number = ""
        self.name = ""
        self.birth_date: date | None = None
        self.sex = ""
        self.bank_account: BankAccount | None = None
        self.employments: list[Employment] = []

    def active_at(self, employer_id: str) -> Employment | None:
        return next((e for e in self.employments if e.employer_id == employer_id and e.active), None)

    def hire(self, employer_id: str, id_number: str, name: str, birth_date: date, sex: str, hired_on: date,
             bank_account: BankAccount | None) -> None:
        """A new employment of this person at `employer_id` (the first one creates the worker)."""
        if self.version > 0:
            assert id_number == self.id_number, "a worker is one ID number"
            birth_date, sex = self.birth_date, self.sex  # type: ignore[assignment]
        self.check_first_hire(birth_date, hired_on)
        if self.active_at(employer_id) is not None:
            raise Conflict(f"worker {self.id} is already employed by {employer_id}", employee_id=self.id)
        earlier = [e for e in self.employments if e.employer_id == employer_id]
        if any(e.hired_on == hired_on for e in earlier):
            raise Conflict(f"worker {self.id} was already hired by {employer_id} on {hired_on.isoformat()}",
                           employee_id=self.id)
        if earlier and hired_on < earlier[-1].separated_on:  # type: ignore[operator]
            raise Invalid("hired_on", f"is before the separation from this employer on "
                                      f"{earlier[-1].separated_on.isoformat()}")  # type: ignore[union-attr]
        self.trigger(EmployeeEnrolled(
            employee_id=self.id, employer_id=employer_id, id_number=id_number, name=name, birth_date=birth_date,
            sex=sex, hired_on=hired_on, bank_account=bank_account or self.bank_account), hired_on)

    @staticmethod
    def check_first_hire(birth_date: date, hired_on: date) -> None:
        """What `hire` asks of a person new to the ledger (no employment yet): their age."""
        if not rules.may_be_hired(birth_date, hired_on):
            raise Invalid("hired_on", f"is before the worker's sixteenth birthday "
                                      f"({rules.earliest_hire(birth_date).isoformat()})")

    def separate(self, employer_id: str, separated_on: date) -> None:
        employment = self.active_at(employer_id)
        if employment is None:
            if any(e.employer_id == employer_id for e in self.employments):
                raise Conflict(f"worker {self.id} is already separated from {employer_id}")
            raise NotEmployed(self.id, employer_id)
        if separated_on < employment.hired_on:
            raise Invalid("separated_on", f"is before the hire on {employment.hired_on.isoformat()}")
        self.trigger(EmployeeSeparated(employee_id=self.id, employer_id=employer_id, separated_on=separated_on),
                     separated_on)

    def change_bank_account(self, account: BankAccount, changed_on: date) -> bool:
        """Record the account benefits are paid to; the account already on record changes nothing."""
        if account == self.bank_account:
            return False
        self.trigger(BankAccountChanged(employee_id=self.id, bank_account=account, changed_on=changed_on),
                     changed_on)
        return True

    def apply_EmployeeEnrolled(self, e: EmployeeEnrolled) -> None:
        self.id_number, self.name, self.birth_date, self.sex = e.id_number, e.name, e.birth_date, e.sex
        if e.bank_account is not None:
            self.bank_account = e.bank_account
        self.employments.append(Employment(e.employer_id, e.hired_on))

    def apply_EmployeeSeparated(self, e: EmployeeSeparated) -> None:
        employment = self.active_at(e.employer_id)
        assert employment is not None, "separated from an employment that is not active"
        employment.separated_on = e.separated_on

    def apply_BankAccountChanged(self, e: BankAccountChanged) -> None:
        self.bank_account = e.bank_account


def workers_import_id(import_id: str, first_row: int) -> str:
    return f"workers-{import_id}-{first_row}"


class NewHire(NamedTuple):
    """A person new to the ledger hired by an import's row (`row`, `legacy_id`) and still
    employed, with the account benefits are paid to (None in its three fields when none is
    given): its fields in the order of EmployeesImported's columns."""

    employee_id: str
    employer_id: str
    id_number: str
    name: str
    birth_date: date
    sex: str
    hired_on: date
    bank_code: str | None
    account_no: str | None
    holder: str | None
    row: int
    legacy_id: str


class WorkersImport(Aggregate):
    """New workers of one import (`workers-<import_id>-<first row>`), recorded once in one
    EmployeesImported: each a person new to the ledger whose hire passed `Worker.hire`'s checks of
    a first hire (`Worker.check_first_hire`), taken as columns, no event of its own. Each worker
    is then its own aggregate from version 1 (`Worker.base_version`): a later separation, rehire
    or bank account is the worker's event 2, with the worker's optimistic concurrency as ever."""

    aggregate_type = "workers_import"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.recorded = False

    def record(self, import_id: str, hires: Sequence[NewHire], on: date) -> None:
        """Enroll `hires` (each checked by `Worker.check_first_hire`): worker i's EmployeeEnrolled,
        its source the import's row, is the i-th of each column."""
        assert hires and not self.recorded, "a chunk of workers is recorded once, with workers"
        self.trigger(EmployeesImported(import_id=import_id, **dict(zip(WORKER_COLUMNS, zip(*hires)))), on)

    def apply_EmployeesImported(self, e: EmployeesImported) -> None:
        self.recorded = True


# -------------------------------------------------------------------------------- pooling

POOLING_ID = "pooling"


def consolidation_id_of(into_region: str, from_regions: tuple[str, ...], effective_from: date) -> str:
    """The same consolidation asked twice is one: its id is its content's."""
    key = f"{into_region}|{','.join(sorted(from_regions))}|{effective_from.isoformat()}"
    return "pc_" + hashlib.sha256(key.encode()).hexdigest()[:16]


class Pooling(Aggregate):
    """Every consolidation of pools (one aggregate, `pooling`: they are few, and each is checked
    against all the others). A region is consolidated away once; along a chain (A into B, then B
    into C) the dates never go back; the pool received cannot be one already gone on the date.

    | command     | accepted when                                                         |
    |-------------|-----------------------------------------------------------------------|
    | consolidate | the same consolidation again (records nothing), or every check below  |
    """

    aggregate_type = "pooling"

    def __init__(self, aggregate_id: str = POOLING_ID) -> None:
        super().__init__(aggregate_id)
        self.consolidations: dict[str, PoolsConsolidated] = {}
        self.moved_away: dict[str, PoolsConsolidated] = {}  # region -> the consolidation that took it

    def consolidate(self, into_region: str, from_regions: tuple[str, ...], effective_from: date,
                    policy_ref: PolicyRef, on: date) -> tuple[PoolsConsolidated, bool]:
        """Returns (the consolidation, whether it is new)."""
        if effective_from.day != 1:
            raise Invalid("effective_from", "a consolidation takes effect on the first day of a month")
        if len(set(from_regions)) != len(from_regions):
            raise Invalid("from_regions", "names a region twice")
        if into_region in from_regions:
            raise Invalid("from_regions", f"names the region consolidated into ({into_region})")
        ident = consolidation_id_of(into_region, from_regions, effective_from)
        if ident in self.consolidations:
            return self.consolidations[ident], False
        for i, region in enumerate(from_regions):
            gone = self.moved_away.get(region)
            if gone is not None:
                raise Conflict(f"region {region} was consolidated into {gone.into_region} from "
                               f"{gone.effective_from.isoformat()}", consolidation_id=gone.consolidation_id)
            later = [c for c in self.consolidations.values()
                     if c.into_region == region and c.effective_from > effective_from]
            if later:
                raise Invalid("effective_from", f"is before {later[0].effective_from.isoformat()}, when region "
                                                f"{region} took over other pools (from_regions.{i})")
        gone = self.moved_away.get(into_region)
        if gone is not None and gone.effective_from <= effective_from:
            raise Invalid("into_region", f"was consolidated into {gone.into_region} from "
                                         f"{gone.effective_from.isoformat()}")
        event = PoolsConsolidated(consolidation_id=ident, into_region=into_region, from_regions=from_regions,
                                  effective_from=effective_from, recorded_on=on, policy_ref=policy_ref)
        self.trigger(event, on)
        return event, True

    def apply_PoolsConsolidated(self, e: PoolsConsolidated) -> None:
        self.consolidations[e.consolidation_id] = e
        for region in e.from_regions:
            self.moved_away[region] = e

    def region_on(self, region: str, day: date) -> str:
        """Where an employer enrolled in `region` belongs on `day` (libs.pooling)."""
        return region_on(region, day, self.moves())

    def moves(self) -> dict[str, Move]:
        return {r: Move(r, c.into_region, c.effective_from, c.consolidation_id) for r, c in self.moved_away.items()}
