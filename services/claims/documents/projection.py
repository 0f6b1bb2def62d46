"""Issuing the written decisions from the events: a document per recognition decision, per
appraisal conclusion, per decision on an appeal (with what the appeal disputed, from its
AppealLodged: the same claim's stream, so always known first), and per claim of each settled
payout (its payment advice).

Facts are stored as they arrive, from whichever topic, and a document is rendered once all its
facts are there (the claim's, the parties' names), so the order topics are read in changes
nothing. Decisions and conclusions are rendered when issued; payment advices, which come by the
hundred thousand with a bank's report, are rendered when first asked for (api.py), each once. So
are the past decisions of a claim migrated at go-live (their event's `source` names the import,
kept in the facts): the old system issued them, a province brings tens of thousands at once, and
their facts and verification code are fixed here all the same.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, insert_rows, rows_hash
from libs.events.envelope import Envelope
from libs.events.registry import REGISTRY
from libs.imports.bulk import ImportedWorkers, fresh_and_rest, project_in_runs, stored

from .render import render, verification_code
from .tables import claim_documents, document_appeals, document_claims, document_parties

RENDER_AT_ISSUE = frozenset({"recognition", "appraisal", "appeal_decision"})


def document_id(source_event_id: str, claim_id: str) -> str:
    return "doc_" + hashlib.sha256(f"{source_event_id}|{claim_id}".encode()).hexdigest()[:24]


def complete_facts(session: Session, row) -> dict[str, Any] | None:  # noqa: ANN001 - a claim_documents row
    """The document's facts with its claim's and its parties' names, or None while one is missing."""
    claim = session.execute(select(document_claims.c.facts_json)
                            .where(document_claims.c.claim_id == row.claim_id)).scalar()
    if claim is None:
        return None
    facts = {**json.loads(claim), **json.loads(row.facts_json)}
    names = dict(session.execute(select(document_parties.c.party_id, document_parties.c.name).where(
        document_parties.c.party_id.in_([facts["employer_id"], facts["employee_id"]]))).all())
    if facts["employer_id"] not in names or facts["employee_id"] not in names:
        return None
    return {**facts, "employer_name": names[facts["employer_id"]], "worker_name": names[facts["employee_id"]],
            "document_id": row.document_id, "verification_code": row.verification_code,
            "issued_on": row.issued_on.isoformat()}


def render_stored(session: Session, row) -> bool:  # noqa: ANN001
    """Render a document whose facts are complete and record its bytes and hash, once."""
    facts = complete_facts(session, row)
    if facts is None:
        return False
    done = render(row.kind, facts)
    session.execute(update(claim_documents).where(claim_documents.c.document_id == row.document_id,
                                                  claim_documents.c.sha256.is_(None))
                    .values(pdf=done.pdf, sha256=done.sha256, title=done.title,
                            rendered_at=datetime.now(timezone.utc)))
    return True


CLAIM_FACTS = ("claim_id", "employer_id", "employee_id", "region", "kind", "occurred_on", "applied_on", "description")
MIGRATED = frozenset({"InjuryApplied", "InsuredWageDetermined", "InjuryRecognized", "InjuryRejected", "GradeAssigned"})


def _decision(e: Envelope) -> tuple[str, str, dict[str, Any]]:
    """A recognition decision's or an appraisal conclusion's document: its kind, day and facts."""
    p = e.payload
    if e.type == "GradeAssigned":
        return "appraisal", p["concluded_on"], {"grade": p["grade"], "care_level": p["care_level"],
                                                "concluded_on": p["concluded_on"],
                                                "reappraisal": bool(p.get("reappraisal"))}
    decision = p["decision"] if e.type == "InjuryRecognized" else "rejected"
    return "recognition", p["decided_on"], {"decision": decision, "decided_on": p["decided_on"],
                                            "basis": p.get("basis", "")}


class DocumentsProjection(Projection):
    name = "documents"
    sources = ("enrollment", "claims", "payments")

    def handle_batch(self, session: Session, envelopes) -> None:  # noqa: ANN001
        """A go-live's runs of enrollments in bulk (libs.imports.bulk), its runs of migrated claims
        folded in memory (`_fold_migrated`), the rest one by one, in the log's order."""
        part: list[Envelope] = []
        migrated = False
        for e in [*envelopes, None]:
            if e is not None and not hasattr(self, f"on_{e.type}"):
                continue  # read by neither part (a worker's separation): it ends none
            if e is not None and self._migrated(e) == migrated:
                part.append(e)
                continue
            if part and migrated:
                self._fold_migrated(session, part)
            elif part:
                project_in_runs(session, part, {"EmployerEnrolled": self._names, "EmployeeEnrolled": self._names},
                                self.handle, self._imported_names)
            if e is not None:
                migrated, part = self._migrated(e), [e]

    @staticmethod
    def _migrated(e: Envelope) -> bool:
        """An event of a claim's migration (it carries its import row) that `_fold_migrated` folds."""
        return e.type in MIGRATED and bool(e.payload.get("source")) and e.schema_version == REGISTRY.latest_version(e.type)

    def _fold_migrated(self, session: Session, run: list[Envelope]) -> None:
        """A run of migrated claims' events (and events no handler here reads): a claim that first
        appears in it, with nothing stored yet, is folded in memory — its facts merged as they
        come, its past decisions issued with the facts known then and their source, none rendered
        (a migrated decision is rendered when first asked for) — and written once, in one insert
        with the others'; any other goes through the handlers, in order (different claims' rows
        never meet)."""
        applied = {e.payload["claim_id"] for e in run if e.type == "InjuryApplied"}
        busy = stored(session, document_claims.c.claim_id, applied) | stored(session, claim_documents.c.claim_id, applied)
        facts: dict[str, dict[str, Any]] = {}
        issued: list[dict[str, Any]] = []
        for e in run:
            p = e.payload
            claim_id = p.get("claim_id")
            if not hasattr(self, f"on_{e.type}"):
                continue
            if claim_id not in applied or claim_id in busy:
                self.handle(session, e)
            elif e.type == "InjuryApplied":
                facts[claim_id] = {k: p[k] for k in CLAIM_FACTS}
            elif e.type == "InsuredWageDetermined":
                facts[claim_id] = {**facts[claim_id], "insured_wage": p["insured_wage"]}
            else:
                kind, issued_on, own = _decision(e)
                known = {**facts[claim_id], **own} if kind in RENDER_AT_ISSUE else own
                issued.append(dict(
                    document_id=document_id(str(e.event_id), claim_id), claim_id=claim_id, kind=kind,
                    source_event_id=f"{e.event_id}:{claim_id}", issued_on=datetime.fromisoformat(issued_on).date(),
                    facts_json=json.dumps({**known, "source": p["source"]}, sort_keys=True),
                    verification_code=verification_code(str(e.event_id), kind, claim_id)))
        if facts:
            session.execute(insert(document_claims), [
                {"claim_id": claim_id, "facts_json": json.dumps(f), "employer_id": f.get("employer_id"),
                 "employee_id": f.get("employee_id")} for claim_id, f in facts.items()])
        if issued:
            session.execute(insert(claim_documents), issued)

    def _names(self, session: Session, run: list[Envelope]) -> None:
        """A party is fresh with no name yet and no claim waiting for it: its name inserted."""
        key = "employer_id" if run[0].type == "EmployerEnrolled" else "employee_id"
        d = document_claims.c
        fresh, rest = fresh_and_rest(run, lambda e: e.payload[key], lambda ids: stored(
            session, document_parties.c.party_id, ids) | stored(session, d.employee_id, ids)
            | stored(session, d.employer_id, ids))
        if fresh:
            insert_rows(session, document_parties, ("party_id", "name"),
                        [(e.payload[key], e.payload["name"]) for e in fresh])
        for e in rest:
            self.handle(session, e)

    def _imported_names(self, session: Session, chunk: ImportedWorkers) -> None:
        """`_names` for an import's chunk of workers, as columns."""
        d = document_claims.c
        fresh, rest = chunk.fresh_and_rest(chunk.employee_ids, lambda ids: stored(
            session, document_parties.c.party_id, ids) | stored(session, d.employee_id, ids)
            | stored(session, d.employer_id, ids))
        if fresh:
            insert_rows(session, document_parties, ("party_id", "name"), list(zip(fresh.employee_ids, fresh.names)))
        for e in rest:
            self.handle(session, e)

    # ---- names
    def on_EmployerEnrolled(self, session: Session, e: Envelope) -> None:
        self._name(session, e.payload["employer_id"], e.payload["name"])

    def on_EmployerChanged(self, session: Session, e: Envelope) -> None:
        self._name(session, e.payload["employer_id"], e.payload["name"])

    def on_EmployeesImported(self, session: Session, e: Envelope) -> None:
        """An import's chunk of workers: each worker's EmployeeEnrolled, as columns (`_imported_names`)."""
        self.handle_batch(session, [e])

    def on_EmployeeEnrolled(self, session: Session, e: Envelope) -> None:
        self._name(session, e.payload["employee_id"], e.payload["name"])

    def _name(self, session: Session, party_id: str, name: str) -> None:
        if session.execute(select(document_parties.c.party_id).where(document_parties.c.party_id == party_id)).first():
            session.execute(update(document_parties).where(document_parties.c.party_id == party_id).values(name=name))
        else:
            session.execute(insert(document_parties).values(party_id=party_id, name=name))
        d = document_claims.c
        waiting = session.execute(select(d.claim_id).where((d.employee_id == party_id) | (d.employer_id == party_id))
                                  .order_by(d.claim_id)).scalars().all()
        for claim_id in waiting:  # only where the name arrived after the claim (another topic's order)
            self._render_waiting(session, claim_id)

    # ---- the claim's facts
    def on_InjuryApplied(self, session: Session, e: Envelope) -> None:
        p = e.payload
        self._claim_facts(session, p["claim_id"], {k: p[k] for k in CLAIM_FACTS})

    def on_InsuredWageDetermined(self, session: Session, e: Envelope) -> None:
        self._claim_facts(session, e.payload["claim_id"], {"insured_wage": e.payload["insured_wage"]})

    def _claim_facts(self, session: Session, claim_id: str, more: dict[str, Any]) -> None:
        known = session.execute(select(document_claims.c.facts_json)
                                .where(document_claims.c.claim_id == claim_id)).scalar()
        if known is None:
            session.execute(insert(document_claims).values(claim_id=claim_id, facts_json=json.dumps(more),
                                                           employer_id=more.get("employer_id"),
                                                           employee_id=more.get("employee_id")))
        else:
            merged = {**json.loads(known), **more}
            session.execute(update(document_claims).where(document_claims.c.claim_id == claim_id)
                            .values(facts_json=json.dumps(merged), employer_id=merged.get("employer_id"),
                                    employee_id=merged.get("employee_id")))
        self._render_waiting(session, claim_id)

    # ---- the documents
    def on_InjuryRecognized(self, session: Session, e: Envelope) -> None:
        self._issue(session, e, e.payload["claim_id"], *_decision(e))

    def on_InjuryRejected(self, session: Session, e: Envelope) -> None:
        self._issue(session, e, e.payload["claim_id"], *_decision(e))

    def on_GradeAssigned(self, session: Session, e: Envelope) -> None:
        self._issue(session, e, e.payload["claim_id"], *_decision(e))

    def on_AppealLodged(self, session: Session, e: Envelope) -> None:
        p = e.payload
        facts = {k: p.get(k) for k in ("lodged_on", "lodged_by", "disputed_on", "disputed_decision", "disputed_grade",
                                        "disputed_care_level")}
        if session.execute(select(document_appeals.c.appeal_id)
                           .where(document_appeals.c.appeal_id == p["appeal_id"])).first() is None:
            session.execute(insert(document_appeals).values(appeal_id=p["appeal_id"], claim_id=p["claim_id"],
                                                            facts_json=json.dumps(facts, sort_keys=True)))

    def on_AppealDecided(self, session: Session, e: Envelope) -> None:
        p = e.payload
        lodged = session.execute(select(document_appeals.c.facts_json)
                                 .where(document_appeals.c.appeal_id == p["appeal_id"])).scalar()
        self._issue(session, e, p["claim_id"], "appeal_decision", p["decided_on"], {
            **(json.loads(lodged) if lodged else {}),
            **{k: p.get(k) for k in ("appeal_id", "subject", "route", "outcome", "decided_on", "replaces_from",
                                     "decision", "grade", "care_level")}})

    def on_PayoutSettled(self, session: Session, e: Envelope) -> None:
        p = e.payload
        by_claim: dict[str, list[dict]] = {}
        for line in p.get("lines") or []:
            if line.get("claim_id"):
                by_claim.setdefault(line["claim_id"], []).append(line)
        for claim_id, lines in sorted(by_claim.items()):
            total = sum((Decimal(x["amount"]) for x in lines), Decimal("0.00"))
            self._issue(session, e, claim_id, "payment_advice", p["settled_on"], {
                "payout_id": p["payout_id"], "run_id": p["run_id"], "settled_on": p["settled_on"],
                "amount": f"{total:.2f}", "lines": [{"kind": x["kind"], "amount": x["amount"]} for x in lines]})

    def _issue(self, session: Session, e: Envelope, claim_id: str, kind: str, issued_on: str,
               facts: dict[str, Any]) -> None:
        source = f"{e.event_id}:{claim_id}"
        if session.execute(select(claim_documents.c.document_id)
                           .where(claim_documents.c.source_event_id == source)).first():
            return
        doc_id = document_id(str(e.event_id), claim_id)
        known = session.execute(select(document_claims.c.facts_json)
                                .where(document_claims.c.claim_id == claim_id)).scalar()
        if known is not None and kind in RENDER_AT_ISSUE:
            # the claim as its own stream stood at this event (a later wage correction is not in it),
            # whenever the parties' names arrive from the other topic
            facts = {**json.loads(known), **facts}
        if e.payload.get("source"):  # a migrated decision: rendered when first asked for
            facts = {**facts, "source": e.payload["source"]}
        session.execute(insert(claim_documents).values(
            document_id=doc_id, claim_id=claim_id, kind=kind, source_event_id=source,
            issued_on=datetime.fromisoformat(issued_on).date(), facts_json=json.dumps(facts, sort_keys=True),
            verification_code=verification_code(str(e.event_id), kind, claim_id)))
        self._render_waiting(session, claim_id)

    @staticmethod
    def _render_waiting(session: Session, claim_id: str) -> None:
        """Render the claim's decisions and conclusions whose facts have just become complete
        (not a migrated one's: when first asked for)."""
        c = claim_documents.c
        for row in session.execute(select(claim_documents).where(
                c.claim_id == claim_id, c.sha256.is_(None), c.kind.in_(sorted(RENDER_AT_ISSUE)))
                .order_by(c.document_id)).all():
            if not json.loads(row.facts_json).get("source"):
                render_stored(session, row)

    def reset(self, session: Session) -> None:
        for table in (claim_documents, document_appeals, document_claims, document_parties):
            session.execute(delete(table))

    def state_hash(self, session: Session) -> str:
        """Without the rendered bytes: a payment advice is rendered when first asked for, and
        rendering is deterministic, so a replay that has not rendered it yet is the same state."""
        c = claim_documents.c
        return rows_hash(session, select(c.document_id, c.kind, c.verification_code, c.facts_json)
                         .order_by(c.document_id),
                         select(document_claims).order_by(document_claims.c.claim_id),
                         select(document_appeals).order_by(document_appeals.c.appeal_id),
                         select(document_parties).order_by(document_parties.c.party_id))

