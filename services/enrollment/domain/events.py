"""Events the enrollment service writes (payload models; the envelope is libs.events).

The field names are the contract of docs/events.md (topic `injuryledger.enrollment`): add fields
freely, never rename or drop one.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.events.registry import event_type, upcaster
from libs.events.source import Source, add_source
from libs.imports.bulk import WORKER_COLUMNS  # its columns, in its fields' order: one list with its readers

Sex = Literal["male", "female"]
EmployerStatus = Literal["active", "suspended", "closed"]


class PolicyRef(BaseModel):
    """Which policy version a decision used."""

    model_config = ConfigDict(frozen=True)
    region: str = Field(pattern=r"^\d{6}$")
    effective_from: date
    version: int = Field(ge=1)


class BankAccount(BaseModel):
    model_config = ConfigDict(frozen=True)
    bank_code: str = Field(pattern=r"^\d{12}$", description="12-digit CNAPS code of the branch")
    account_no: str = Field(min_length=1, max_length=34)
    holder: str = Field(min_length=1, max_length=200)


@event_type("PolicyPublished")
class PolicyPublished(BaseModel):
    model_config = ConfigDict(frozen=True)
    region: str = Field(pattern=r"^\d{6}$")
    effective_from: date
    version: int = Field(ge=1, description="per region, from 1")
    document: dict[str, Any] = Field(description="the flat policy document, JSON form")


@event_type("EmployerEnrolled", version=2)
class EmployerEnrolled(BaseModel):
    model_config = ConfigDict(frozen=True)
    employer_id: str
    uscc: str
    name: str
    industry_code: str
    division: str
    region: str
    risk_class: int = Field(ge=1, le=8)
    base_rate: Decimal
    enrolled_on: date
    policy_ref: PolicyRef
    # v2: a go-live import's row, and the floating step the old system had set (levy applies it
    # to every year its own rate review has not decided)
    source: Source | None = None
    floating_step: Decimal | None = None


@event_type("EmployerChanged")
class EmployerChanged(BaseModel):
    """The full state of the employer after the change."""

    model_config = ConfigDict(frozen=True)
    employer_id: str
    changed_on: date
    status: EmployerStatus
    name: str
    industry_code: str
    division: str
    risk_class: int = Field(ge=1, le=8)
    base_rate: Decimal
    region: str
    # Beyond the contract: what changed, and the policy that mapped the class (null when kept).
    changed: tuple[str, ...] = ()
    policy_ref: PolicyRef | None = None


@event_type("EmployeeEnrolled", version=2)
class EmployeeEnrolled(BaseModel):
    model_config = ConfigDict(frozen=True)
    employee_id: str
    employer_id: str
    id_number: str
    name: str
    birth_date: date
    sex: Sex
    hired_on: date
    bank_account: BankAccount | None = None
    source: Source | None = None  # v2: a go-live import's row


@event_type("EmployeesImported")
class EmployeesImported(BaseModel):
    """New workers a go-live import enrolled, up to a thousand rows of one request, each a person
    new to the ledger hired and still employed: worker i's EmployeeEnrolled (v2, its `source` the
    import's row i) as the i-th of each column. One event where the file has a thousand rows, so
    a province's million workers are a thousand events to append, relay and consume, not a
    million; `enrollments` gives each worker's EmployeeEnrolled back, the very payload the
    per-worker path writes. The worker's own stream goes on from sequence 2 (this is its 1)."""

    model_config = ConfigDict(frozen=True)
    import_id: str
    employee_ids: tuple[str, ...]
    employer_ids: tuple[str, ...]
    id_numbers: tuple[str, ...]
    names: tuple[str, ...]
    birth_dates: tuple[date, ...]
    sexes: tuple[Sex, ...]
    hired_ons: tuple[date, ...]
    bank_codes: tuple[str | None, ...]  # a worker without a bank account: null in all three
    account_nos: tuple[str | None, ...]
    holders: tuple[str | None, ...]
    rows: tuple[int, ...]  # the row of the import file of each worker (its header is row 1)
    legacy_ids: tuple[str, ...]

    @model_validator(mode="after")
    def _columns_of_one_length(self) -> "EmployeesImported":
        n = len(self.employee_ids)
        assert n > 0 and all(len(getattr(self, c)) == n for c in WORKER_COLUMNS), "one value of each column a worker"
        return self


@event_type("EmployeeSeparated", version=2)
class EmployeeSeparated(BaseModel):
    model_config = ConfigDict(frozen=True)
    employee_id: str
    employer_id: str
    separated_on: date
    source: Source | None = None  # v2: a go-live import's row


@event_type("BankAccountChanged")
class BankAccountChanged(BaseModel):
    model_config = ConfigDict(frozen=True)
    employee_id: str
    bank_account: BankAccount
    changed_on: date


@event_type("PoolsConsolidated")
class PoolsConsolidated(BaseModel):
    """RULES.md "Prevention and pooling": from `effective_from` the pools of `from_regions`
    belong to `into_region` (employers, workers, claims, open periods, the fund balance) and its
    policy applies; every service resolves a region by date from these facts (libs.pooling)."""

    model_config = ConfigDict(frozen=True)
    consolidation_id: str
    into_region: str = Field(pattern=r"^\d{6}$")
    from_regions: tuple[str, ...] = Field(min_length=1)
    effective_from: date
    recorded_on: date
    policy_ref: PolicyRef  # the into_region's policy in force on effective_from (or the national one)


for _type in ("EmployerEnrolled", "EmployeeEnrolled", "EmployeeSeparated"):
    upcaster(_type, from_version=1)(add_source)
