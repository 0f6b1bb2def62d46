"""The entitlements read model: the facts it derives from, and the append-only lines.

`entitlement_lines` is read by the payouts part (payment runs take fund lines of a region up to
a month; employer lines are obligations): its column names are a contract. `period` is always
the month `YYYY-MM` a line falls due in (so a run of a month takes it); a one-off's date is
`period_start` = `period_end`. Amounts are integer fen; `adjusts` is a JSON list of line ids.
A line's explanation, policy reference and source event ids are stored in it (`explain_json`,
`policy_ref_json`, `source_event_ids_json`) or, for the lines this part derives, once in
`entitlement_line_texts` and pointed at (`texts_id`): the same texts every month of a claim.
Read them through `explained_lines`.

The lines are kept by month (issue 12): the primary key is (`period`, `line_id`) and a claim's
lines are found by (`period`, `claim_id`), so a month's lines land at the end of both indexes
instead of at every claim's and every id's own place across the whole history. A lookup by line id
or by claim names the months to look in (`line_periods`, `in_months`): one descent a month.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import (BigInteger, ColumnElement, Column, Date, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint,
                        Select, String, Table, Text, and_, func, select, text)
from sqlalchemy.orm import Session
from libs.pooling_tables import region_moves_table

metadata = MetaData()

entitlement_lines = Table(
    "entitlement_lines", metadata,
    Column("line_id", String(120), nullable=False),
    Column("claim_id", String(64), nullable=False),
    Column("employer_id", String(64)),
    Column("region", String(6), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("family", String(32), nullable=False),
    Column("period", String(10), nullable=False),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("amount_fen", BigInteger, nullable=False),
    Column("payer", String(16), nullable=False),
    Column("payee", String(80), nullable=False),
    Column("bank_code", String(12)),
    Column("account_no", String(34)),
    Column("holder", String(140)),
    Column("adjusts", Text),
    Column("reason", Text),
    Column("known_at", DateTime(timezone=True), nullable=False),
    Column("explain_json", Text),
    Column("policy_ref_json", Text),
    Column("source_event_ids_json", Text),
    # going live: paid by the old system (why, in words); such a line is never in a payment run
    Column("settled_outside", Text),
    # its three texts above are the row of entitlement_line_texts with this id (they are NULL here)
    Column("texts_id", String(36)),
    # a month's lines at the end of both (entitle15_lines_by_month); a line id is unique, its month
    # part of what makes it (`engine.line_id`; a bill's or a care event's line has its one month)
    PrimaryKeyConstraint("period", "line_id"),
    Index("ix_entitlement_lines_month_claim", "period", "claim_id"),
    Index("ix_entitlement_lines_run", "payer", "region", "period"),
    # the lines still waiting for their payee's bank account (given it when it comes): a line made
    # with one — nearly all of a month's — is in no payee index to rewrite
    Index("ix_entitlement_lines_unbanked", "payee", sqlite_where=text("bank_code IS NULL"),
          postgresql_where=text("bank_code IS NULL")),
    # the few negative lines, where a run looks for overpayments (entitle28_negative_lines)
    Index("ix_entitlement_lines_negative", "payer", "region", "period", sqlite_where=text("amount_fen < 0"),
          postgresql_where=text("amount_fen < 0")),
)

# A line's texts, stored once however many lines (a claim's months) have them: keyed by their
# digest (`projection.texts_id`; the same in SQL, `in_database`), never changed, never deleted
# while the lines are kept.
TEXT_COLUMNS = ("explain_json", "policy_ref_json", "source_event_ids_json")
line_texts = Table(
    "entitlement_line_texts", metadata,
    Column("texts_id", String(36), primary_key=True),
    Column("explain_json", Text, nullable=False),
    Column("policy_ref_json", Text, nullable=False),
    Column("source_event_ids_json", Text, nullable=False),
    sqlite_with_rowid=False,
)


def texts_id(explain_json: str, policy_ref_json: str, source_event_ids_json: str) -> str:
    """The id of a line's three texts: their digest (JSON text has no raw newline to confuse them)."""
    joined = f"{explain_json}\n{policy_ref_json}\n{source_event_ids_json}"
    return "tx_" + hashlib.sha256(joined.encode()).hexdigest()[:32]


# Every month some line falls due in, ascending: a descent of the primary key's index a month
# (a loose index scan), not a pass over the lines.
PERIODS_SQL = ("WITH RECURSIVE months(period) AS (SELECT min(period) FROM entitlement_lines UNION ALL "
               "SELECT (SELECT min(l.period) FROM entitlement_lines l WHERE l.period > months.period) FROM months "
               "WHERE months.period IS NOT NULL) SELECT period FROM months WHERE period IS NOT NULL")


def line_periods(session: Session) -> list[str]:
    """The months the lines fall due in (`PERIODS_SQL`): what a lookup by line id or by claim
    names, its keys leading with the month."""
    return list(session.execute(text(PERIODS_SQL)).scalars())


def in_months(lines, session: Session, column: str, values) -> ColumnElement:  # noqa: ANN001 - a lines table
    """`lines.<column> IN values` (a line id or a claim id) in every month with lines: the
    condition the month-led keys answer with a descent a month (`line_periods`)."""
    return and_(lines.c.period.in_(line_periods(session)), lines.c[column].in_(list(values)))


def explained_lines() -> Select:
    """`select(entitlement_lines)` with each line's texts in its own columns, wherever they are stored."""
    el, t = entitlement_lines, line_texts
    return select(*(func.coalesce(t.c[c.name], c).label(c.name) if c.name in TEXT_COLUMNS else c
                    for c in el.columns)).select_from(el.outerjoin(t, t.c.texts_id == el.c.texts_id))


claim_facts = Table(
    "entitlement_claim_facts", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("region", String(6)),  # InjuryApplied only: the claim's region
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("occurred_on", Date),
    Column("payload", Text, nullable=False),
    Index("ix_entitlement_claim_facts_region_claim", "type", "region", "claim_id"),  # a region's claims, index only
)

employer_facts = Table(
    "entitlement_employer_facts", metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
)

accounts = Table(
    "entitlement_accounts", metadata,
    Column("payee", String(80), primary_key=True),
    Column("bank_code", String(12)),
    Column("account_no", String(34)),
    Column("holder", String(140)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(36), nullable=False),
    sqlite_with_rowid=False,  # a row per payee: its key's B-tree alone (payments_emp21_0001)
)

policies = Table(
    "entitlement_policies", metadata,
    Column("region", String(6), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("effective_from", Date, nullable=False),
    Column("document", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Months a payment run asked for beyond the current one: written by the run's command, kept by
# a replay (so the replayed lines are the ones the run saw).
horizons = Table(
    "entitlement_horizons", metadata,
    Column("region", String(6), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)

# Pooling moves up (enrollment's PoolsConsolidated): each pool's move, and when it became known —
# from its date a moved claim's months take the new region's policy, as of that knowledge.
region_moves = region_moves_table("entitlement_region_moves", metadata,
                                  Column("recorded_at", DateTime(timezone=True), nullable=False))

# The last derived state of each claim: the month its lines were materialized through and the
# knowledge they were derived from (`engine.knowledge`). A month added to a claim whose knowledge
# is unchanged since is derived alone (the months before it were derived with that knowledge).
# Written by every materialization of the claim; a claim without a row is derived otherwise.
# Kept narrow: a month made in the database moves every untouched claim's `through` on, which
# rewrites every page of this table (its compact inputs live beside it, in `claim_input_texts`).
claim_states = Table(
    "entitlement_claim_states", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("through", String(7), nullable=False),
    Column("knowledge", String(160), nullable=False),
    sqlite_with_rowid=False,  # found by its key alone (entitle12b_narrow_states)
)

# The claim's compact month inputs (`grouped.inputs_of`), written and replaced with its state from
# the same facts; no row when its months need its facts (a death, grade 5–6, an import...).
claim_input_texts = Table(
    "entitlement_claim_input_texts", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("inputs", Text, nullable=False),
    sqlite_with_rowid=False,
)

# The same compact inputs in columns (`in_database.row_of`), for the month the database makes
# itself for the untouched claims of a region (one INSERT … SELECT); written and replaced with the
# state; no row: the claim's month is made in Python (`grouped`, or from its facts). Text times are
# the isoformat in UTC the state's knowledge is written with; '' for none.
claim_inputs = Table(
    "entitlement_claim_inputs", metadata,
    Column("claim_id", String(64), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("employer_id", String(64), nullable=False),
    Column("payee", String(80), nullable=False),
    Column("facts", Integer, nullable=False),  # how many facts (its own and its employer's) they were made from
    Column("last_fact_at", String(40), nullable=False),
    Column("last_fact_id", String(64), nullable=False),
    Column("point_at", String(40), nullable=False),  # the knowledge point its lines are learned at
    Column("point_known_at", DateTime(timezone=True), nullable=False),  # the same, stored as a line's known_at
    Column("point_id", Text, nullable=False),
    Column("point_label", Text, nullable=False),
    Column("valid_from", String(7), nullable=False),  # the first month they cover
    Column("appraised", Integer, nullable=False),  # 1: an appraisal is in force
    Column("grade", Integer),
    Column("care_level", String(16), nullable=False),
    Column("wage_fen", BigInteger),
    Column("wage_ref", Text, nullable=False),  # the insured wage's policy reference, JSON
    Column("birth", String(10), nullable=False),
    Column("sex", String(16), nullable=False),
    Column("closed", String(7), nullable=False),  # the month the claim was closed in
    Column("uninsured_on", String(10), nullable=False),  # R.62
    # a line's source event ids, JSON list items without the policy version's: the care
    # allowance's, the disability allowance's, and what follows the version's (R.62's source)
    Column("sources_care", Text, nullable=False),
    Column("sources_allowance", Text, nullable=False),
    Column("sources_tail", Text, nullable=False),
    # the texts of its last R.34 / R.35 line made here: the digest of what the month added to them
    # (`in_database`, 16 characters), then their `texts_id`; NULL until one is made
    Column("care_texts", String(52)),
    Column("allowance_texts", String(52)),
    Index("ix_entitlement_claim_inputs_region", "region"),
    # the month's amounts and templates are made once for each distinct of these (`in_database._groups`,
    # a skip from one to the next), not found by a pass over the region's claims
    Index("ix_entitlement_claim_inputs_amounts", "region", "grade", "care_level", "wage_ref", "uninsured_on"),
    sqlite_with_rowid=False,
)

PROJECTED = (claim_facts, employer_facts, accounts, policies, region_moves, claim_states, claim_input_texts,
             claim_inputs, line_texts)
