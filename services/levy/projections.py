"""What the levy service projects from the log (its own and other services' events).

Facts only, each row keyed so a redelivery or a reordering of topics changes nothing; what
depends on several facts (an employment's separation, a benefit's postings) is derived from the
stored facts, sorted, every time one of them arrives.

- `LevyEnrollmentProjection` (enrollment): employers (region, class, status), employments, the
  consolidations of pools (pooling.py).
- `LevyClaimsProjection` (claims): injuries by employer and the day they occurred, recognitions.
- `LevyBenefitsProjection` (payments): payment runs' regions, payouts settled or returned with
  their lines (the claims cost of each employer), and the benefit postings of the fund's books.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from itertools import repeat

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, Projector, insert_rows, rows_hash
from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.imports.bulk import ImportedWorkers, fresh_and_rest, hires_and_ends, project_in_runs, stored
from libs.imports.projection import LegacyRefsProjection
from libs.money import parse_yuan, to_fen
from libs.policy.projection import PoliciesProjection
from libs.runtime.clients import ClientsProjection
from libs.runtime.service import ServiceContext

from . import books, coverage, pooling
from .classes import reassess_after_class_change, reassess_after_consolidation, reassess_after_policy, record_class
from .domain.ledger import (
    Entry,
    benefit_entries,
    overpayment_kept_whole_entry,
    overpayment_recognized_entry,
    overpayment_written_off_entry,
)
from .tables import (
    coverage_changes,
    coverage_spans,
    levy_consolidations,
    levy_employer_classes,
    levy_employers,
    levy_employments,
    levy_injuries,
    levy_payment_runs,
    levy_payout_lines,
    levy_payouts,
    levy_recognitions,
    levy_region_moves,
    levy_separations,
    postings,
)

MAX_LINES_PER_PAYOUT = 100_000



def _day(text: str) -> date:
    return date.fromisoformat(text)


PEOPLE = frozenset({"EmployeeEnrolled", "EmployeeSeparated"})  # one run in LevyEnrollmentProjection._people


class LevyEnrollmentProjection(Projection):
    name = "enrollment"
    sources = ("enrollment",)
    tables = (levy_employers, levy_employments, levy_separations, levy_employer_classes, levy_consolidations,
              levy_region_moves, coverage_spans, coverage_changes)

    def __init__(self, ctx: ServiceContext | None = None) -> None:
        self.ctx = ctx

    def on_EmployerEnrolled(self, session: Session, e: Envelope) -> None:
        p = e.payload
        enrolled_on = _day(p["enrolled_on"])
        record_class(session, p["employer_id"], enrolled_on, p["risk_class"], str(e.event_id))
        row = session.execute(select(levy_employers.c.as_of).where(
            levy_employers.c.employer_id == p["employer_id"])).first()
        new = _employer_row(p)
        if row is None:
            session.execute(insert(levy_employers).values(**new))
            coverage.recount_employer(session, p["employer_id"])  # workers of it projected before it
        else:  # a change (later by date) arrived first: keep its state, add the enrollment day
            session.execute(update(levy_employers).where(levy_employers.c.employer_id == p["employer_id"])
                            .values(enrolled_on=enrolled_on, legacy_multiplier=new["legacy_multiplier"]))

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """A go-live's runs of enrollments in bulk (libs.imports.bulk), the rest one by one."""
        project_in_runs(session, envelopes, {"EmployerEnrolled": self._employers, "EmployeeEnrolled": self._people,
                                             "EmployeeSeparated": self._people},
                        self.handle, self._imported, together=PEOPLE)

    def _employers(self, session: Session, run: list[Envelope]) -> None:
        """An employer is fresh with no row and no class yet: its class and its row inserted."""
        fresh, rest = fresh_and_rest(run, lambda e: e.payload["employer_id"], lambda ids: stored(
            session, levy_employers.c.employer_id, ids) | stored(session, levy_employer_classes.c.employer_id, ids))
        if fresh:  # on the driver (insert_rows): the payload's ISO days as the driver stores a date
            insert_rows(session, levy_employer_classes, ("employer_id", "effective_from", "risk_class", "event_id"), [
                (p["employer_id"], p["enrolled_on"], p["risk_class"], str(e.event_id))
                for e in fresh for p in [e.payload]])
            insert_rows(session, levy_employers, EMPLOYER_COLUMNS, [
                tuple(row[c] for c in EMPLOYER_COLUMNS) for row in (_employer_row(e.payload, day=str) for e in fresh)])
            coverage.recount_employers(session, [e.payload["employer_id"] for e in fresh])  # workers projected before
        for e in rest:
            self.handle(session, e)

    def _employees(self, session: Session, run: list[Envelope]) -> None:
        """A worker is fresh with no employment and no separation yet: nothing to derive."""
        fresh, rest = fresh_and_rest(run, lambda e: e.payload["employee_id"], lambda ids: stored(
            session, levy_employments.c.employee_id, ids) | stored(session, levy_separations.c.employee_id, ids))
        if fresh:
            rows = [(p["employee_id"], p["employer_id"], p["hired_on"], p["id_number"], None)
                    for p in (e.payload for e in fresh)]
            insert_rows(session, levy_employments, ("employee_id", "employer_id", "hired_on", "id_number",
                                                    "separated_on"), rows)
            coverage.add_new_workers(session, [row[:3] for row in rows])
        for e in rest:
            self.handle(session, e)

    def _people(self, session: Session, run: list[Envelope]) -> None:
        """A run of enrollments and separations (a go-live's workers who left: each one's
        EmployeeEnrolled and EmployeeSeparated in turn). A worker with no employment and no
        separation stored yet has its rows written with the others': its employments (the first
        event of a key names it, as one by one) ending at the separations derived from its own,
        its separations, then the coverage of them all recounted at once. What the handlers
        leave of a worker does not hang on the order of its events (each derives the worker's
        employments and spans from all its rows), so this is what they would have left. Any
        other worker's events go through them, one by one, in order."""
        if all(e.type == "EmployeeEnrolled" for e in run):
            return self._employees(session, run)
        ids = {e.payload["employee_id"] for e in run}
        busy = stored(session, levy_employments.c.employee_id, ids) | stored(session, levy_separations.c.employee_id, ids)
        hires, ends, rest = hires_and_ends(run, busy)
        separations: dict[tuple[str, str], list[str]] = {}
        for employee_id, employer_id, separated_on in ends:
            separations.setdefault((employee_id, employer_id), []).append(separated_on)
        for days in separations.values():
            days.sort()  # ISO days: as dates
        insert_rows(session, levy_employments, ("employee_id", "employer_id", "hired_on", "id_number", "separated_on"), [
            (employee_id, employer_id, hired_on, p["id_number"],  # as _derive_separations: the first on or after the hire
             next((day for day in separations.get((employee_id, employer_id), ()) if day >= hired_on), None))
            for (employee_id, employer_id, hired_on), p in hires.items()])
        insert_rows(session, levy_separations, ("employee_id", "employer_id", "separated_on"), list(ends))
        coverage.recount(session, ids - busy)
        for e in rest:
            self.handle(session, e)

    def _imported(self, session: Session, chunk: ImportedWorkers) -> None:
        """`_employees` for an import's chunk of workers, as columns."""
        fresh, rest = chunk.fresh_and_rest(chunk.employee_ids, lambda ids: stored(
            session, levy_employments.c.employee_id, ids) | stored(session, levy_separations.c.employee_id, ids))
        if fresh:
            insert_rows(session, levy_employments, ("employee_id", "employer_id", "hired_on", "id_number",
                                                    "separated_on"),
                        list(zip(fresh.employee_ids, fresh.employer_ids, fresh.hired_ons, fresh.id_numbers,
                                 repeat(None))))
            coverage.add_new_workers(session, list(zip(fresh.employee_ids, fresh.employer_ids, fresh.hired_ons)))
        for e in rest:
            self.handle(session, e)

    def on_EmployerChanged(self, session: Session, e: Envelope) -> None:
        p = e.payload
        changed_on = _day(p["changed_on"])
        values = {"region": p["region"], "risk_class": p["risk_class"], "base_rate": str(p["base_rate"]),
                  "status": p["status"], "as_of": changed_on}
        row = session.execute(select(levy_employers.c.as_of, levy_employers.c.region).where(
            levy_employers.c.employer_id == p["employer_id"])).first()
        if row is None:
            session.execute(insert(levy_employers).values(employer_id=p["employer_id"], enrolled_on=None, **values))
            coverage.recount_employer(session, p["employer_id"])
        elif changed_on >= row.as_of:  # the latest state by date wins, whatever the arrival order
            session.execute(update(levy_employers).where(
                levy_employers.c.employer_id == p["employer_id"]).values(**values))
            if p["region"] != row.region:
                coverage.recount_employer(session, p["employer_id"])
        if record_class(session, p["employer_id"], changed_on, p["risk_class"], str(e.event_id)) and self.ctx:
            # charged from the change's date: the months it reaches that have a report are assessed again
            reassess_after_class_change(self.ctx, session, p["employer_id"], changed_on, e)

    def on_EmployeeEnrolled(self, session: Session, e: Envelope) -> None:
        p = e.payload
        hired_on = _day(p["hired_on"])
        key = and_(levy_employments.c.employee_id == p["employee_id"],
                   levy_employments.c.employer_id == p["employer_id"], levy_employments.c.hired_on == hired_on)
        if session.execute(select(levy_employments.c.hired_on).where(key)).first() is None:
            session.execute(insert(levy_employments).values(
                employee_id=p["employee_id"], employer_id=p["employer_id"], hired_on=hired_on,
                id_number=p["id_number"], separated_on=None))
        _derive_separations(session, p["employee_id"], p["employer_id"])
        coverage.recount(session, [p["employee_id"]])

    def on_EmployeesImported(self, session: Session, e: Envelope) -> None:
        """An import's chunk of workers: each worker's EmployeeEnrolled, as columns (`_imported`)."""
        self.handle_batch(session, [e])

    def on_EmployeeSeparated(self, session: Session, e: Envelope) -> None:
        p = e.payload
        separated_on = _day(p["separated_on"])
        key = and_(levy_separations.c.employee_id == p["employee_id"],
                   levy_separations.c.employer_id == p["employer_id"],
                   levy_separations.c.separated_on == separated_on)
        if session.execute(select(levy_separations.c.separated_on).where(key)).first() is None:
            session.execute(insert(levy_separations).values(
                employee_id=p["employee_id"], employer_id=p["employer_id"], separated_on=separated_on))
        _derive_separations(session, p["employee_id"], p["employer_id"])
        coverage.recount(session, [p["employee_id"]])

    def on_PolicyPublished(self, session: Session, e: Envelope) -> None:
        if self.ctx:  # months from its date already assessed at other base rates: reassessed
            PoliciesProjection().on_PolicyPublished(session, e)  # the version itself first (once)
            reassess_after_policy(self.ctx, session, e.payload["region"],
                                  date.fromisoformat(e.payload["effective_from"]), e)

    def on_PoolsConsolidated(self, session: Session, e: Envelope) -> None:
        pooling.record_consolidation(session, e.payload, str(e.event_id))
        if self.ctx:  # months from the date already reported under the old pools' policies: reassessed
            reassess_after_consolidation(self.ctx, session, e.payload["from_regions"],
                                         date.fromisoformat(e.payload["effective_from"]), e)

    def reset(self, session: Session) -> None:
        for table in (levy_employers, levy_employments, levy_separations, levy_employer_classes):
            session.execute(delete(table))
        pooling.reset(session)
        coverage.reset(session)

    def state_hash(self, session: Session) -> str:
        return rows_hash(session,
                     select(levy_employers).order_by(levy_employers.c.employer_id),
                     select(levy_employer_classes).order_by(*levy_employer_classes.primary_key.columns),
                     select(levy_employments).order_by(*levy_employments.primary_key.columns),
                     select(levy_separations).order_by(*levy_separations.primary_key.columns),
                     select(levy_consolidations).order_by(levy_consolidations.c.consolidation_id),
                     select(levy_region_moves).order_by(levy_region_moves.c.region))


EMPLOYER_COLUMNS = ("employer_id", "region", "risk_class", "base_rate", "status", "enrolled_on", "as_of",
                    "legacy_multiplier")


def _employer_row(p: dict, day: Callable[[str], date | str] = _day) -> dict:
    """An employer's row as its EmployerEnrolled makes it (a migrated employer keeps its step);
    `day` makes its ISO days the row's (`str`: the text itself, as the driver stores a date)."""
    enrolled_on, step = day(p["enrolled_on"]), p.get("floating_step")
    return {"employer_id": p["employer_id"], "region": p["region"], "risk_class": p["risk_class"],
            "base_rate": str(p["base_rate"]), "status": "active", "enrolled_on": enrolled_on, "as_of": enrolled_on,
            "legacy_multiplier": str(step) if step is not None else None}


def _derive_separations(session: Session, employee_id: str, employer_id: str) -> None:
    """Each employment ends at the first separation on or after its hiring (none: still on)."""
    hires = session.execute(select(levy_employments.c.hired_on, levy_employments.c.separated_on).where(
        levy_employments.c.employee_id == employee_id, levy_employments.c.employer_id == employer_id)).all()
    seps = sorted(session.execute(select(levy_separations.c.separated_on).where(
        levy_separations.c.employee_id == employee_id, levy_separations.c.employer_id == employer_id)).scalars())
    for hired_on, current in hires:
        ends = next((s for s in seps if s >= hired_on), None)
        if ends != current:
            session.execute(update(levy_employments).where(
                levy_employments.c.employee_id == employee_id, levy_employments.c.employer_id == employer_id,
                levy_employments.c.hired_on == hired_on).values(separated_on=ends))


FOLDED = ("InjuryApplied", "InjuryRecognized", "InjuryRejected", "AppealDecided")  # LevyClaimsProjection's
LOOKUP_CHUNK = 500


class LevyClaimsProjection(Projection):
    name = "claims"
    sources = ("claims",)
    tables = (levy_injuries, levy_recognitions)

    def on_InjuryApplied(self, session: Session, e: Envelope) -> None:
        p = e.payload
        if session.execute(select(levy_injuries.c.claim_id).where(
                levy_injuries.c.claim_id == p["claim_id"])).first() is None:
            session.execute(insert(levy_injuries).values(
                claim_id=p["claim_id"], employer_id=p["employer_id"], occurred_on=_day(p["occurred_on"])))

    def on_InjuryRecognized(self, session: Session, e: Envelope) -> None:
        self._decide(session, e.payload["claim_id"], True)

    def on_InjuryRejected(self, session: Session, e: Envelope) -> None:
        self._decide(session, e.payload["claim_id"], False)

    def on_AppealDecided(self, session: Session, e: Envelope) -> None:
        p = e.payload  # a recognition overturned on appeal counts (or stops counting) as an injury
        if p.get("subject") == "recognition" and p.get("outcome") != "upheld" and p.get("decision"):
            self._decide(session, p["claim_id"], p["decision"] != "rejected")

    @staticmethod
    def _decide(session: Session, claim_id: str, recognized: bool) -> None:
        session.execute(delete(levy_recognitions).where(levy_recognitions.c.claim_id == claim_id))
        session.execute(insert(levy_recognitions).values(claim_id=claim_id, recognized=recognized))

    def handle_batch(self, session: Session, envelopes: Sequence[Envelope]) -> None:
        """A batch folded in memory (a go-live's claims come in thousands, four statements each
        one by one): the first injury of a claim not stored yet is inserted, a claim's last
        decision of the batch replaces its row — what the handlers leave, in a few statements."""
        injuries: dict[str, dict] = {}
        decisions: dict[str, bool] = {}
        for e in envelopes:
            if e.type not in FOLDED:
                continue
            if REGISTRY.knows(e.type):
                e = REGISTRY.upcast(e)
            p = e.payload
            if e.type == "InjuryApplied":
                injuries.setdefault(p["claim_id"], {"claim_id": p["claim_id"], "employer_id": p["employer_id"],
                                                    "occurred_on": _day(p["occurred_on"])})
            elif e.type == "AppealDecided":
                if p.get("subject") == "recognition" and p.get("outcome") != "upheld" and p.get("decision"):
                    decisions[p["claim_id"]] = p["decision"] != "rejected"
            else:
                decisions[p["claim_id"]] = e.type == "InjuryRecognized"
        known = stored(session, levy_injuries.c.claim_id, injuries)
        fresh = [row for claim_id, row in injuries.items() if claim_id not in known]
        if fresh:
            session.execute(insert(levy_injuries), fresh)
        ids = sorted(decisions)
        for i in range(0, len(ids), LOOKUP_CHUNK):
            session.execute(delete(levy_recognitions).where(levy_recognitions.c.claim_id.in_(ids[i:i + LOOKUP_CHUNK])))
        if ids:
            session.execute(insert(levy_recognitions), [{"claim_id": c, "recognized": decisions[c]} for c in ids])

    def reset(self, session: Session) -> None:
        for table in (levy_injuries, levy_recognitions):
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(levy_injuries).order_by(levy_injuries.c.claim_id),
                     select(levy_recognitions).order_by(levy_recognitions.c.claim_id))


class LevyBenefitsProjection(Projection):
    name = "benefits"
    sources = ("payments",)

    def on_PaymentRunCreated(self, session: Session, e: Envelope) -> None:
        p = e.payload
        if session.execute(select(levy_payment_runs.c.run_id).where(
                levy_payment_runs.c.run_id == p["run_id"])).first() is None:
            session.execute(insert(levy_payment_runs).values(run_id=p["run_id"], region=p["region"]))

    def on_PayoutSettled(self, session: Session, e: Envelope) -> None:
        self._record(session, e.payload, settled_on=_day(e.payload["settled_on"]))

    def on_PayoutRejected(self, session: Session, e: Envelope) -> None:
        self._record(session, e.payload, rejected_on=_day(e.payload["rejected_on"]))

    def _record(self, session: Session, p: dict, **outcome: date) -> None:
        payout_id, lines = p["payout_id"], p.get("lines") or []
        assert len(lines) <= MAX_LINES_PER_PAYOUT
        row = session.execute(select(levy_payouts).where(levy_payouts.c.payout_id == payout_id)).first()
        if row is None:
            session.execute(insert(levy_payouts).values(
                **{"payout_id": payout_id, "run_id": p["run_id"], "settled_on": None, "rejected_on": None, **outcome}))
        else:
            session.execute(update(levy_payouts).where(levy_payouts.c.payout_id == payout_id).values(**outcome))
        known = set(session.execute(select(levy_payout_lines.c.line_id).where(
            levy_payout_lines.c.payout_id == payout_id)).scalars())
        fresh = [{"payout_id": payout_id, "line_id": ln["line_id"], "employer_id": ln.get("employer_id"),
                  "family": ln["family"], "amount_fen": to_fen(parse_yuan(ln["amount"], allow_negative=True))}
                 for ln in lines if ln["line_id"] not in known]
        if fresh:
            session.execute(insert(levy_payout_lines), fresh)
        self._post(session, payout_id)

    @staticmethod
    def _post(session: Session, payout_id: str) -> None:
        """The payout's postings, from its facts: settled → expense/cash; settled and returned →
        reversed as well. Rebuilt whole, so the arrival order never matters."""
        payout = session.execute(select(levy_payouts).where(levy_payouts.c.payout_id == payout_id)).one()
        lines = session.execute(select(levy_payout_lines.c.family, levy_payout_lines.c.amount_fen,
                                       levy_payout_lines.c.employer_id)
                                .where(levy_payout_lines.c.payout_id == payout_id)
                                .order_by(levy_payout_lines.c.line_id)).all()
        employer_id = next((ln.employer_id for ln in lines if ln.employer_id), None)
        rows = [{"entry_id": entry.entry_id, "kind": entry.kind, "account": ln.account, "debit_fen": ln.debit_fen,
                 "credit_fen": ln.credit_fen, "posted_on": entry.posted_on, "source": "benefits", "region": None,
                 "employer_id": employer_id, "run_id": payout.run_id, "ref": payout_id}
                for entry in benefit_entries(payout_id, payout.settled_on, payout.rejected_on,
                                             [(ln.family, ln.amount_fen) for ln in lines])
                for ln in entry.lines]
        books.replace(session, (postings.c.source == "benefits", postings.c.ref == payout_id), rows)

    # -- overpayments (payments/payouts/recovery.py): each event is one entry of its own, keyed by
    # its id, so redelivery and arrival order change nothing. What a payout kept back is booked
    # with the payout's settlement (benefit_entries); a return reverses it with the payout.
    def on_OverpaymentRecognized(self, session: Session, e: Envelope) -> None:
        p = e.payload
        self._post_overpayment(session, p, overpayment_recognized_entry(
            p["overpayment_id"], _day(p["recognized_on"]), to_fen(parse_yuan(p["amount"]))))

    def on_OverpaymentRecovered(self, session: Session, e: Envelope) -> None:
        p = e.payload
        if p.get("payout_id") is None:  # kept back whole: no payout will settle it
            families = {f: to_fen(parse_yuan(v)) for f, v in (p.get("families") or {}).items()}
            self._post_overpayment(session, p, overpayment_kept_whole_entry(
                f"{p['overpayment_id']}:{p['run_id']}:kept", _day(p["recovered_on"]), families), run_id=p["run_id"])

    def on_OverpaymentWrittenOff(self, session: Session, e: Envelope) -> None:
        p = e.payload
        self._post_overpayment(session, p, overpayment_written_off_entry(
            p["overpayment_id"], _day(p["written_off_on"]), to_fen(parse_yuan(p["amount"]))))

    @staticmethod
    def _post_overpayment(session: Session, p: dict, entry: Entry, run_id: str | None = None) -> None:
        books.replace(session, (postings.c.source == "overpayments", postings.c.entry_id == entry.entry_id), [
            {"entry_id": entry.entry_id, "kind": entry.kind, "account": ln.account, "debit_fen": ln.debit_fen,
             "credit_fen": ln.credit_fen, "posted_on": entry.posted_on, "source": "overpayments",
             "region": p["region"], "employer_id": p.get("employer_id"), "run_id": run_id,
             "ref": p["overpayment_id"]} for ln in entry.lines])

    def reset(self, session: Session) -> None:
        books.unpost(session, postings.c.source.in_(("benefits", "overpayments")))
        for table in (levy_payment_runs, levy_payouts, levy_payout_lines):
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        return rows_hash(session,
                     select(levy_payment_runs).order_by(levy_payment_runs.c.run_id),
                     select(levy_payouts).order_by(levy_payouts.c.payout_id),
                     select(levy_payout_lines).order_by(*levy_payout_lines.primary_key.columns),
                     select(postings.c.entry_id, postings.c.account, postings.c.debit_fen, postings.c.credit_fen,
                            postings.c.posted_on, postings.c.ref)
                     .where(postings.c.source.in_(("benefits", "overpayments")))
                     .order_by(postings.c.entry_id, postings.c.account))


def build_projectors(ctx: ServiceContext) -> list[Projector]:
    return [ClientsProjection(), PoliciesProjection(), LevyEnrollmentProjection(ctx), LevyClaimsProjection(),
            LevyBenefitsProjection(), LegacyRefsProjection(("enrollment",))]
