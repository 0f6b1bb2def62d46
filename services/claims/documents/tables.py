"""The written decisions' read model: the parties' names, each claim's facts, what each appeal
disputes, and every document
with its facts, verification code and, once rendered, its bytes and SHA-256."""
from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

document_parties = Table(  # names from enrollment: an employer's, a worker's
    "document_parties", metadata,
    Column("party_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    sqlite_with_rowid=False,  # a row per employer and worker: its key's B-tree alone (claims_emp21_0001)
)

document_claims = Table(  # what a claim's documents say about it (InjuryApplied, InsuredWageDetermined)
    "document_claims", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("employer_id", String(64)),
    Column("employee_id", String(64)),
    Column("facts_json", Text, nullable=False),
    Index("ix_document_claims_employee", "employee_id"),
    Index("ix_document_claims_employer", "employer_id"),
)

document_appeals = Table(  # what an appeal disputes (AppealLodged), for the decision on it
    "document_appeals", metadata,
    Column("appeal_id", String(80), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("facts_json", Text, nullable=False),
)

claim_documents = Table(
    "claim_documents", metadata,
    Column("document_id", String(40), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # recognition | appraisal | appeal_decision | payment_advice
    Column("source_event_id", String(80), nullable=False, unique=True),  # the event it documents (+ claim)
    Column("issued_on", Date, nullable=False),
    Column("verification_code", String(14), nullable=False, unique=True),
    Column("facts_json", Text, nullable=False),
    Column("title", String(40)),
    Column("sha256", String(64)),  # of the PDF, recorded when it is rendered
    Column("pdf", LargeBinary),
    Column("rendered_at", DateTime(timezone=True)),
    Index("ix_claim_documents_claim", "claim_id", "issued_on"),
)
