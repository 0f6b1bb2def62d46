"""What paying out reads from other services: claim facts (is the injury recognized, when did it
happen), payees' bank accounts, and the policy in force (catalog, fund account).

Every handler is an idempotent upsert keyed by the fact's own id; claims and accounts each come
from one topic keyed by their aggregate, so no handler depends on how topics interleave.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import repeat
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, insert_rows
from libs.events.envelope import Envelope
from libs.events.tables import policy_versions
from libs.imports.bulk import (ImportedWorkers, driver_moments, fresh_and_rest, handled_types, project_in_runs, rows_by_key,
                               stored, write_folded)
from libs.pooling_tables import record_moves

from .adjudication import CatalogEntry
from .tables import PROJECTED, claim_facts, payee_accounts, payments_region_moves


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _upsert(session: Session, table, key: dict, values: dict) -> None:  # noqa: ANN001
    where = [table.c[k] == v for k, v in key.items()]
    if session.execute(select(*[table.c[k] for k in key]).where(*where)).first() is None:
        session.execute(insert(table).values(**key, **values))
    elif values:
        session.execute(update(table).where(*where).values(**values))


CLAIM_EVENTS = frozenset({"InjuryApplied", "InjuryRecognized", "InjuryRejected", "AppealDecided", "ClaimClosed"})


class PayoutFactsProjection(Projection):
    name = "payout-facts"
    sources = ("claims", "enrollment")
    tables = PROJECTED

    # -- claims
    _claims: dict[str, dict] | None = None  # the batch's claim rows, while one is folded (handle_batch)

    def on_InjuryApplied(self, session: Session, e: Envelope) -> None:
        p = e.payload
        values = dict(employer_id=p.get("employer_id"), employee_id=p.get("employee_id"), region=p.get("region"),
                      occurred_on=_day(p.get("occurred_on")), applied_on=_day(p.get("applied_on")),
                      employer_late_days=int(p.get("employer_late_days") or 0))
        self._claim(session, p["claim_id"], values, {"status": "applied", **values})

    def on_InjuryRecognized(self, session: Session, e: Envelope) -> None:
        p = e.payload
        self._claim(session, p["claim_id"], {"status": p.get("decision") or "recognized",
                                             "decided_on": _day(p.get("decided_on"))})

    def on_InjuryRejected(self, session: Session, e: Envelope) -> None:
        p = e.payload
        self._claim(session, p["claim_id"], {"status": "rejected", "decided_on": _day(p.get("decided_on"))})

    def on_AppealDecided(self, session: Session, e: Envelope) -> None:
        """A recognition overturned or modified on appeal: the new decision from the original's date."""
        p = e.payload
        if p.get("subject") == "recognition" and p.get("outcome") != "upheld" and p.get("decision"):
            self._claim(session, p["claim_id"], {"status": p["decision"]})

    def on_ClaimClosed(self, session: Session, e: Envelope) -> None:
        p = e.payload
        closed_on = _day(p.get("closed_on"))
        self._claim(session, p["claim_id"], {"closed_on": closed_on}, {"status": "applied", "closed_on": closed_on})

    def _claim(self, session: Session, claim_id: str, values: dict, new: dict | None = None) -> None:
        """The claim's row gets `values`; a claim without one gets a row of `new` (else `values`)."""
        if self._claims is None:
            exists = session.execute(select(claim_facts.c.status).where(claim_facts.c.claim_id == claim_id)).first()
            if exists is None:
                session.execute(insert(claim_facts).values(claim_id=claim_id, **(new or values)))
            else:
                session.execute(update(claim_facts).where(claim_facts.c.claim_id == claim_id).values(**values))
        elif claim_id not in self._claims:
            self._claims[claim_id] = {**dict.fromkeys(c.name for c in claim_facts.columns), "claim_id": claim_id,
                                      **(new or values)}
        else:
            self._claims[claim_id].update(values)

    def on_DependentRegistered(self, session: Session, e: Envelope) -> None:
        self._account(session, f"dependent:{e.payload['dependent_id']}", e.payload.get("bank_account"), e)

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """A go-live's runs of enrollments in bulk (libs.imports.bulk), the rest one by one; the
        claims' rows folded in memory meanwhile (read in one query a chunk, each written once)."""
        before = rows_by_key(session, claim_facts, [e.payload["claim_id"] for e in envelopes
                                                     if e.type in CLAIM_EVENTS and e.payload.get("claim_id")])
        self._claims = {claim_id: dict(row) for claim_id, row in before.items()}
        try:
            project_in_runs(session, envelopes, {"EmployeeEnrolled": self._workers,
                                                 "DependentRegistered": self._dependents}, self.handle, self._imported,
                            handled=handled_types(self))  # a worker's separation, read by none here, ends no run
            rows = self._claims
        finally:
            self._claims = None
        write_folded(session, claim_facts, before, rows)

    def _workers(self, session: Session, run: list[Envelope]) -> None:
        self._fresh_accounts(session, run, lambda e: f"employee:{e.payload['employee_id']}")

    def _imported(self, session: Session, chunk: ImportedWorkers) -> None:
        """`_workers` for an import's chunk of workers, as columns."""
        payees = ["employee:" + employee_id for employee_id in chunk.employee_ids]
        fresh, rest = chunk.fresh_and_rest(payees, lambda keys: stored(session, payee_accounts.c.payee, keys))
        if fresh:
            changed_at = driver_moments(session)(chunk.envelope.recorded_at)
            insert_rows(session, payee_accounts, ("payee", "bank_code", "account_no", "holder", "changed_at"), list(zip(
                payees if fresh is chunk else ["employee:" + employee_id for employee_id in fresh.employee_ids],
                fresh.bank_codes, fresh.account_nos, fresh.holders, repeat(changed_at))))
        for e in rest:
            self.handle(session, e)

    def _dependents(self, session: Session, run: list[Envelope]) -> None:
        self._fresh_accounts(session, run, lambda e: f"dependent:{e.payload['dependent_id']}")

    def _fresh_accounts(self, session: Session, run: list[Envelope], payee_of: Callable[[Envelope], str]) -> None:
        """A payee fresh with no account yet (a go-live's workers or dependents): its account (or
        its lack of one) inserted; the rest one by one."""
        fresh, rest = fresh_and_rest(run, payee_of, lambda payees: stored(session, payee_accounts.c.payee, payees))
        if fresh:
            moment = driver_moments(session)
            insert_rows(session, payee_accounts, ("payee", "bank_code", "account_no", "holder", "changed_at"), [
                (payee_of(e), account.get("bank_code"), account.get("account_no"), account.get("holder"),
                 moment(e.recorded_at))
                for e in fresh for account in [e.payload.get("bank_account") or {}]])
        for e in rest:
            self.handle(session, e)

    # -- enrollment
    def on_EmployeesImported(self, session: Session, e: Envelope) -> None:
        """An import's chunk of workers: each worker's EmployeeEnrolled, as columns (`_imported`)."""
        self.handle_batch(session, [e])

    def on_EmployeeEnrolled(self, session: Session, e: Envelope) -> None:
        self._account(session, f"employee:{e.payload['employee_id']}", e.payload.get("bank_account"), e)

    def on_BankAccountChanged(self, session: Session, e: Envelope) -> None:
        self._account(session, f"employee:{e.payload['employee_id']}", e.payload.get("bank_account"), e)

    def _account(self, session: Session, payee: str, account: dict | None, e: Envelope) -> None:
        account = account or {}
        current = session.execute(select(payee_accounts.c.changed_at).where(payee_accounts.c.payee == payee)).first()
        if current is not None and _aware(current.changed_at) > e.recorded_at:
            return  # an older event redelivered after a newer one: keep the newer account
        _upsert(session, payee_accounts, {"payee": payee},
                {"bank_code": account.get("bank_code"), "account_no": account.get("account_no"),
                 "holder": account.get("holder"), "changed_at": e.recorded_at})

    # -- enrollment: pooling moves up
    def on_PoolsConsolidated(self, session: Session, e: Envelope) -> None:
        record_moves(session, payments_region_moves, e.payload)

    def reset(self, session: Session) -> None:
        for table in PROJECTED:
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        rows = [tuple(r) for t in PROJECTED for r in session.execute(select(t).order_by(*t.primary_key.columns))]
        return hashlib.sha256(repr(rows).encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# ---- the policy in force, as the few terms paying out needs ----------------------------------

@dataclass(frozen=True)
class PolicyTerms:
    catalog: dict[str, CatalogEntry]
    meal_subsidy_daily: Decimal | None
    fund_account: dict[str, str]
    policy_ref: dict[str, Any]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return obj


def policy_terms(session: Session, region: str, on: date) -> PolicyTerms | None:
    """The catalog, meal subsidy and fund account of the policy in force in `region` on `on`."""
    try:
        from libs.policy.projection import policy_in_force

        version = policy_in_force(session, region, on)
    except ImportError:  # libs.policy's document model not there yet: read the stored JSON
        version = _raw_in_force(session, region, on)
    if version is None:
        return None
    doc = version.document
    catalog = {}
    for code, entry in (_get(doc, "medical_catalog") or {}).items():
        catalog[str(code)] = CatalogEntry(
            name=str(_get(entry, "name", "") or ""),
            max_unit_price=Decimal(str(_get(entry, "max_unit_price"))),
            reimbursable_share=Decimal(str(_get(entry, "reimbursable_share"))),
        )
    meal = _get(doc, "meal_subsidy_daily")
    fund = _plain(_get(doc, "fund_account")) or {}
    ref = {"region": version.region, "effective_from": version.effective_from.isoformat(), "version": version.version}
    return PolicyTerms(catalog, Decimal(str(meal)) if meal is not None else None,
                       {k: str(v) for k, v in fund.items() if v is not None}, ref)


def _raw_in_force(session: Session, region: str, on: date) -> SimpleNamespace | None:
    for candidate in dict.fromkeys((region, "000000")):
        row = session.execute(
            select(policy_versions)
            .where(policy_versions.c.region == candidate, policy_versions.c.effective_from <= on)
            .order_by(policy_versions.c.effective_from.desc(), policy_versions.c.version.desc()).limit(1)
        ).first()
        if row is not None:
            return SimpleNamespace(region=row.region, effective_from=row.effective_from, version=row.version,
                                   document=json.loads(row.document))
    return None
