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
JSON, the policy reference. The amounts are integer fen from there on. tests/payments/entitlements/
test_entitlements_fast_path.py compares the stored rows with the full derivation's, row by row.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from libs.money import to_fen

from . import rules
from .engine import (KINDS, ClaimView, Fact, MonthAhead, PolicyFact, _allowance_of, _care_of, _moment, _point,
                     first_day, last_day, line_id, month_of, next_month, policy_ref)
from .rules import Calc

BEFORE_ANY_MONTH = "0000-00"
CARE_LEVELS = ("full", "mostly", "partial")


def inputs_of(facts: Sequence[Fact], policies: Sequence[PolicyFact]) -> str | None:
    """The compact month inputs of a claim (JSON), or None when its months need its facts.
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
    valid_from = next_month(month_of(max(ends))) if ends else BEFORE_ANY_MONTH
    occurred_on = date.fromisoformat(app["occurred_on"])
    insured, insured_source = v.insured_on(occurred_on)
    last = max(facts[-1].key, policies[-1].key) if policies else facts[-1].key
    t = last[0]
    point = _point(t, sorted([*(f for f in facts if f.key[0] == t), *(p for p in policies if p.key[0] == t)],
                             key=lambda x: x.key))
    return json.dumps({
        "claim": app["claim_id"], "employer": app["employer_id"], "region": app["region"],
        "payee": f"employee:{app['employee_id']}", "facts": len(facts),
        "last_fact": [facts[-1].key[0].isoformat(), facts[-1].key[1]],
        "point": [point.key[0].isoformat(), point.key[1] or point.label, point.label],
        "valid_from": valid_from, "base": [v.app_event, v.decision_event],
        "wage": str(v.wage) if v.wage is not None else None, "wage_event": v.wage_event,
        "wage_ref": json.dumps(v.wage_ref, sort_keys=True) if v.wage_ref is not None else None,
        "appraisal": [in_force.grade, in_force.care_level, in_force.event_id] if in_force is not None else None,
        "birth": app.get("birth_date") or None, "sex": app.get("sex") or "male",
        "closed": month_of(v.closed[0]) if v.closed else None,
        "uninsured": None if insured else [occurred_on.isoformat(), insured_source],
    }, sort_keys=True, ensure_ascii=False)


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
        self._processors = column_processors
        self._direct = [(i, p) for i, p in enumerate(column_processors) if p is not None and i not in cacheable]
        self._cached: dict[int, dict] = {i: {} for i, p in enumerate(column_processors) if p is not None and i in cacheable}
        self._groups: dict[tuple, list[tuple]] = {}
        self._retired: dict[tuple[str, str], bool] = {}
        self._times: dict[str, datetime] = {}

    def _time(self, text: str) -> datetime:
        t = self._times.get(text)
        if t is None:
            _bounded(self._times)
            t = self._times[text] = datetime.fromisoformat(text)
        return t

    def knowledge(self, inputs: dict) -> str | None:
        """`engine.knowledge` of the claim at `ahead`, from its inputs (None: a fact after `now`)."""
        fact_key = (self._time(inputs["last_fact"][0]), inputs["last_fact"][1])
        if fact_key[0] > self.ahead.now:
            return None
        last = max(fact_key, self.last_policy) if self.last_policy is not None else fact_key
        asked = sum(1 for t, _m in self.ahead.requested if t <= last[0])
        return f"{inputs['facts']}|{len(self.ahead.policies)}|{asked}|{last[0].isoformat()}|{last[1]}"

    def _is_retired(self, birth: str | None, sex: str) -> bool:
        if not birth:
            return False
        found = self._retired.get((birth, sex))
        if found is None:
            _bounded(self._retired)
            age = self.doc.retirement_age
            found = self._retired[(birth, sex)] = self.first >= rules.retirement_date(
                date.fromisoformat(birth), sex, age.male, age.female)
        return found

    def _dues(self, inputs: dict) -> list[tuple]:
        """What the group of `inputs` is owed this month: (kind, payer, fen, explain JSON, which
        sources) per line, in key order — `engine._targets_of`'s monthly part and its `emit`."""
        grade, care, _event = inputs["appraisal"]
        wage = inputs["wage"]
        retired = self._is_retired(inputs["birth"], inputs["sex"])
        key = (wage, grade, care, retired, inputs["wage_ref"], inputs["uninsured"] and inputs["uninsured"][0])
        found = self._groups.get(key)
        if found is not None:
            return found
        doc = self.doc
        calcs: list[tuple[str, Calc, bool]] = []  # (kind, calc, cites the wage)
        if grade is not None and grade <= 4 and wage is not None and not retired:
            calcs.append(("disability_allowance", _allowance_of(
                wage, grade, str(doc.disability_allowance_ratios[str(grade)]), str(doc.minimum_monthly_wage)), True))
        if care in CARE_LEVELS:
            calcs.append(("care_allowance", _care_of(str(doc.average_monthly_wage), care,
                                                     str(getattr(doc.care_ratios, care))), False))
        wage_ref = json.loads(inputs["wage_ref"]) if inputs["wage_ref"] is not None else None
        out = []
        for kind, calc, cites_wage in sorted(calcs, key=lambda c: c[0]):
            if inputs["uninsured"]:
                payer = "employer"
                why = (f"R.62: the employer was not insured on {inputs['uninsured'][0]}, it owes this benefit itself")
                calc = Calc(calc.amount, calc.formula, calc.inputs, calc.article, (*calc.notes, why))
            else:
                payer = doc.payer(KINDS[kind][1])
            fen = to_fen(calc.amount)
            if fen == 0:
                continue  # `_line`: nothing to do
            explain = {"article": calc.article, "formula": calc.formula, "inputs": dict(calc.inputs),
                       "notes": list(calc.notes)}
            if wage_ref is not None and "insured_wage" in calc.inputs:
                explain["insured_wage_policy_ref"] = wage_ref
            out.append((kind, payer, fen, json.dumps(explain, ensure_ascii=False, sort_keys=True), cites_wage))
        _bounded(self._groups)
        self._groups[key] = out
        return out

    def rows(self, inputs: dict, account: tuple) -> list[tuple] | None:
        """The claim's lines of the month as `entitlement_lines` rows (columns in table order, each
        value through its column's bind processor), or None when its inputs do not cover the month."""
        m = self.month
        if m < inputs["valid_from"] or inputs["region"] != self.ahead.region:
            return None
        if inputs["appraisal"] is None or (inputs["closed"] is not None and m > inputs["closed"]):
            return []  # no appraisal: no monthly benefit; R.42: nothing after the month of closing
        claim_id, payee = inputs["claim"], inputs["payee"]
        point_at, point_id, label = inputs["point"]
        point_time = self._time(point_at)
        known_at = max(point_time, self.due_moment)
        reason = (f"arrears for {m}, learned from {label}" if month_of(point_time.date()) > m else
                  f"due for {m}, as known from {label}")
        base = inputs["base"]
        a_event = inputs["appraisal"][2]
        out = []
        for kind, payer, fen, explain_json, cites_wage in self._dues(inputs):
            cited = (*base, inputs["wage_event"], a_event) if cites_wage else (*base, a_event)
            sources = list(dict.fromkeys(s for s in (*cited, self.policy.event_id,
                                                     inputs["uninsured"][1] if inputs["uninsured"] else None) if s))
            out.append(self._processed((
                line_id(claim_id, (kind, payee, m, payer), point_id, fen), claim_id, inputs["employer"],
                inputs["region"], kind, KINDS[kind][0], m, self.first, self.last, fen, payer, payee, *account,
                "[]", reason, known_at, explain_json, self.policy_ref_json, json.dumps(sources), None)))
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


CACHE_ENTRIES = 50_000  # per cache: memory stays flat whatever the region's size


def _bounded(cache: dict) -> None:
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
