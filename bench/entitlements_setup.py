"""The entitlements bench's setup (issue 12): BENCH_BENEFICIARIES claims' facts, and what their
first materialization through 2026-11 leaves — in minutes at 1,000,000, where the full derivation
of every claim (≈ 1 ms of CPU each) did not finish in 32 minutes.

The bench's claims differ only in their ids, insured wage, grade and bank account, so what the
full derivation stores for one (three lines, their two texts, its state and compact inputs, in
`DERIVED`) is another's with those values put in:

1. the first `BASE` claims' facts and accounts are seeded as the bench always did
   (`bench_entitlements.seed`) and materialized by the ordinary path (`projection.materialize_claims`,
   the full derivation a never-materialized claim gets); one of each grade is a template;
2. every other base claim's rows — facts, account and derived — are made from its grade's
   template and must equal, row for row and byte for byte, what the seed and the ordinary path
   stored for it (the replication checked before it is used);
3. the rest are made from the templates, in one transaction: the template's ids, event ids,
   insured wage, amounts (`rules.disability_allowance` and `rules.disability_grant` with the
   policy's values, as the engine calls them) and bank account replaced by the claim's; the
   digests that key a line (`engine.line_id`) and its texts (`tables.texts_id`) computed again
   from the replaced values;
4. `SAMPLE` claims drawn at random among those made so are deleted and materialized again by
   the ordinary path, and their rows must come back the same (the database left is the one the
   ordinary path leaves: same tables, indexes, states, inputs and lines).
"""
from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from libs.money import to_fen, yuan_str
from libs.policy import load_national_default
from services.payments.entitlements import engine as ledger_engine
from services.payments.entitlements import projection, rules
from services.payments.entitlements.tables import PERIODS_SQL, metadata, texts_id

# What the seed writes for a claim, and what its first materialization writes.
SEEDED = ("entitlement_claim_facts", "entitlement_accounts")
DERIVED = ("entitlement_lines", "entitlement_line_texts", "entitlement_claim_states", "entitlement_claim_inputs",
           "entitlement_claim_input_texts")
BASE = 64  # claims derived by the ordinary path; 8..11 are the templates (grades 1..4)
SAMPLE = 200
CHUNK = 20_000
# The setup's page cache (its own process; the timed months run with the runtime's own): the
# lines' ids are digests, so a chunk's lines land all over their index, which it holds at
# 1,000,000 (≈ 150 MB). The texts (≈ 600 bytes each, keyed by a digest too: 1.2 GB) are staged
# in a temporary table and inserted once, in the order of their key, so they do not push it out.
CACHE_KIB = 1024 * 1024
TEXTS, STAGED = "entitlement_line_texts", "entitlement_setup_texts"


@lru_cache(maxsize=1)
def _policy():  # noqa: ANN202 - the national default (the bench's region publishes no version of its own)
    return load_national_default()


class Claim:
    """What tells one bench claim from another: the values its rows carry (`strings`, in the
    order a template's slots take them, and `numbers`: insured wage, allowance and grant in fen)."""

    def __init__(self, i: int, bench) -> None:  # noqa: ANN001 - the bench module (its population)
        doc = _policy()
        grade = bench.grade(i)
        wage = Decimal(bench.wage_text(i))
        allowance = rules.disability_allowance(wage, grade, Decimal(str(doc.disability_allowance_ratios[str(grade)])),
                                               Decimal(str(doc.minimum_monthly_wage))).amount
        grant = rules.disability_grant(wage, grade, int(doc.disability_grant_months[str(grade)])).amount
        self.grade, self.claim_id = grade, bench.claim_id(i)
        self.payee = f"employee:{bench.employee_of(i)}"
        events = [_uuid5(f"{self.claim_id}/{n}/{t}") for n, t in enumerate(bench.FACT_TYPES)]  # as ClaimFacts names them
        self.strings = {self.claim_id: None, bench.employee_of(i): None, bench.employer_of(i): None,
                      bench.BANKS[i % len(bench.BANKS)]: None, bench.account_no(i): None, f"acct-{i}": None,
                      **dict.fromkeys(events), bench.wage_text(i): None, yuan_str(allowance): None,
                      yuan_str(grant): None}
        self.numbers = (bench.insured_wage_fen(i), to_fen(allowance), to_fen(grant))
        self.point = events[-1]  # the appraisal: the knowledge point of every line


def _uuid5(name: str, _namespace: bytes = uuid.NAMESPACE_URL.bytes) -> str:
    """`str(uuid.uuid5(uuid.NAMESPACE_URL, name))` without its objects (millions of them here)."""
    h = bytearray(hashlib.sha1(_namespace + name.encode()).digest()[:16])
    h[6], h[8] = (h[6] & 0x0F) | 0x50, (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _columns(table: str) -> str:
    """The table's columns in its definition's order (a migration may have added them in another)."""
    return ", ".join(c.name for c in metadata.tables[table].columns)


def _rows(conn, table: str, claims: Sequence[Claim]) -> list[tuple]:  # noqa: ANN001
    """Claims' stored rows of one table, as stored (the texts: those its lines point at; the
    accounts: its payee's)."""
    marks = ", ".join("?" * len(claims))
    keys = tuple(c.payee if table == "entitlement_accounts" else c.claim_id for c in claims)
    if table == "entitlement_line_texts":
        where = f"texts_id IN (SELECT texts_id FROM entitlement_lines WHERE {_in_months(conn)} claim_id IN ({marks}))"
    elif table == "entitlement_lines":
        where = f"{_in_months(conn)} claim_id IN ({marks})"
    else:
        where = f"{'payee' if table == 'entitlement_accounts' else 'claim_id'} IN ({marks})"
    return [tuple(r) for r in conn.exec_driver_sql(
        f"SELECT {_columns(table)} FROM {table} WHERE {where} ORDER BY 1, 2", keys).fetchall()]


def _in_months(conn) -> str:  # noqa: ANN001
    """The lines' months as a condition (`period IN (...) AND `): their keys lead with the month."""
    months = ", ".join(f"'{m}'" for (m,) in conn.exec_driver_sql(PERIODS_SQL))  # YYYY-MM, written by the engine
    return f"period IN ({months}) AND " if months else "0 AND "


class Template:
    """A base claim's stored rows, and how to make another claim's of the same grade from them:
    each value holding one of the template's own values a format string with the claim's put in."""

    def __init__(self, conn, claim: Claim) -> None:  # noqa: ANN001
        self.claim = claim
        self.rows = {table: _rows(conn, table, [claim]) for table in SEEDED + DERIVED}
        keys = list(claim.strings)
        self.slots = {k: n for n, k in enumerate(keys)}
        self.numbers = {v: n for n, v in enumerate(claim.numbers)}
        self.pattern = re.compile("(" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) + ")")
        self.makers = {table: [self._row_maker(row) for row in rows] for table, rows in self.rows.items()}
        # each line's digest input (`engine.line_id`) but the amount, as a maker, and the amount's
        self.line_keys = [self._line_key(row) for row in self.rows["entitlement_lines"]]
        assert all(v is None for r in self.rows["entitlement_claim_inputs"] for v in r[-2:]), "texts kept already"

    def _maker(self, value):  # noqa: ANN001, ANN202 - (0, constant) | (1, format string) | (2, number slot)
        if isinstance(value, str):
            parts = self.pattern.split(value)
            if len(parts) == 1:
                return 0, value
            return 1, "".join(p.replace("{", "{{").replace("}", "}}") if n % 2 == 0 else "{%d}" % self.slots[p]
                              for n, p in enumerate(parts))
        if isinstance(value, int) and value in self.numbers:
            return 2, self.numbers[value]
        return 0, value

    def _row_maker(self, row: tuple) -> tuple[list, list, list]:
        """The row's constant values, and where the claim's own go: (column, format), (column, number slot)."""
        makers = [self._maker(v) for v in row]
        return ([v if how == 0 else None for how, v in makers], [(at, v) for at, (how, v) in enumerate(makers) if how == 1],
                [(at, v) for at, (how, v) in enumerate(makers) if how == 2])

    def _line_key(self, row: tuple) -> tuple:
        c = self.claim
        line_id, claim_id, _employer, _region, kind, _family, period, start, _end, fen, payer, payee = row[:12]
        for key_period in (period, start[:10]):
            if ledger_engine.line_id(claim_id, (kind, payee, key_period, payer), c.point, fen) == line_id:
                return self._maker("|".join((claim_id, kind, payee, key_period, payer, c.point))), self.numbers[fen]
        raise AssertionError(f"line {line_id}: its digest's input not found")

    def made_for(self, other: Claim) -> dict[str, list[tuple]]:
        """`other`'s rows: the template's with `other`'s values, the digests computed again."""
        values, numbers = tuple(other.strings), other.numbers
        assert len(values) == len(self.slots) and len(set(numbers)) == 3, "a claim's values must differ"

        def made(maker: tuple[list, list, list]) -> list:
            row = maker[0][:]
            for at, form in maker[1]:
                row[at] = form.format(*values)
            for at, slot in maker[2]:
                row[at] = numbers[slot]
            return row

        out: dict[str, list[tuple]] = {}
        texts_ids = {}
        texts = []
        for row, maker in zip(self.rows["entitlement_line_texts"], self.makers["entitlement_line_texts"]):
            three = made(maker)[1:]
            texts_ids[row[0]] = texts_id(*three)
            texts.append((texts_ids[row[0]], *three))
        out["entitlement_line_texts"] = texts
        lines = []
        for row, makers, (head, fen) in zip(self.rows["entitlement_lines"], self.makers["entitlement_lines"],
                                            self.line_keys):
            line = made(makers)
            key = head[1].format(*values) if head[0] == 1 else head[1]
            line[0] = "el_" + hashlib.sha256(f"{key}|{numbers[fen]}".encode()).hexdigest()[:32]
            line[-1] = texts_ids[row[-1]]
            lines.append(tuple(line))
        out["entitlement_lines"] = lines
        for table in SEEDED + DERIVED[2:]:
            out[table] = [tuple(made(maker)) for maker in self.makers[table]]
        return out


def _insert(conn, table: str, rows: list[tuple]) -> None:  # noqa: ANN001
    if rows:
        columns = _columns(TEXTS if table == STAGED else table)
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(rows[0]))})", rows)


def set_up(bench, runtime, now: datetime, n: int, log: Callable[[str], None] = print) -> dict:  # noqa: ANN001
    """The module docstring's steps for claims 0..n-1 of `bench` in `runtime`. Returns counts."""
    ctx = runtime.services["payments"].ctx
    base = min(n, BASE)
    claims = [Claim(i, bench) for i in range(base)]
    bench.seed(runtime, base)
    with ctx.session_factory() as session, session.begin():
        projection.materialize_claims(session, [c.claim_id for c in claims], now)
    if n <= BASE:
        return {"derived_in_full": n, "made_from_templates": 0, "sample_checked_against_full_derivation": 0}
    tables = SEEDED + DERIVED
    with ctx.engine.begin() as conn:
        templates = {c.grade: Template(conn, c) for c in claims[8:12]}
        for claim in claims:  # the replication, checked against the seed and the ordinary path first
            made = {table: sorted(rows) for table, rows in templates[claim.grade].made_for(claim).items()}
            stored = {table: _rows(conn, table, [claim]) for table in tables}
            assert made == stored, (f"claim {claim.claim_id} made from its template differs from its derivation",
                                    made, stored)
    log(f"templates checked: {base} claims made as the seed and the ordinary path made them")
    with ctx.engine.begin() as conn:  # one transaction: a page of the lines' id index is written once
        conn.exec_driver_sql(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGED} AS SELECT {_columns(TEXTS)} FROM {TEXTS} WHERE 0")
        for start in range(base, n, CHUNK):
            batch: dict[str, list[tuple]] = {table: [] for table in tables}
            for i in range(start, min(n, start + CHUNK)):
                claim = Claim(i, bench)
                for table, rows in templates[claim.grade].made_for(claim).items():
                    batch[table] += rows
            for table in tables:
                _insert(conn, STAGED if table == TEXTS else table, batch[table])
            if (start // CHUNK) % 10 == 0:
                log(f"made {min(n, start + CHUNK):,} of {n:,}")
        conn.exec_driver_sql(f"INSERT INTO {TEXTS} ({_columns(TEXTS)}) SELECT {_columns(TEXTS)} FROM temp.{STAGED} "
                             "ORDER BY texts_id")
        conn.exec_driver_sql(f"DROP TABLE temp.{STAGED}")
    sample = [Claim(i, bench) for i in sorted(random.Random(12).sample(range(base, n), min(SAMPLE, n - base)))]
    with ctx.engine.begin() as conn:
        made = {table: _rows(conn, table, sample) for table in DERIVED}
        texts = tuple(r[0] for r in made["entitlement_line_texts"])
        conn.exec_driver_sql(f"DELETE FROM entitlement_line_texts WHERE texts_id IN ({', '.join('?' * len(texts))})",
                             texts)
        for table in DERIVED:
            if table != "entitlement_line_texts":
                months = _in_months(conn) if table == "entitlement_lines" else ""
                conn.exec_driver_sql(f"DELETE FROM {table} WHERE {months} claim_id IN ({', '.join('?' * len(sample))})",
                                     tuple(c.claim_id for c in sample))
    with ctx.session_factory() as session, session.begin():
        projection.materialize_claims(session, [c.claim_id for c in sample], now)
    with ctx.engine.begin() as conn:
        again = {table: _rows(conn, table, sample) for table in DERIVED}
    assert again == made, "a claim made from its template differs from its full derivation"
    log(f"sample checked: {len(sample)} claims made from templates equal their full derivation")
    return {"derived_in_full": base + len(sample), "made_from_templates": n - base,
            "sample_checked_against_full_derivation": len(sample)}
