"""What a client asks the enrollment service to do: plain data, not yet checked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class PublishPolicy:
    region: str
    effective_from: date
    document: dict[str, Any]


@dataclass(frozen=True)
class EnrollEmployer:
    uscc: str
    name: str
    industry_code: str
    region: str
    enrolled_on: date


@dataclass(frozen=True)
class ChangeEmployerStatus:
    employer_id: str
    status: str
    changed_on: date


@dataclass(frozen=True)
class ChangeEmployer:
    employer_id: str
    changed_on: date
    name: str | None = None
    industry_code: str | None = None


@dataclass(frozen=True)
class BankAccountInput:
    bank_code: str
    account_no: str
    holder: str


@dataclass(frozen=True)
class EnrollEmployee:
    employer_id: str
    id_number: str
    name: str
    hired_on: date
    bank_account: BankAccountInput | None = None


@dataclass(frozen=True)
class ChangeBankAccount:
    employer_id: str
    employee_id: str
    bank_account: BankAccountInput
    changed_on: date


@dataclass(frozen=True)
class SeparateEmployee:
    employer_id: str
    employee_id: str
    separated_on: date


@dataclass(frozen=True)
class ConsolidatePools:
    into_region: str
    from_regions: tuple[str, ...]
    effective_from: date
