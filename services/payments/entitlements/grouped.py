"""A region's month for many untouched claims at once, from their compact inputs (issue 12).

`engine.month_alone` derives the month of a claim whose knowledge is unchanged since its last
month, from the claim's facts: read, parsed into a view, walked. At a province's size that is
most of the cost, and most of it repeats: beneficiaries with the same insured wage, grade and
care level get the same amount, formula and explanation under the month's policy version.

So when a claim's state is written (`projection._set_states`) its compact inputs are written
beside it, from the same facts: what its months need from the month `valid_from` on — the
insured wage, the appraisal in force, the care level, what ends a benefit (retirement from the
birth date, the month the claim was closed), who pays (R.62), the event ids a line cites, and
the knowledge point its lines are learned at. Only claims whose months need nothing else have
them (`inputs_of` answers None for a death, grade 5–6, a migrated claim; `rows` for a
claim whose appraisal, leave, termination or late days still fall on a month from the one asked:
those go on from their facts).

`MonthOfGroups.rows` then makes a claim's lines of the month as `engine.month_alone` would —
the same ids, amounts, explanations, reasons and knowledge times — computing what a group of
claims sharing (wage, grade, care, retired, payer) has in common once: the Calc, the explanation's
JSON, the policy reference. The disability allowance is integer fen, filled into its grade's
explanation template (`AllowanceTemplate`; most wages are a group of one). tests/payments/
entitlements/test_entitlements_fast_path.py compares the stored rows with the full derivation's,
row by row; test_grouped_allowance.py the template with `rules`. `in_database` makes the same rows
for every untouched claim of a region at once, inside the database, from the same inputs in
columns; what it does not take (see `in_database.row_of`) comes here.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from libs.money import to_fen

from . import rules
from .engine import (KINDS, ClaimView, Fact, MonthAhead, PolicyFact, _allowance_of, _care_of, _moment, _point,
                     first_day, last_day, line_id, month_of, next_month, policy_ref)
from .rules import Calc

BEFORE_ANY_MONTH = "0000-00"
CARE_LEVELS = ("full", "mostly", "partial")


SEP = "\x1f"  # the inputs' fields, in a line a split reads (a tenth of what JSON's parse costs)
FORMAT = "g1"


class Inputs(NamedTuple):
    """A claim's compact month inputs, every field text ("" for none)."""

    format: str
    claim: str
    employer: str
    region: str
    payee: str
    facts: str  # how many facts (its own and its employer's) they were made from
    last_fact_at: str
    last_fact_id: str
    point_at: str  # the knowledge point its lines are learned at: time, id, label
    point_id: str
    point_label: str
    valid_from: str  # the first month they cover
    app_event: str
    decision_event: str
    wage: str
    wage_event: str
    wage_ref: str  # JSON
    grade: str
    care_level: str
    appraisal_event: str  # "": no appraisal
    birth: str
    sex: str
    closed: str  # the month the claim was closed in
    uninsured_on: str  # R.62: the day of the injury, when the employer was not insured then
    uninsured_source: str


def inputs_of(facts: Sequence[Fact], policies: Sequence[PolicyFact]) -> str | None:
    """The compact month inputs of a claim, or None when its months need its facts.
    `facts`: the claim's and its employer's, sorted by key; `policies`: the region's versions
    known at the derivation's `now`, sorted by key (as `engine.knowledge` takes them)."""
    if not facts:
        return None
    v = ClaimView.of(facts)
    if (v.app is None or v.decision not in ("recognized", "deemed") or v.died is not None or v.migrated
            or v.legacy is not None):
        return None
    app = v.app
    in_force = v.appraisals[-1] if v.appraisals else None  # the last by conclusion: in force from its month
    if in_force is not None and in_force.grade in (5, 6):
        return None  # R.36: the arrangement and the employment decide each month
    # From the month after the last day anything but the monthly allowances falls on: the last
    # conclusion (the one-off grant, and the appraisal in force on every later month's last day),
    # the end of the last treatment leave (R.33), the termination's grants, the days a late
    # application leaves to the employer (R.17, they end on the day it applied).
    ends = [a.concluded_on for a in v.appraisals] + [end for _start, end, _ in v.leaves]
    if v.terminated is not None:
        ends.append(v.terminated[0])
    if int(app.get("employer_late_days") or 0) > 0:
        ends.append(date.fromisoformat(app["applied_on"]))
    occurred_on = date.fromisoformat(app["occurred_on"])
    insured, insured_source = v.insured_on(occurred_on)
    last = max(facts[-1].key, policies[-1].key) if policies else facts[-1].key
    t = last[0]
    point = _point(t, sorted([*(f for f in facts if f.key[0] == t), *(p for p in policies if p.key[0] == t)],
                             key=lambda x: x.key))
    fields = Inputs(
        FORMAT, app["claim_id"], app["employer_id"], app["region"], f"employee:{app['employee_id']}", str(len(facts)),
        facts[-1].key[0].isoformat(), facts[-1].key[1], point.key[0].isoformat(), point.key[1] or point.label,
        point.label, next_month(month_of(max(ends))) if ends else BEFORE_ANY_MONTH, v.app_event, v.decision_event,
        str(v.wage) if v.wage is not None else "", v.wage_event,
        json.dumps(v.wage_ref, sort_keys=True) if v.wage_ref is not None else "",
        str(in_force.grade) if in_force is not None and in_force.grade is not None else "",
        in_force.care_level if in_force is not None else "", in_force.event_id if in_force is not None else "",
        app.get("birth_date") or "", app.get("sex") or "male", month_of(v.closed[0]) if v.closed else "",
        "" if insured else occurred_on.isoformat(), "" if insured else insured_source or "")
    if any(SEP in f or (not f and name in _NEVER_EMPTY) for name, f in zip(Inputs._fields, fields)):
        return None  # not representable: the claim's months come from its facts
    return SEP.join(fields)


_NEVER_EMPTY = frozenset({"claim", "employer", "region", "payee", "point_id", "app_event"})


def parse(text: str) -> Inputs | None:
    fields = text.split(SEP)
    return Inputs._make(fields) if fields[0] == FORMAT and len(fields) == len(Inputs._fields) else None


ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)  # what json.dumps(…, ensure_ascii=False, sort_keys=True) makes


class MonthOfGroups:
    """`ahead.month` of claims from their inputs, what a group shares computed once."""

    def __init__(self, ahead: MonthAhead, column_processors: Sequence[Any], cacheable: frozenset[int]) -> None:
        self.ahead, self.month = ahead, ahead.month
        self.first, self.last = first_day(self.month), last_day(self.month)
        self.policy = ahead.known(len(ahead.policies)).on(self.first)  # R.40: the version in force on the 1st
        self.doc = self.policy.document
        self.policy_ref_json = json.dumps(policy_ref(self.policy), sort_keys=True)
        self.due_moment = _moment(self.first)
        self.last_policy = ahead.policies[-1].key if ahead.policies else None
        if self.last_policy is not None:  # `engine.knowledge` of a claim whose facts came before it
            asked = sum(1 for t, _m in ahead.requested if t <= self.last_policy[0])
            self._policy_known = (f"{len(ahead.policies)}|{asked}|{self.last_policy[0].isoformat()}|"
                                  f"{self.last_policy[1]}")
        self._asked: dict[str, int] = {}
        self._processors = column_processors
        self._direct = [(i, p) for i, p in enumerate(column_processors) if p is not None and i not in cacheable]
        self._cached: dict[int, dict] = {i: {} for i, p in enumerate(column_processors)
                                         if p is not None and i in cacheable}
        self._allowances: dict[tuple, tuple] = {}
        self._templates: dict[tuple, AllowanceTemplate | None] = {}
        self._cares: dict[tuple, tuple] = {}
        self._retired: dict[tuple[str, str], bool] = {}
        self._times: dict[str, datetime] = {}
        self._wage_refs: dict[str, Any] = {}

    def _time(self, text: str) -> datetime:
        t = self._times.get(text)
        if t is None:
            _bounded(self._times)
            t = self._times[text] = datetime.fromisoformat(text)
        return t

    def knowledge(self, inputs: Inputs) -> str | None:
        """`engine.knowledge` of the claim at `ahead`, from its inputs (None: a fact after `now`)."""
        fact_key = (self._time(inputs.last_fact_at), inputs.last_fact_id)
        if fact_key[0] > self.ahead.now:
            return None
        if self.last_policy is not None and self.last_policy > fact_key:
            return f"{inputs.facts}|{self._policy_known}"
        asked = self._asked.get(inputs.last_fact_at)
        if asked is None:
            _bounded(self._asked)
            asked = self._asked[inputs.last_fact_at] = sum(1 for t, _m in self.ahead.requested if t <= fact_key[0])
        # the text the fact's time was written from (`inputs_of`: its isoformat, UTC)
        return f"{inputs.facts}|{len(self.ahead.policies)}|{asked}|{inputs.last_fact_at}|{inputs.last_fact_id}"

    def _is_retired(self, birth: str, sex: str) -> bool:
        if not birth:
            return False
        found = self._retired.get((birth, sex))
        if found is None:
            _bounded(self._retired)
            age = self.doc.retirement_age
            found = self._retired[(birth, sex)] = self.first >= rules.retirement_date(
                date.fromisoformat(birth), sex, age.male, age.female)
        return found

    def _due(self, kind: str, calc: Calc, inputs: Inputs) -> tuple | None:
        return self.encoded(kind, calc, inputs.uninsured_on, inputs.wage_ref)

    def encoded(self, kind: str, calc: Calc, uninsured_on: str, wage_ref_json: str) -> tuple | None:
        """`engine._targets_of`'s `emit` and `engine._line`'s amount and explanation of a first line:
        (kind, payer, fen, explanation JSON), None for a zero amount (no line)."""
        if uninsured_on:
            payer = "employer"
            why = f"R.62: the employer was not insured on {uninsured_on}, it owes this benefit itself"
            calc = Calc(calc.amount, calc.formula, calc.inputs, calc.article, (*calc.notes, why))
        else:
            payer = self.doc.payer(KINDS[kind][1])
        fen = to_fen(calc.amount)
        if fen == 0:
            return None
        explain = {"article": calc.article, "formula": calc.formula, "inputs": dict(calc.inputs),
                   "notes": list(calc.notes)}
        if wage_ref_json and "insured_wage" in calc.inputs:
            wage_ref = self._wage_refs.get(wage_ref_json)
            if wage_ref is None:
                _bounded(self._wage_refs)
                wage_ref = self._wage_refs[wage_ref_json] = json.loads(wage_ref_json)
            explain["insured_wage_policy_ref"] = wage_ref
        return kind, payer, fen, ENCODER.encode(explain)

    def care_due(self, care_level: str, uninsured_on: str) -> tuple | None:
        """R.34 of a care level this month: (kind, payer, fen, explanation JSON), None for no line."""
        key = (care_level, uninsured_on)
        found = self._cares.get(key)
        if found is None:
            _bounded(self._cares)
            doc = self.doc
            found = self._cares[key] = (self.encoded("care_allowance", _care_of(
                str(doc.average_monthly_wage), care_level, str(getattr(doc.care_ratios, care_level))),
                uninsured_on, ""),)
        return found[0]

    def template(self, grade: str, wage_ref_json: str, uninsured_on: str) -> "AllowanceTemplate | None":
        """R.35's template of a grade this month (None: the policy's values are not ones it takes)."""
        key = (grade, wage_ref_json, uninsured_on)
        if key not in self._templates:
            _bounded(self._templates)
            self._templates[key] = AllowanceTemplate.of(
                grade, self.doc.disability_allowance_ratios[grade], self.doc.minimum_monthly_wage,
                lambda calc: self.encoded("disability_allowance", calc, uninsured_on, wage_ref_json))
        return self._templates[key]

    def _dues(self, inputs: Inputs) -> list[tuple]:
        """What a claim of these inputs is owed this month, in key order (care before the
        disability allowance): R.34 of its care level (one group for every claim of the level),
        R.35 of its wage and grade (a group per insured wage)."""
        out = []
        care = inputs.care_level
        if care in CARE_LEVELS:
            out.append(self.care_due(care, inputs.uninsured_on))
        if inputs.grade and int(inputs.grade) <= 4 and inputs.wage and not self._is_retired(inputs.birth, inputs.sex):
            key = (inputs.wage, inputs.grade, inputs.wage_ref, inputs.uninsured_on)
            found = self._allowances.get(key)
            if found is None:
                _bounded(self._allowances)
                found = self._allowances[key] = (self._allowance(inputs),)
            out += found
        return [d for d in out if d is not None]

    def _allowance(self, inputs: Inputs) -> tuple | None:
        """R.35 of the claim's wage and grade: in integer fen from the template of its grade (most
        wages are a group of one, so the explanation is filled in, not built and encoded), or —
        for a wage or a policy value the template does not take — from `rules`, as `_due`."""
        template = self.template(inputs.grade, inputs.wage_ref, inputs.uninsured_on)
        made = template.due(inputs.wage, self._payer(inputs)) if template is not None else None
        if made is not None:
            return made
        doc = self.doc
        return self._due("disability_allowance", _allowance_of(
            inputs.wage, int(inputs.grade), str(doc.disability_allowance_ratios[inputs.grade]),
            str(doc.minimum_monthly_wage)), inputs)

    def _payer(self, inputs: Inputs) -> str:
        return "employer" if inputs.uninsured_on else self.doc.payer(KINDS["disability_allowance"][1])

    def rows(self, inputs: Inputs, account: tuple) -> list[tuple] | None:
        """The claim's lines of the month as `entitlement_lines` rows (columns in table order, each
        value through its column's bind processor), or None when its inputs do not cover the month."""
        m = self.month
        if m < inputs.valid_from or inputs.region != self.ahead.region:
            return None
        if not inputs.appraisal_event or (inputs.closed and m > inputs.closed):
            return []  # no appraisal: no monthly benefit; R.42: nothing after the month of closing
        claim_id, payee = inputs.claim, inputs.payee
        point_time = self._time(inputs.point_at)
        known_at = max(point_time, self.due_moment)
        reason = (f"arrears for {m}, learned from {inputs.point_label}" if month_of(point_time.date()) > m else
                  f"due for {m}, as known from {inputs.point_label}")
        out = []
        for kind, payer, fen, explain_json in self._dues(inputs):
            cited = ((inputs.wage_event, inputs.appraisal_event) if kind == "disability_allowance" else
                     (inputs.appraisal_event,))
            sources = list(dict.fromkeys(s for s in (inputs.app_event, inputs.decision_event, *cited,
                                                     self.policy.event_id, inputs.uninsured_source) if s))
            out.append(self._processed((
                line_id(claim_id, (kind, payee, m, payer), inputs.point_id, fen), claim_id, inputs.employer,
                inputs.region, kind, KINDS[kind][0], m, self.first, self.last, fen, payer, payee, *account,
                "[]", reason, known_at, explain_json, self.policy_ref_json, json.dumps(sources), None, None)))
        return out

    def _processed(self, row: tuple) -> tuple:
        """`projection._insert_lines`' bind processors (a date's few values processed once)."""
        if not self._cached and not self._direct:
            return row
        values = list(row)
        for i, cache in self._cached.items():
            value = values[i]
            if value is not None:
                done = cache.get(value)
                if done is None:
                    _bounded(cache)
                    done = cache[value] = self._processors[i](value)
                values[i] = done
        for i, processor in self._direct:
            if values[i] is not None:
                values[i] = processor(values[i])
        return tuple(values)


FEN_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
RATIO_TEXT = re.compile(r"0\.[0-9]{1,6}|1(\.0{1,6})?")
HOLE = "⟦{}⟧"  # where a wage's text goes in a template (no explanation has these brackets)


def _fen_of(text: str) -> int | None:
    """Integer fen of a yuan amount written plainly ("8000", "8000.5", "8000.50"), else None."""
    if not FEN_TEXT.fullmatch(text):
        return None
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass(frozen=True)
class AllowanceTemplate:
    """R.35 (`rules.disability_allowance`) of one grade under one policy version, for any insured
    wage, in integer fen: amount = ⌊wage_fen × ratio + ½⌋ (half up), never below the minimum
    wage; its explanation is the JSON `_due` encodes, made once with holes for the wage's texts
    and filled in per wage (tests/payments/entitlements/test_grouped_allowance.py compares the two
    on many wages, both sides of the minimum)."""

    grade: str
    ratio_text: str
    ratio_units: int  # ratio × scale
    scale: int
    minimum_fen: int
    # the explanation's JSON split at its holes (0 the wage, 1 the formula, 2 the top-up's note),
    # and the holes in the order they come
    plain: tuple[tuple[int, ...], tuple[str, ...]]
    topped: tuple[tuple[int, ...], tuple[str, ...]]

    @classmethod
    def of(cls, grade: str, ratio: Decimal, minimum: Decimal, encode: Callable[[Calc], tuple | None]
           ) -> "AllowanceTemplate | None":
        ratio_text, minimum_text = str(ratio), str(minimum)
        minimum_fen = _fen_of(minimum_text)
        if not RATIO_TEXT.fullmatch(ratio_text) or minimum_fen is None or minimum_fen == 0:
            return None
        digits = len(ratio_text.partition(".")[2])
        parts = []
        for holes in (2, 3):
            calc = Calc(Decimal(1), HOLE.format(1), {"insured_wage": HOLE.format(0), "grade": grade,
                                                     f"disability_allowance_ratios[{grade}]": ratio_text,
                                                     "minimum_monthly_wage": _yuan(minimum_fen)},
                        "R.35", (HOLE.format(2),) if holes == 3 else ())
            _kind, _payer, _fen, encoded = encode(calc)
            pieces = re.split("⟦([0-9])⟧", encoded)
            order = tuple(int(i) for i in pieces[1::2])  # the holes as the sorted keys place them
            if sorted(order) != list(range(holes)):
                return None
            parts.append((order, tuple(pieces[0::2])))
        return cls(grade, ratio_text, int(ratio_text.replace(".", "")), 10 ** digits, minimum_fen, parts[0], parts[1])

    # The texts around the numbers of the formula and the note (`rules.disability_allowance`'s
    # words; `in_database` fills the same ones in SQL). None needs escaping in JSON.
    @property
    def plain_head(self) -> str:
        return f"insured_wage × ratio(grade {self.grade}) = "

    @property
    def topped_head(self) -> str:
        return f"max(insured_wage × ratio(grade {self.grade}), minimum_wage) = max("

    @property
    def times_ratio(self) -> str:
        return f" × {self.ratio_text} = "

    @property
    def topped_tail(self) -> str:
        minimum = _yuan(self.minimum_fen)
        return f", {minimum}) = {minimum}"

    NOTE_HEAD = "topped up by "
    NOTE_TAIL = " to the minimum monthly wage"

    def due(self, wage: str, payer: str) -> tuple | None:
        """(kind, payer, fen, explanation JSON) of `wage`; None for a wage it does not take."""
        wage_fen = _fen_of(wage)
        if wage_fen is None:
            return None
        product = wage_fen * self.ratio_units
        rounded = (2 * product + self.scale) // (2 * self.scale)  # half up, to the fen
        wage_yuan, rounded_yuan = _yuan(wage_fen), _yuan(rounded)
        if product < self.minimum_fen * self.scale:
            formula = f"{self.topped_head}{wage_yuan}{self.times_ratio}{rounded_yuan}{self.topped_tail}"
            note = f"{self.NOTE_HEAD}{_yuan(self.minimum_fen - rounded)}{self.NOTE_TAIL}"
            texts, template, fen = (wage_yuan, formula, note), self.topped, self.minimum_fen
        else:
            formula = f"{self.plain_head}{wage_yuan}{self.times_ratio}{rounded_yuan}"
            texts, template, fen = (wage_yuan, formula), self.plain, rounded
        order, pieces = template
        out = [pieces[0]]
        for hole, piece in zip(order, pieces[1:]):
            out += (encode_basestring(texts[hole])[1:-1], piece)
        return "disability_allowance", payer, fen, "".join(out)


CACHE_ENTRIES = 50_000  # per cache: memory stays flat whatever the region's size


def _bounded(cache: dict) -> None:
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
