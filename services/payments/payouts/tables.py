"""The paying-out read models: hospitals, bills, runs, payouts and the one-line-one-payout lock.

All amounts are integer fen (`*_fen`). `payout_lines` is the guard against double payment: a
line (its payee and id) is its primary key, so a line sits in at most one open or settled payout,
whatever the concurrency; a rejected payout deletes its rows and the lines become payable again.
`payout_members` keeps every payout's lines for ever (the events and the explain view need them).
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    column,
    table,
)
from libs.pooling_tables import region_moves_table

metadata = MetaData()

hospitals = Table(
    "payout_hospitals",
    metadata,
    Column("hospital_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(6), nullable=False),
    Column("bank_code", String(12), nullable=False),
    Column("account_no", String(34), nullable=False),
    Column("holder", String(140), nullable=False),
    Column("account_changed_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False, server_default="hospital"),  # hospital | rehabilitation | supplier
)

medical_bills = Table(
    "payout_medical_bills",
    metadata,
    Column("bill_id", String(64), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("hospital_id", String(64), nullable=False),
    Column("admitted_on", Date, nullable=False),
    Column("discharged_on", Date, nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
    Column("approved_fen", BigInteger, nullable=False),
    Column("items_json", Text, nullable=False),
    Column("policy_ref_json", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False, server_default="medical"),  # medical | rehabilitation
    Column("plan_id", String(40)),  # the rehabilitation plan billed against
    Index("ix_payout_medical_bills_hospital", "hospital_id", "bill_id"),
)

# Facts projected from the claims service (InjuryApplied / InjuryRecognized / InjuryRejected /
# ClaimClosed): what adjudicating a bill needs to know about its claim.
claim_facts = Table(
    "payout_claim_facts",
    metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("employer_id", String(64)),
    Column("employee_id", String(64)),
    Column("region", String(6)),
    Column("occurred_on", Date),
    Column("status", String(16), nullable=False),  # applied | recognized | deemed | rejected
    Column("decided_on", Date),
    Column("closed_on", Date),
    Column("applied_on", Date),
    Column("employer_late_days", Integer),  # R.17: days past the employer's limit, the employer's to bear
)

# Bank accounts of payees known from other services' events (EmployeeEnrolled,
# BankAccountChanged, DependentRegistered). `payee` is `employee:<id>` or `dependent:<id>`.
payee_accounts = Table(
    "payout_payee_accounts",
    metadata,
    Column("payee", String(80), primary_key=True),
    Column("bank_code", String(12)),
    Column("account_no", String(34)),
    Column("holder", String(140)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    sqlite_with_rowid=False,  # a row per payee: its key's B-tree alone (payments_emp21_0001)
)

# An account that came back with an account problem (AC04 ...): the payee's lines wait until
# the payee's account changes after `held_at`.
account_holds = Table(
    "payout_account_holds",
    metadata,
    Column("payee", String(80), primary_key=True),
    Column("bank_code", String(12), primary_key=True),
    Column("account_no", String(34), primary_key=True),
    Column("reason", String(8), nullable=False),
    Column("payout_id", String(40), nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
)

payment_runs = Table(
    "payment_runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("period", String(7), nullable=False),
    Column("count", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("execution_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Four eyes: proposed → approved | rejected (runs from before four eyes read as approved).
    Column("status", String(10), nullable=False, server_default="approved"),
    Column("proposed_by", String(64)),
    Column("proposer", String(100)),
    Column("decided_by", String(64)),
    Column("decider", String(100)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", String(500)),
    Index("ix_payment_runs_region", "region", "created_at"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("payee", String(80), nullable=False),
    Column("bank_code", String(12), nullable=False),
    Column("bank_part", String(3), nullable=False),
    Column("account_no", String(34), nullable=False),
    Column("holder", String(140), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # open | settled | rejected | cancelled (its run rejected)
    Column("reason", String(8)),
    Column("decided_on", Date),
    # Keyed as a bank file reads them (migration payrun14_payouts_by_file): on SQLite the rows live
    # in that key's B-tree alone, so a file is one range read of whole rows, and a run writes a
    # B-tree fewer per payout; a payout by its id through the unique index.
    PrimaryKeyConstraint("run_id", "bank_part", "payout_id", name="payouts_pkey"),
    Index("ux_payouts_payout", "payout_id", unique=True),
    Index("ix_payouts_run_payee", "run_id", "payee"),  # a run's changes against the previous one
    sqlite_with_rowid=False,
)

payout_members = Table(
    "payout_members",
    metadata,
    Column("payout_id", String(40), primary_key=True),
    Column("line_id", String(120), primary_key=True),
    Column("claim_id", String(64)),
    Column("employer_id", String(64)),
    Column("kind", String(64), nullable=False),
    Column("family", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    sqlite_with_rowid=False,  # a row per line a run pays: its key's B-tree alone (migration payrun12c)
)

payout_lines = Table(
    "payout_lines",
    metadata,
    # Keyed by payee first (migration payrun27_lock_by_payee): a run plans, probes and writes its
    # locks in payee order. A line belongs to one payee, so a line is still held at most once.
    Column("payee", String(80), primary_key=True),
    Column("line_id", String(120), primary_key=True),
    Column("payout_id", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    sqlite_with_rowid=False,  # no index by payout (migration payrun13): a payout's lines are its members'
)

# The entitlement lines are owned by services/payments/entitlements: referenced by name only.
entitlement_lines = table(
    "entitlement_lines",
    column("line_id", String), column("claim_id", String), column("employer_id", String),
    column("region", String), column("kind", String), column("family", String), column("period", String),
    column("period_start", Date), column("period_end", Date), column("amount_fen", BigInteger),
    column("payer", String), column("payee", String), column("bank_code", String), column("account_no", String),
    column("holder", String), column("adjusts", String), column("reason", String),
    column("known_at", DateTime(timezone=True)), column("explain_json", Text), column("policy_ref_json", Text),
    column("source_event_ids_json", Text), column("settled_outside", Text), column("texts_id", String),
)
# Where a line's texts are when it points at them (`texts_id`; else they are in the line itself).
entitlement_line_texts = table(
    "entitlement_line_texts",
    column("texts_id", String), column("explain_json", Text), column("policy_ref_json", Text),
    column("source_event_ids_json", Text),
)

# Overpayments (payouts/recovery.py): one row per overpayment, kept equal to its aggregate's
# state; `lines_json` the negative lines it took over (they are locked in `payout_lines` under
# the overpayment's id, so no run pays or recognizes them again).
overpayments = Table(
    "overpayments",
    metadata,
    Column("overpayment_id", String(40), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("payee", String(80), nullable=False),
    Column("claim_id", String(64), nullable=False),
    Column("employer_id", String(64)),
    Column("run_id", String(40), nullable=False),  # the run that recognized it
    Column("recognized_on", Date, nullable=False),
    Column("recognized_at", DateTime(timezone=True), nullable=False),
    Column("recovery_max_share", String(12), nullable=False),
    Column("lines_json", Text, nullable=False),
    Column("recognized_fen", BigInteger, nullable=False),
    Column("recovered_fen", BigInteger, nullable=False),
    Column("written_off_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # outstanding | recovered | written_off
    Column("write_off_reason", String(500)),
    Column("written_off_on", Date),
    Index("ix_overpayments_payee", "payee", "recognized_at"),
    Index("ix_overpayments_claim", "claim_id"),
)

# What runs keep back of payouts for overpayments: `planned` when the run is proposed, then
# `recovered` (approved), `cancelled` (rejected) or `undone` (the bank returned the payout).
# `holder_id` is the payout, or `rcv_…` when the deduction took all the payee was owed and no
# transfer was made (its lines are locked under that id; `lines_json` lists them).
overpayment_deductions = Table(
    "overpayment_deductions",
    metadata,
    Column("holder_id", String(40), primary_key=True),
    Column("overpayment_id", String(40), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("payout_id", String(40)),
    Column("payee", String(80), nullable=False),
    Column("gross_fen", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("lines_json", Text),
    Index("ix_overpayment_deductions_run", "run_id"),
    Index("ix_overpayment_deductions_overpayment", "overpayment_id", "status"),
)

# Pooling moves up (enrollment's PoolsConsolidated): each pool's move. A run of a region pays the
# lines of the pools that belong to it in the run's month (libs.pooling), whatever region they
# were recorded under.
payments_region_moves = region_moves_table("payments_region_moves", metadata)

PROJECTED = (claim_facts, payee_accounts, payments_region_moves)
