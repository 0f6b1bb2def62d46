"""A region's month for its untouched claims, made inside the database (issue 12).

`grouped.MonthOfGroups.rows` makes the month of a claim untouched since the month before from
its compact inputs, in Python, a claim at a time. At a province's size what is left of its cost
is per claim: reading the state and the inputs, checking them, filling the explanation, binding
and inserting the row. Here the same lines are made by the database, for every such claim of the
region at once, from the same inputs written in columns (`entitlement_claim_inputs`, beside the
state, by `row_of`):

* `_amounts` makes the month's amount and template of each distinct (grade, care level, wage's
  policy reference, R.62) among the region's inputs, found in their index by a skip from one to the
  next (`_groups`), not a pass over every claim's inputs;
* `_choose` selects into a temporary table the claims `projection._grouped_part` would take —
  state through the month before, knowledge (`engine.knowledge`) what the inputs and the
  region's policies and requests make now (the same text, written in SQL), facts counted again,
  no line of theirs stored in the month yet, the inputs cover the month, and every amount they
  are owed one this module makes — each flagged when the texts it keeps for a kind are not the
  ones this month makes for it (`_stale`);
* `_texts` gives each chosen claim the texts of its lines (explanation, policy reference, sources;
  `entitlement_line_texts`): what a care level is owed is a row of a small per-month table
  (amount and explanation from `MonthOfGroups`); R.35's explanation is the grade's
  `AllowanceTemplate` pieces around the same texts (the wage, the formula, the top-up note)
  concatenated in SQL. A claim keeps the id of its texts with its inputs, beside the digest of
  what the month added to them: they are made again only when that changes (a new policy
  version), so a month in the steady state makes no text at all, and passes over no claim for
  them (no claim flagged: the kind's statement is not run);
* `_insert_lines` writes their lines with two INSERT … SELECT (R.34 and R.35), each pointing at
  its claim's texts; R.35 is integer fen from the template; the line id is `engine.line_id`'s
  SHA-256 (PostgreSQL's `sha256`, SQLite's a function registered on the connection); the bank
  account joined from `entitlement_accounts`; in the claims' order, as they are read, not sorted
  by line id: one of the month's two parts of an index, (period, line_id) or (period, claim_id),
  takes its lines at random places whatever the order, and a sort by line id made that the claim
  index's at the cost of the sort itself (at 1,000,000 a 64 MiB sort buffer in SQLite's heap
  and ~330 MB written to and read back from its temporary files, for the same CPU:
  bench/results/entitlements_paired_entitle26.json);
  a kind with no row in its month table (no care level among the region's claims) has no line
  to make and no statement;
* the chosen claims' states move on a month, and the rest of the region goes through the usual
  batches (`projection._materialize_batch`), which skip the chosen ones.

Every line is the row `MonthOfGroups.rows` makes — the same id, amount, explanation, reason,
knowledge time, sources — which is the row the full derivation makes:
tests/payments/entitlements/test_entitlements_fast_path.py compares the stored rows with the full
derivation's, row by row, on SQLite and PostgreSQL, with and without this path.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from libs.db import bind_processor, sqlite_page_cache

from . import grouped, rules
from .engine import KINDS
from .tables import accounts, claim_facts, claim_inputs, claim_states, employer_facts, entitlement_lines, line_texts

INPUT_COLUMNS = tuple(c.name for c in claim_inputs.columns)
CHOSEN, CARES, ALLOWANCES = "entitlement_month_chosen", "entitlement_month_cares", "entitlement_month_allowances"
TEXTS = "entitlement_month_texts"
FP = 16  # characters of the digest of what a month adds to a claim's texts (`_texts`)
MAX_WAGE_FEN = 10 ** 12  # × a ratio's units (≤ 10^6) × 2 stays within a 64-bit integer
UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?\+00:00")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
GRADE = re.compile(r"[1-9][0-9]?")
LINE_ID_FUNCTION, TEXTS_ID_FUNCTION = "entitlement_line_id", "entitlement_texts_id"
# SQLite's page cache while a month is made (then the connection's own again): the lines' indexes
# take every claim's new line at its own place; with the default 2 MiB their pages were read again
# from the file, and written out, many times over. Bounded, whatever the region's size. The same for
# the temporary schema: the chosen claims of a province (a million keys, tens of MiB) go beyond its
# default 2 MiB to the temporary file, read back by every statement that passes over them.
CACHE_KIB = 32 * 1024


def row_of(inputs: grouped.Inputs) -> dict | None:
    """The claim's inputs as an `entitlement_claim_inputs` row, or None when SQL cannot make its
    months exactly as `MonthOfGroups` does (its month is then made in Python): a wage that is not
    plain yuan, a time not written in UTC (compared as text here), event ids repeated."""
    wage_fen = grouped._fen_of(inputs.wage) if inputs.wage else None
    if inputs.wage and (wage_fen is None or wage_fen >= MAX_WAGE_FEN):
        return None
    if ((inputs.grade and not GRADE.fullmatch(inputs.grade)) or (inputs.birth and not DAY.fullmatch(inputs.birth))
            or not UTC_TIME.fullmatch(inputs.last_fact_at) or not UTC_TIME.fullmatch(inputs.point_at)):
        return None
    ids = [s for s in (inputs.app_event, inputs.decision_event, inputs.wage_event, inputs.appraisal_event,
                       inputs.uninsured_source) if s]
    if len(set(ids)) != len(ids):
        return None  # `dict.fromkeys` would drop one: left to Python
    return dict(
        claim_id=inputs.claim, region=inputs.region, employer_id=inputs.employer, payee=inputs.payee,
        facts=int(inputs.facts), last_fact_at=inputs.last_fact_at, last_fact_id=inputs.last_fact_id,
        point_at=inputs.point_at, point_known_at=datetime.fromisoformat(inputs.point_at), point_id=inputs.point_id,
        point_label=inputs.point_label, valid_from=inputs.valid_from, appraised=1 if inputs.appraisal_event else 0,
        grade=int(inputs.grade) if inputs.grade else None, care_level=inputs.care_level, wage_fen=wage_fen,
        wage_ref=inputs.wage_ref, birth=inputs.birth, sex=inputs.sex, closed=inputs.closed,
        uninsured_on=inputs.uninsured_on,
        sources_care=_items(inputs.app_event, inputs.decision_event, inputs.appraisal_event),
        sources_allowance=_items(inputs.app_event, inputs.decision_event, inputs.wage_event, inputs.appraisal_event),
        sources_tail=f", {json.dumps(inputs.uninsured_source)}" if inputs.uninsured_source else "")


def _items(*ids: str) -> str:
    """JSON list items as `json.dumps(list)` writes them (the first is never empty: the application's)."""
    return ", ".join(json.dumps(s) for s in ids if s)


def line_id_of_text(joined: str, _sha256=hashlib.sha256) -> str:  # noqa: ANN001 - bound once: called per line
    """`engine.line_id` of its fields already joined by '|' (SQLite's function), written as it
    writes it: one call fewer a line than hex of the digest's first 16 bytes, the same text."""
    return "el_" + _sha256(joined.encode()).hexdigest()[:32]


def texts_id_of_text(joined: str) -> str:
    """`tables.texts_id` of the three texts already joined by newlines (SQLite's function)."""
    return "tx_" + hashlib.sha256(joined.encode()).hexdigest()[:32]


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:FP]


class _Sql:
    """The few expressions the two dialects write differently."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self.c = ' COLLATE "C"' if self.postgres else ""  # text compared as bytes, as Python compares str
        self.temp = "pg_temp." if self.postgres else "temp."
        # SQLite: a table found by its key alone is that key's B-tree, not a rowid table beside it
        self.keyed_only = "" if self.postgres else " WITHOUT ROWID"

    def line_id(self, joined: str) -> str:
        if self.postgres:
            return f"'el_' || substr(encode(sha256(convert_to({joined}, 'UTF8')), 'hex'), 1, 32)"
        return f"{LINE_ID_FUNCTION}({joined})"

    def texts_id(self, joined: str) -> str:
        if self.postgres:
            return f"'tx_' || substr(encode(sha256(convert_to({joined}, 'UTF8')), 'hex'), 1, 32)"
        return f"{TEXTS_ID_FUNCTION}({joined})"

    def later(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.postgres else f"max({a}, {b})"

    @staticmethod
    def yuan(fen: str) -> str:
        """`grouped._yuan` of an integer fen expression."""
        return f"CAST(({fen}) / 100 AS TEXT) || '.' || substr(CAST(100 + ({fen}) - (({fen}) / 100) * 100 AS TEXT), 2)"


def _processed(session: Session, column, value):  # noqa: ANN001, ANN202 - a value as the column stores it
    dialect = session.get_bind().dialect
    processor = bind_processor(column, dialect)
    return processor(value) if processor is not None and value is not None else value


@contextmanager
def untouched_month(session: Session, month: grouped.MonthOfGroups) -> Iterator[tuple[int, str]]:
    """Make `month.month`'s lines of the region's untouched claims in the database (see the module
    docstring); yields how many lines it inserted and the temporary table of the claims it took
    (a column `claim_id`), which the caller's batches skip; the table is dropped after."""
    conn = session.connection()
    sql = _Sql(conn.dialect.name)
    if not sql.postgres:
        dbapi = conn.connection.dbapi_connection
        dbapi.create_function(LINE_ID_FUNCTION, 1, line_id_of_text, deterministic=True)
        dbapi.create_function(TEXTS_ID_FUNCTION, 1, texts_id_of_text, deterministic=True)
    with sqlite_page_cache(session, CACHE_KIB, ("main", "temp")):
        _drop(session, sql)
        renew = "".join(f", {_renew(parts[3])} INTEGER NOT NULL" for parts in KIND_PARTS.values())
        for ddl in (f"CREATE TEMP TABLE {CHOSEN} (claim_id VARCHAR(64) PRIMARY KEY{renew}){sql.keyed_only}",
                    f"CREATE TEMP TABLE {CARES} (care_level VARCHAR(16), uninsured_on VARCHAR(10), payer VARCHAR(16), "
                    "fen BIGINT, explain_json TEXT, fp TEXT)",
                    f"CREATE TEMP TABLE {ALLOWANCES} (grade INTEGER, wage_ref TEXT, uninsured_on VARCHAR(10), "
                    "payer VARCHAR(16), ratio_units BIGINT, scale BIGINT, minimum_fen BIGINT, plain_head TEXT, "
                    "topped_head TEXT, times_ratio TEXT, topped_tail TEXT, p0 TEXT, p1 TEXT, p2 TEXT, q0 TEXT, q1 TEXT, "
                    "q2 TEXT, q3 TEXT, fp TEXT)",
                    f"CREATE TEMP TABLE {TEXTS} (claim_id VARCHAR(64), kind VARCHAR(32), fp TEXT, explain_json TEXT, "
                    "source_event_ids_json TEXT, texts_id VARCHAR(36))"):
            session.execute(text(ddl))
        _amounts(session, month)
        _choose(session, month, sql)
        _texts(session, month, sql)
        inserted = _insert_lines(session, month, sql)
        session.execute(text(f"UPDATE {claim_states.name} SET through = :month "
                             f"WHERE claim_id IN (SELECT claim_id FROM {CHOSEN})"), {"month": month.month})
        yield inserted, CHOSEN
        _drop(session, sql)


def _drop(session: Session, sql: _Sql) -> None:
    for table in (CHOSEN, CARES, ALLOWANCES, TEXTS):
        session.execute(text(f"DROP TABLE IF EXISTS {sql.temp}{table}"))


CANONICAL_HOLES = ((1, 0), (1, 0, 2))  # the formula, then the wage (then the note): sorted keys' order


def _amounts(session: Session, month: grouped.MonthOfGroups) -> None:
    """The month's amounts of every (care level, R.62) and template of every (grade, wage's
    policy reference, R.62) among the region's inputs."""
    cares: dict[tuple, dict] = {}
    allowances: dict[tuple, dict] = {}
    for grade, care_level, wage_ref, uninsured_on in _groups(session, month.ahead.region):
        if care_level in grouped.CARE_LEVELS and (care_level, uninsured_on) not in cares:
            due = month.care_due(care_level, uninsured_on)
            if due is not None:
                cares[(care_level, uninsured_on)] = {"care_level": care_level, "uninsured_on": uninsured_on,
                                                     "payer": due[1], "fen": due[2], "explain_json": due[3],
                                                     "fp": _fingerprint(due[3], *_month_texts(month))}
        if (grade is None or not 1 <= grade <= 4 or str(grade) not in month.doc.disability_allowance_ratios
                or (grade, wage_ref, uninsured_on) in allowances):
            continue
        template = month.template(str(grade), wage_ref, uninsured_on)
        if template is None or (template.plain[0], template.topped[0]) != CANONICAL_HOLES:
            continue  # its claims go on in Python
        payer = "employer" if uninsured_on else month.doc.payer(KINDS["disability_allowance"][1])
        p, q = template.plain[1], template.topped[1]
        allowances[(grade, wage_ref, uninsured_on)] = dict(
            grade=grade, wage_ref=wage_ref, uninsured_on=uninsured_on, payer=payer, ratio_units=template.ratio_units,
            scale=template.scale, minimum_fen=template.minimum_fen, plain_head=template.plain_head,
            topped_head=template.topped_head, times_ratio=template.times_ratio, topped_tail=template.topped_tail,
            p0=p[0], p1=p[1], p2=p[2], q0=q[0], q1=q[1], q2=q[2], q3=q[3])
        allowances[(grade, wage_ref, uninsured_on)]["fp"] = _fingerprint(
            *allowances[(grade, wage_ref, uninsured_on)].values(), grouped.AllowanceTemplate.NOTE_HEAD,
            grouped.AllowanceTemplate.NOTE_TAIL, *_month_texts(month))
    for table, keyed in ((CARES, cares), (ALLOWANCES, allowances)):
        rows = list(keyed.values())
        if rows:
            names = list(rows[0])
            session.execute(text(f"INSERT INTO {table} ({', '.join(names)}) "
                                 f"VALUES ({', '.join(':' + n for n in names)})"), rows)


GROUP_COLUMNS = ("grade", "care_level", "wage_ref", "uninsured_on")  # `tables.claim_inputs`' index by amounts


def _groups(session: Session, region: str) -> Iterator[tuple]:
    """The distinct (grade, care level, wage's policy reference, R.62) of the region's inputs, read
    from their index (`ix_entitlement_claim_inputs_amounts`) one descent each: a skip from each to
    the next, not a pass over every claim's inputs (a province's are hundreds of MB). The claims
    without a grade first (their own descents: a NULL compares with nothing, and the dialects put
    NULLs at either end), then the others in the index's order."""
    rest = GROUP_COLUMNS[1:]
    for graded, columns in ((False, rest), (True, GROUP_COLUMNS)):
        where = f"region = :region AND grade IS {'NOT ' if graded else ''}NULL"
        order = ", ".join(columns)
        first = f"SELECT {', '.join(GROUP_COLUMNS)} FROM {claim_inputs.name} WHERE {where} ORDER BY {order} LIMIT 1"
        after = (f"SELECT {', '.join(GROUP_COLUMNS)} FROM {claim_inputs.name} WHERE {where} "
                 f"AND ({order}) > ({', '.join(':' + c for c in columns)}) ORDER BY {order} LIMIT 1")
        row = session.execute(text(first), {"region": region}).first()
        while row is not None:
            yield tuple(row)
            row = session.execute(text(after), {"region": region, **dict(zip(GROUP_COLUMNS, row))}).first()


def _choose(session: Session, month: grouped.MonthOfGroups, sql: _Sql) -> None:
    """The claims whose month this module makes: `projection._grouped_part`'s, every amount one
    of `_amounts`'."""
    ahead, c = month.ahead, sql.c
    params: dict = {"region": ahead.region, "previous": ahead.previous, "month": month.month,
                    "now": ahead.now.isoformat(), "npolicies": f"|{len(ahead.policies)}|"}
    asked = " + ".join([f"CASE WHEN i.last_fact_at{c} >= :asked{n} THEN 1 ELSE 0 END"
                        for n in range(len(ahead.requested))]) or "0"
    params |= {f"asked{n}": t.isoformat() for n, (t, _m) in enumerate(ahead.requested)}
    # `MonthOfGroups.knowledge`: the last fact's point, or the last policy version's when later
    knowledge = (f"CAST(i.facts AS TEXT) || :npolicies || CAST({asked} AS TEXT) || '|' || i.last_fact_at || '|' "
                 "|| i.last_fact_id")
    if month.last_policy is not None:
        params |= {"policy_at": month.last_policy[0].isoformat(), "policy_id": month.last_policy[1],
                   "policy_known": f"|{month._policy_known}"}
        knowledge = (f"CASE WHEN i.last_fact_at{c} < :policy_at OR (i.last_fact_at = :policy_at AND "
                     f"i.last_fact_id{c} < :policy_id) THEN CAST(i.facts AS TEXT) || :policy_known "
                     f"ELSE {knowledge} END")
    # a claim citing the version's event itself is left to Python (`dict.fromkeys` would drop it)
    quoted = json.dumps(month.policy.event_id)
    params["policy_pattern"] = "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    kinds = ", ".join(f"'{k}'" for k in KINDS)  # the engine's own names, never input
    session.execute(text(f"""
        INSERT INTO {CHOSEN} (claim_id, {', '.join(_renew(parts[3]) for parts in KIND_PARTS.values())})
        SELECT i.claim_id, {', '.join(_stale(kind) for kind in KIND_PARTS)}
        FROM {claim_inputs.name} i JOIN {claim_states.name} s ON s.claim_id = i.claim_id
        WHERE i.region = :region AND s.through = :previous AND i.valid_from{c} <= :month
          AND i.last_fact_at{c} <= :now AND s.knowledge = {knowledge}
          AND i.facts = (SELECT count(*) FROM {claim_facts.name} f WHERE f.claim_id = i.claim_id)
                        + (SELECT count(*) FROM {employer_facts.name} e WHERE e.employer_id = i.employer_id)
          AND NOT EXISTS (SELECT 1 FROM {entitlement_lines.name} l WHERE l.claim_id = i.claim_id
                          AND l.period = :month AND l.kind IN ({kinds}))
          AND (i.sources_allowance || i.sources_tail) NOT LIKE :policy_pattern ESCAPE '\\'
          AND (NOT ({_allowance_owed(sql)}) OR EXISTS (SELECT 1 FROM {ALLOWANCES} t WHERE t.grade = i.grade
               AND t.wage_ref = i.wage_ref AND t.uninsured_on = i.uninsured_on))
    """), params | _retirement(month))


def _owed(sql: _Sql) -> str:
    """The claim is owed monthly benefits this month (an appraisal in force, not closed before it)."""
    return f"i.appraised = 1 AND (i.closed = '' OR i.closed{sql.c} >= :month)"


def _allowance_owed(sql: _Sql) -> str:
    """R.35 this month: grades 1–4 with an insured wage, before retirement (`MonthOfGroups._dues`)."""
    retired = (f"i.birth <> '' AND ((i.sex = 'male' AND i.birth{sql.c} <= :born_by_male) OR "
               f"(i.sex <> 'male' AND i.birth{sql.c} <= :born_by_female))")
    return f"{_owed(sql)} AND i.grade <= 4 AND i.wage_fen IS NOT NULL AND NOT ({retired})"


def _retirement(month: grouped.MonthOfGroups) -> dict:
    """The last birth date (ISO text) retired on the month's first day, by sex: `rules.retirement_date`
    is not decreasing in the birth date, so 'retired' is 'born on or before' it."""
    age = month.doc.retirement_age
    out = {}
    for sex, years in (("male", age.male), ("female", age.female)):
        near = month.first.replace(year=month.first.year - years)
        born_by = max(d for d in (near + timedelta(days=k) for k in range(-5, 6))
                      if rules.anniversary(d, years) <= month.first)
        assert rules.anniversary(born_by + timedelta(days=1), years) > month.first
        out[f"born_by_{sex}"] = born_by.isoformat()
    return out


def _month_texts(month: grouped.MonthOfGroups) -> tuple[str, str]:
    """What the month adds to every line's texts: its policy reference, and its policy version's
    event id among the sources (JSON list items)."""
    return month.policy_ref_json, f", {json.dumps(month.policy.event_id)}" if month.policy.event_id else ""


# What R.35's explanation is made of: `AllowanceTemplate.due`'s integer fen, its pieces around the
# wage, the rounded amount and the top-up note.
ROUNDED_FEN = "((2 * i.wage_fen * t.ratio_units + t.scale) / (2 * t.scale))"
TOPPED = "i.wage_fen * t.ratio_units < t.minimum_fen * t.scale"

# Each kind this module makes: its month table (alias, name, how a claim's row is found), its
# claim's texts column, and the source items its line cites.
KIND_PARTS = {
    "care_allowance": ("d", CARES, "d.care_level = i.care_level AND d.uninsured_on = i.uninsured_on", "care_texts",
                       "i.sources_care"),
    "disability_allowance": ("t", ALLOWANCES, "t.grade = i.grade AND t.wage_ref = i.wage_ref "
                                              "AND t.uninsured_on = i.uninsured_on", "allowance_texts",
                             "i.sources_allowance"),
}


def _renew(column: str) -> str:
    """`CHOSEN`'s flag: the claim's `column` texts may have to be made again this month (`_texts`)."""
    return f"renew_{column}"


def _stale(kind: str) -> str:
    """1 when the claim has a row in the kind's month table whose texts differ from the ones it
    keeps (or it keeps none): the condition `_texts` makes texts on, less whether they are owed."""
    alias, table, on, column, _sources = KIND_PARTS[kind]
    return (f"CASE WHEN EXISTS (SELECT 1 FROM {table} {alias} WHERE {on} AND (i.{column} IS NULL "
            f"OR substr(i.{column}, 1, {FP}) <> {alias}.fp)) THEN 1 ELSE 0 END")


def _owed_of(kind: str, sql: _Sql) -> str:
    return _owed(sql) if kind == "care_allowance" else _allowance_owed(sql)


def _explain(kind: str, sql: _Sql) -> str:
    """The line's explanation, as `MonthOfGroups` writes it."""
    if kind == "care_allowance":
        return "d.explain_json"
    wage, rounded = sql.yuan("i.wage_fen"), sql.yuan(ROUNDED_FEN)
    top_up = sql.yuan(f"t.minimum_fen - {ROUNDED_FEN}")
    return (f"CASE WHEN {TOPPED} THEN t.q0 || t.topped_head || {wage} || t.times_ratio || {rounded} "
            f"|| t.topped_tail || t.q1 || {wage} || t.q2 || :note_head || {top_up} "
            f"|| :note_tail || t.q3 ELSE t.p0 || t.plain_head || {wage} || t.times_ratio || {rounded} || t.p1 "
            f"|| {wage} || t.p2 END")


def _texts(session: Session, month: grouped.MonthOfGroups, sql: _Sql) -> None:
    """The texts of the chosen claims' lines (explanation, policy reference, sources), stored once
    (`entitlement_line_texts`) and kept with the claim's inputs (`care_texts`, `allowance_texts`:
    the digest of what the month added, `fp`, then their id). A claim's texts are the same month
    after month while its inputs and the month's parts are: only those made with other parts (or
    none yet) are made again here, once, in SQL as `MonthOfGroups` makes them; the others' lines
    point at what the claim has."""
    policy_ref_json, policy_part = _month_texts(month)
    params = {"policy_ref_json": policy_ref_json, "policy_part": policy_part, "nl": "\n", "month": month.month,
              "note_head": grouped.AllowanceTemplate.NOTE_HEAD,
              "note_tail": grouped.AllowanceTemplate.NOTE_TAIL} | _retirement(month)
    for kind, (alias, table, on, column, sources) in KIND_PARTS.items():
        if session.execute(text(f"SELECT 1 FROM {CHOSEN} WHERE {_renew(column)} = 1 LIMIT 1")).first() is None:
            continue  # every chosen claim keeps the texts this month makes (the steady state): no pass over them
        made = session.execute(text(f"""
            INSERT INTO {TEXTS} (claim_id, kind, fp, explain_json, source_event_ids_json)
            SELECT i.claim_id, '{kind}', {alias}.fp, {_explain(kind, sql)},
                   '[' || {sources} || :policy_part || i.sources_tail || ']'
            FROM {CHOSEN} ch JOIN {claim_inputs.name} i ON i.claim_id = ch.claim_id JOIN {table} {alias} ON {on}
            WHERE ch.{_renew(column)} = 1 AND {_owed_of(kind, sql)}
              AND (i.{column} IS NULL OR substr(i.{column}, 1, {FP}) <> {alias}.fp)
        """), params).rowcount
        if not made:
            continue
        joined = "explain_json || CAST(:nl AS TEXT) || CAST(:policy_ref_json AS TEXT) || :nl || source_event_ids_json"
        session.execute(text(f"UPDATE {TEXTS} SET texts_id = {sql.texts_id(joined)} WHERE kind = '{kind}'"), params)
        session.execute(text(f"""
            INSERT INTO {line_texts.name} (texts_id, explain_json, policy_ref_json, source_event_ids_json)
            SELECT texts_id, explain_json, :policy_ref_json, source_event_ids_json FROM {TEXTS} WHERE kind = '{kind}'
            ON CONFLICT (texts_id) DO NOTHING
        """), params)
        session.execute(text(f"""
            UPDATE {claim_inputs.name} SET {column} = m.fp || m.texts_id FROM {TEXTS} m
            WHERE m.claim_id = {claim_inputs.name}.claim_id AND m.kind = '{kind}'
        """))


def _insert_lines(session: Session, month: grouped.MonthOfGroups, sql: _Sql) -> int:
    """The chosen claims' lines of the month: R.34's, then R.35's, each pointing at its claim's
    texts (`_texts`). Returns how many."""
    first, last = month.first, month.last
    params = {"month": month.month, "first": _processed(session, entitlement_lines.c.period_start, first),
              "last": _processed(session, entitlement_lines.c.period_end, last),
              "due": _processed(session, entitlement_lines.c.known_at, month.due_moment),
              "arrears": "arrears for ", "learned": ", learned from ", "due_for": "due for ",
              "known_from": ", as known from "} | _retirement(month)
    reason = (f"CASE WHEN substr(i.point_at, 1, 7){sql.c} > :month "
              "THEN CAST(:arrears AS TEXT) || :month || CAST(:learned AS TEXT) || i.point_label "
              "ELSE CAST(:due_for AS TEXT) || :month || CAST(:known_from AS TEXT) || i.point_label END")
    known_at = sql.later("i.point_known_at", ":due")
    # R.35 in integer fen, as `AllowanceTemplate.due`: ⌊wage_fen × ratio + ½⌋, never below the minimum
    amounts = {"care_allowance": ("d.fen", "d.payer"),
               "disability_allowance": (f"CASE WHEN {TOPPED} THEN t.minimum_fen ELSE {ROUNDED_FEN} END", "t.payer")}
    columns = ", ".join(c.name for c in entitlement_lines.columns)
    inserted = 0
    for kind, (alias, table, on, texts, _sources) in KIND_PARTS.items():
        if session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None:
            continue  # nothing of this kind is owed this month (no care level, say): no pass over the claims
        fen, payer = amounts[kind]
        joined = (f"i.claim_id || '|{kind}|' || i.payee || '|' || CAST(:month AS TEXT) || '|' || {payer} || '|' "
                  f"|| i.point_id || '|' || CAST({fen} AS TEXT)")
        inserted += session.execute(text(f"""
            INSERT INTO {entitlement_lines.name} ({columns})
            SELECT {sql.line_id(joined)}, i.claim_id, i.employer_id, i.region, '{kind}', '{KINDS[kind][0]}', :month,
                   :first, :last, {fen}, {payer}, i.payee, a.bank_code, a.account_no, a.holder, '[]', {reason},
                   {known_at}, NULL, NULL, NULL, NULL, substr(i.{texts}, {FP + 1})
            FROM {CHOSEN} ch JOIN {claim_inputs.name} i ON i.claim_id = ch.claim_id JOIN {table} {alias} ON {on}
            LEFT JOIN {accounts.name} a ON a.payee = i.payee
            WHERE {_owed_of(kind, sql)}
        """), params).rowcount
    return inserted
