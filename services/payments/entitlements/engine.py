"""The pure derivation of entitlement lines from facts (issue 5).

Two layers, both pure (no I/O, no clock):

* `derive(facts, policies, through_month, known_at)` — what is owed, per line key
  (kind, payee, period, payer), as known at `known_at`: a function of the facts and policy
  versions recorded by then, sorted by (recorded_at, event_id), never of the order a log
  delivered them in.
* `ledger(facts, policies, now, horizons)` — the append-only lines. Every fact and policy version
  is a *knowledge point*. Walking the points in order, the lines owed as known at each point are
  compared, per key, with the lines already materialized: a new key gets its line; a changed
  amount gets an **adjustment line** for the difference (positive = arrears, negative = a
  recovery netted against later payouts) naming the lines it corrects and the event that taught
  it. Nothing is ever edited. A month's lines become materialized when the month begins (or when
  a payment run asks for a later month: `horizons`), with the knowledge of that moment.

Every line id is a hash of (claim, kind, payee, period, payer, the knowledge point that created
it, amount), so a replay — or any interleaving of the same facts — rebuilds identical lines.
Times are UTC; a month is a calendar month of UTC dates.
"""
from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from libs.events.source import describe
from libs.money import split_yuan, to_fen, yuan_str
from libs.policy import NoPolicyInForce, PolicyVersion, load_national_default, resolve

from . import rules
from .rules import Calc, Survivor

MAX_FACTS = 2_000  # per claim, with its employer's facts: beyond that a claim is refused, not half derived
MAX_POLICY_VERSIONS = 500
MAX_MONTHS = 12 * 100  # a derivation never walks more than a century of months
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

CLAIM_TYPES = ("InjuryApplied", "InjuryRecognized", "InjuryRejected", "InsuredWageDetermined", "TreatmentLeaveGranted",
               "GradeAssigned", "EmploymentTerminated", "WorkerDied", "DependentRegistered", "ClaimClosed",
               "WorkArrangementRecorded", "AppealDecided",
               "LegacyPaymentsRecorded")
EMPLOYER_TYPES = ("EmployerEnrolled", "EmployerChanged")

# kind → (family, the `payers` entry of the policy that names who bears it)
KINDS: dict[str, tuple[str, str]] = {
    "treatment_leave_wage": ("short_term", "treatment_leave_wage"),
    "disability_grant": ("long_term", "disability_grant"),
    "disability_allowance": ("long_term", "disability_allowance"),
    "disability_allowance_5_6": ("long_term", "disability_allowance_5_6"),
    "care_allowance": ("long_term", "care_allowance"),
    "termination_medical_grant": ("long_term", "termination_medical_grant"),
    "termination_employment_grant": ("long_term", "termination_employment_grant"),
    "funeral_grant": ("survivor", "funeral_grant"),
    "death_grant": ("survivor", "death_grant"),
    "survivor_pension": ("survivor", "survivor_pension"),
}
MONTHLY = frozenset({"treatment_leave_wage", "disability_allowance", "disability_allowance_5_6", "care_allowance",
                     "survivor_pension"})


# ---- inputs --------------------------------------------------------------------------------

def utc(moment: datetime) -> datetime:
    if moment.tzinfo is timezone.utc:
        return moment  # already (the hot case: every fact is read as UTC)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Fact:
    """One event as a fact of a claim (or of the claim's employer)."""

    event_id: str
    type: str
    recorded_at: datetime
    payload: Mapping[str, Any]

    @property
    def key(self) -> tuple[datetime, str]:
        return (utc(self.recorded_at), self.event_id)

    @property
    def label(self) -> str:
        return f"{self.type} {self.event_id}"


@dataclass(frozen=True)
class PolicyFact:
    """A policy version with its knowledge time (the PolicyPublished event's recorded_at)."""

    version: PolicyVersion
    recorded_at: datetime

    @property
    def key(self) -> tuple[datetime, str]:
        return (utc(self.recorded_at), self.version.event_id or "")

    @property
    def label(self) -> str:
        v = self.version
        if v.taken_from is not None:  # the consolidation made the new region's version the pool's
            region, effective_from, version = v.taken_from
            return (f"PoolsConsolidated into {region} from {v.effective_from.isoformat()}: PolicyPublished {region} "
                    f"v{version} effective {effective_from.isoformat()} {v.event_id or ''}").strip()
        return f"PolicyPublished {v.region} v{v.version} effective {v.effective_from.isoformat()} {v.event_id or ''}".strip()


SHIPPED_DEFAULT_REF = {"region": "000000", "effective_from": "1900-01-01", "version": 0}


def _shipped_default() -> PolicyVersion:
    return PolicyVersion("000000", date(1900, 1, 1), 0, load_national_default(), None)


def policy_ref(v: PolicyVersion) -> dict[str, Any]:
    if v.taken_from is not None:  # a consolidated pool's month: the new region's own version
        region, effective_from, version = v.taken_from
        return {"region": region, "effective_from": effective_from.isoformat(), "version": version}
    return {"region": v.region, "effective_from": v.effective_from.isoformat(), "version": v.version}


# ---- months --------------------------------------------------------------------------------

@lru_cache(maxsize=4096)  # pure, and called for every claim of a region
def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@lru_cache(maxsize=4096)  # pure, and called for every claim of a region
def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


@lru_cache(maxsize=4096)  # pure, and called for every claim of a region
def last_day(month: str) -> date:
    d = first_day(month)
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


@lru_cache(maxsize=4096)  # pure, and called for every claim of a region
def next_month(month: str) -> str:
    return month_of(last_day(month) + timedelta(days=1))


@lru_cache(maxsize=4096)  # pure, and called for every claim of a region
def previous_month(month: str) -> str:
    return month_of(first_day(month) - timedelta(days=1))


def months(start: str, end: str) -> list[str]:
    out: list[str] = []
    m = start
    while m <= end:
        out.append(m)
        assert len(out) <= MAX_MONTHS, f"more than {MAX_MONTHS} months from {start} to {end}"
        m = next_month(m)
    return out


def _overlap(a: date, b: date, c: date, d: date) -> int:
    return max(0, (min(b, d) - max(a, c)).days + 1)


# ---- what the facts say --------------------------------------------------------------------

@dataclass
class Appraisal:
    grade: int | None
    care_level: str
    concluded_on: date
    event_id: str


@dataclass
class ClaimView:
    """The claim as the facts (in knowledge order) tell it; later facts supersede earlier ones."""

    app: Mapping[str, Any] | None = None
    app_event: str = ""
    decision: str | None = None
    decision_event: str = ""
    wage: Decimal | None = None
    wage_event: str = ""
    wage_ref: Any = None
    leaves: list[tuple[date, date, str]] = field(default_factory=list)
    appraisals: list[Appraisal] = field(default_factory=list)
    terminated: tuple[date, int, str] | None = None
    arrangements: list[tuple[date, bool, str]] = field(default_factory=list)  # (from, arranged, event)
    died: tuple[date, int | None, str] | None = None
    dependents: dict[str, tuple[Mapping[str, Any], str]] = field(default_factory=dict)
    closed: tuple[date, str] | None = None
    employer_enrolled: tuple[date, str] | None = None
    employer_changes: list[tuple[date, str, str]] = field(default_factory=list)
    # going live (MIGRATION.md): what the old system paid (paid_through, one_off_paid, its source),
    # and the source of every migrated fact ("migrated: import …, row …") by event id
    legacy: tuple[str | None, bool, str] | None = None
    migrated: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> "ClaimView":
        v = cls()
        replaced: list[tuple[date, int | None, str, str]] = []  # committee conclusions (R.26)
        for f in facts:
            p = f.payload
            if p.get("source"):
                v.migrated[f.event_id] = describe(p["source"]) or ""
            if f.type == "InjuryApplied":
                v.app, v.app_event = p, f.event_id
            elif f.type == "InjuryRecognized":
                v.decision, v.decision_event = p.get("decision") or "recognized", f.event_id
            elif f.type == "InjuryRejected":
                v.decision, v.decision_event = "rejected", f.event_id
            elif f.type == "InsuredWageDetermined":
                v.wage, v.wage_event, v.wage_ref = Decimal(str(p["insured_wage"])), f.event_id, p.get("policy_ref")
            elif f.type == "TreatmentLeaveGranted":
                v.leaves.append((date.fromisoformat(p["start"]), date.fromisoformat(p["end"]), f.event_id))
            elif f.type == "GradeAssigned":
                v.appraisals.append(Appraisal(p.get("grade"), p.get("care_level") or "none",
                                              date.fromisoformat(p["concluded_on"]), f.event_id))
            elif f.type == "EmploymentTerminated":
                v.terminated = (date.fromisoformat(p["terminated_on"]), int(p["grade"]), f.event_id)
            elif f.type == "WorkArrangementRecorded":
                v.arrangements.append((date.fromisoformat(p["effective_from"]), bool(p["arranged"]), f.event_id))
            elif f.type == "WorkerDied":
                v.died = (date.fromisoformat(p["died_on"]), p.get("grade_at_death"), f.event_id)
            elif f.type == "DependentRegistered":
                v.dependents[p["dependent_id"]] = (p, f.event_id)
            elif f.type == "ClaimClosed":
                v.closed = (date.fromisoformat(p["closed_on"]), f.event_id)
            elif f.type == "AppealDecided" and p.get("outcome") != "upheld":
                # The decision on an appeal replaces the disputed one from that one's own date.
                if p.get("subject") == "recognition" and p.get("decision"):
                    v.decision, v.decision_event = p["decision"], f.event_id
                elif p.get("subject") == "appraisal":
                    replaced.append((date.fromisoformat(p["replaces_from"]), p.get("grade"),
                                     p.get("care_level") or "none", f.event_id))
            elif f.type == "LegacyPaymentsRecorded":
                v.legacy = (p.get("paid_through"), bool(p.get("one_off_paid")), describe(p.get("source")) or f.label)
            elif f.type == "EmployerEnrolled":
                v.employer_enrolled = (date.fromisoformat(p["enrolled_on"]), f.event_id)
            elif f.type == "EmployerChanged":
                v.employer_changes.append((date.fromisoformat(p["changed_on"]), p.get("status") or "active", f.event_id))
        # A re-appraisal applies from its own date (R.28): order by conclusion, then knowledge.
        v.appraisals.sort(key=lambda a: a.concluded_on)
        for concluded_on, grade, care_level, event in replaced:  # R.26: from the disputed one's date
            v.appraisals = [Appraisal(grade, care_level, a.concluded_on, event) if a.concluded_on == concluded_on else a
                            for a in v.appraisals]
        v.employer_changes.sort(key=lambda c: c[0])
        v.arrangements.sort(key=lambda a: a[0])  # stable: on one day, the one learned last wins
        return v

    def arrangement_on(self, day: date) -> tuple[bool, str | None]:
        """R.36: has the employer arranged suitable work on `day` (the latest record from on or
        before it)? No record: not arranged (RULES.md "Clarifications")."""
        found: tuple[bool, str | None] = (False, None)
        for effective_from, arranged, event in self.arrangements:
            if effective_from <= day:
                found = (arranged, event)
        return found

    def grade_5_6_since(self, a: Appraisal) -> date:
        """The conclusion that began the run of grade 5–6 appraisals `a` belongs to."""
        since = a.concluded_on
        for earlier in reversed([x for x in self.appraisals if x.concluded_on <= a.concluded_on]):
            if earlier.grade not in (5, 6):
                break
            since = earlier.concluded_on
        return since

    def appraisal_on(self, day: date) -> Appraisal | None:
        found = None
        for a in self.appraisals:
            if a.concluded_on <= day:
                found = a
        return found

    def insured_on(self, day: date) -> tuple[bool, str | None]:
        """R.62: was the employer insured on `day`? Unknown employer: taken as insured."""
        if self.employer_enrolled is None:
            return True, None
        enrolled_on, event = self.employer_enrolled
        if day < enrolled_on:
            return False, event
        status, source = "active", event
        for changed_on, st, ev in self.employer_changes:
            if changed_on <= day:
                status, source = st, ev
        return status == "active", source


# ---- what is owed --------------------------------------------------------------------------

class Due(NamedTuple):
    """An amount owed for one line key, as known at one moment. Immutable, a named tuple: a
    claim's history makes one a month and key, and a frozen dataclass's `__init__` (one
    `object.__setattr__` a field) cost several times the tuple's."""

    kind: str
    payee: str
    period: str  # YYYY-MM for a monthly benefit, the date for a one-off
    payer: str
    start: date
    end: date
    calc: Calc
    policy_ref: dict[str, Any] | None
    sources: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.payee, self.period, self.payer)

    @property
    def month(self) -> str:
        return self.period[:7]

    @property
    def family(self) -> str:
        return KINDS[self.kind][0]


class Line(NamedTuple):
    """One append-only line (immutable; a named tuple for the cost of making ~70 a claim, as `Due`)."""

    line_id: str
    claim_id: str
    employer_id: str
    region: str
    kind: str
    family: str
    period: str
    period_start: date
    period_end: date
    amount: Decimal
    payer: str
    payee: str
    adjusts: tuple[str, ...]
    reason: str
    known_at: datetime
    explain: dict[str, Any]
    policy_ref: dict[str, Any] | None
    source_event_ids: tuple[str, ...]
    # paid by the old system before going live (why, in words): never in a payment run
    settled_outside: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.payee, self.period, self.payer)

    @property
    def month(self) -> str:
        return self.period[:7]


class _Policies:
    """The versions known at a moment, and the one in force on a day (remembered per day)."""

    def __init__(self, versions: Sequence[PolicyVersion], region: str) -> None:
        self.versions, self.region = tuple(versions), region
        self._on: dict[date, PolicyVersion] = {}

    def on(self, day: date) -> PolicyVersion:
        found = self._on.get(day)
        if found is None:
            try:
                found = resolve(self.versions, self.region, day)
            except NoPolicyInForce:
                found = _shipped_default()
            self._on[day] = found
        return found


KNOWN_POLICIES = 256
_known_policies: dict[tuple[str, tuple[int, ...]], _Policies] = {}


def _policies_of(versions: Sequence[PolicyVersion], region: str) -> _Policies:
    """`_Policies(versions, region)`, one for the claims of a batch that read the same version
    objects (the days it resolved kept for the next claim); held by the versions' identity, which
    the kept instance holds alive."""
    key = (region, tuple(map(id, versions)))
    found = _known_policies.get(key)
    if found is None or any(a is not b for a, b in zip(found.versions, versions)):
        if len(_known_policies) >= KNOWN_POLICIES:
            _known_policies.clear()
        found = _known_policies[key] = _Policies(versions, region)
    return found


# Beneficiaries whose monthly amounts share their inputs (the policy's ratio and minimum wage, the
# grade, the insured wage; the care level and the average wage) share one Calc: computed once,
# applied to many. Keyed by the values' text, so 2400.0 and 2400.00 (equal Decimals that read
# differently in a formula) never share one. A Calc is immutable (its inputs are copied out).
CALC_CACHE = 65_536


@lru_cache(maxsize=CALC_CACHE)
def _allowance_of(insured_wage: str, grade: int, ratio: str, minimum_wage: str) -> Calc:
    return rules.disability_allowance(Decimal(insured_wage), grade, Decimal(ratio), Decimal(minimum_wage))


def _allowance(insured_wage: Decimal, grade: int, ratio: Decimal, minimum_wage: Decimal) -> Calc:
    return _allowance_of(str(insured_wage), grade, str(ratio), str(minimum_wage))


@lru_cache(maxsize=CALC_CACHE)
def _care_of(average_wage: str, level: str, ratio: str) -> Calc:
    return rules.care_allowance(Decimal(average_wage), level, Decimal(ratio))


def _care(average_wage: Decimal, level: str, ratio: Decimal) -> Calc:
    return _care_of(str(average_wage), level, str(ratio))


def _targets(facts: Sequence[Fact], policies: Sequence[PolicyVersion], through_month: str) -> tuple[list[Due], list[str]]:
    """What is owed through `through_month`, and notes on what the ledger cannot compute."""
    return _targets_of(ClaimView.of(facts), policies, through_month)


def _targets_of(v: ClaimView, policies: Sequence[PolicyVersion] | _Policies, through_month: str,
                from_month: str | None = None) -> tuple[list[Due], list[str]]:
    """`_targets` of a claim view; with `from_month`, only what falls due from that month on (the
    months before it are not walked: one month costs one month, whatever the claim's age). The
    notes are complete only without `from_month`."""
    notes: list[str] = []
    if v.app is None or v.decision not in ("recognized", "deemed"):
        return [], notes
    app = v.app
    region, employee_id, kind = app["region"], app["employee_id"], app.get("kind", "accident")
    occurred_on = date.fromisoformat(app["occurred_on"])
    applied_on = date.fromisoformat(app["applied_on"])
    late_days = int(app.get("employer_late_days") or 0)
    late = (applied_on - timedelta(days=late_days - 1), applied_on) if late_days > 0 else None
    pol = policies if isinstance(policies, _Policies) and policies.region == region else _Policies(
        policies.versions if isinstance(policies, _Policies) else policies, region)
    insured, insured_source = v.insured_on(occurred_on)
    iw = v.wage
    worker = f"employee:{employee_id}"
    died_on = v.died[0] if v.died else None
    closed_on = v.closed[0] if v.closed else None
    base = (v.app_event, v.decision_event)
    dues: list[Due] = []
    refs: dict[int, tuple[PolicyVersion, dict[str, Any]]] = {}  # by the version's id (the memo holds it)

    def payer_of(kind_: str, policy: PolicyVersion) -> tuple[str, str | None]:
        if not insured:
            return "employer", (f"R.62: the employer was not insured on {occurred_on.isoformat()}, "
                                f"it owes this benefit itself")
        return policy.document.payer(KINDS[kind_][1]), None

    payers: dict[tuple[str, int], tuple[PolicyVersion, str, str | None]] = {}  # by kind and version (its id)
    cited: dict[tuple[tuple[str, ...], str | None, bool], tuple[str, ...]] = {}  # a due's sources, by its parts
    # What the months of one kind, version and sources share — the payer and why, the due's
    # sources, the version's reference — looked up once a due from the memos above, not three times.
    parts_of: dict[tuple[str, int, tuple[str, ...]], tuple[PolicyVersion, str, str | None, tuple[str, ...],
                                                           dict[str, Any]]] = {}

    def shared_parts(kind_: str, policy: PolicyVersion, sources: tuple[str, ...]
                     ) -> tuple[PolicyVersion, str, str | None, tuple[str, ...], dict[str, Any]]:
        found = payers.get((kind_, id(policy)))  # the months of one version: asked once
        if found is None or found[0] is not policy:
            found = payers[(kind_, id(policy))] = (policy, *payer_of(kind_, policy))
        _policy, payer, why = found
        srcs = cited.get((sources, policy.event_id, why is not None))
        if srcs is None:
            srcs = cited[(sources, policy.event_id, why is not None)] = tuple(dict.fromkeys(
                s for s in (*base, *sources, policy.event_id, insured_source if why else None) if s))
        held_ref = refs.get(id(policy))  # one reference object a version: its JSON is then written once
        if held_ref is None or held_ref[0] is not policy:
            held_ref = refs[id(policy)] = (policy, policy_ref(policy))
        return policy, payer, why, srcs, held_ref[1]

    def emit(kind_: str, payee: str, period: str, start: date, end: date, calc: Calc, policy: PolicyVersion,
             sources: tuple[str, ...]) -> None:
        found = parts_of.get((kind_, id(policy), sources))
        if found is None or found[0] is not policy:
            found = parts_of[(kind_, id(policy), sources)] = shared_parts(kind_, policy, sources)
        _policy, payer, why, srcs, ref = found
        if why:
            calc = Calc(calc.amount, calc.formula, calc.inputs, calc.article, (*calc.notes, why))
        if payer == "fund" and late is not None and _overlap(start, end, *late):
            days = _overlap(start, end, *late)
            span = (end - start).days + 1
            note = (f"R.17: the employer applied {late_days} days late; it bears the benefits of "
                    f"{late[0].isoformat()}..{late[1].isoformat()}")
            if days == span:
                dues.append(Due(kind_, payee, period, "employer", start, end,
                                Calc(calc.amount, calc.formula, calc.inputs, calc.article, (*calc.notes, note)), ref, srcs))
                return
            # One amount between two payers, by days: RULES.md "Splitting money".
            employer_part, fund_part = split_yuan(calc.amount, [days, span - days])
            share = {**calc.inputs, "late_days_in_period": str(days), "days_in_period": str(span),
                     "split": "largest remainder"}
            dues.append(Due(kind_, payee, period, "employer", start, end, Calc(
                employer_part, f"({calc.formula}) × {days} / {span} = {yuan_str(employer_part)}", share, calc.article,
                (*calc.notes, note)), ref, srcs))
            dues.append(Due(kind_, payee, period, "fund", start, end, Calc(
                fund_part, f"({calc.formula}) × {span - days} / {span} = {yuan_str(fund_part)}",
                share, calc.article, (*calc.notes, note)), ref, srcs))
            return
        dues.append(Due(kind_, payee, period, payer, start, end, calc, ref, srcs))

    def monthly_open(m: str, *, survivor: bool = False) -> bool:
        if closed_on is not None and m > month_of(closed_on):
            return False  # R.42: benefits stop after the month the claim is closed in
        if died_on is not None:
            return m > month_of(died_on) if survivor else m <= month_of(died_on)
        return not survivor

    # R.33: wage during treatment leave, days prorated per calendar month.
    if iw is not None and v.leaves:
        per_month: dict[str, list[tuple[date, date, str]]] = defaultdict(list)
        for start, end, ev in v.leaves:
            if died_on is not None:
                end = min(end, died_on)
            if end < start:
                continue
            for m in months(max(month_of(start), from_month or ""), min(month_of(end), through_month)):
                a, b = max(start, first_day(m)), min(end, last_day(m))
                per_month[m].append((a, b, ev))
        for m, spans in sorted(per_month.items()):
            days = sum((b - a).days + 1 for a, b, _ in spans)
            dim = last_day(m).day
            calc = rules.treatment_leave_wage(iw, min(days, dim), dim)
            emit("treatment_leave_wage", worker, m, min(a for a, _, _ in spans), max(b for _, b, _ in spans), calc,
                 pol.on(first_day(m)), (v.wage_event, *[ev for _, _, ev in spans]))

    graded = [a for a in v.appraisals if a.grade is not None]
    birth = date.fromisoformat(app["birth_date"]) if app.get("birth_date") else None
    sex = app.get("sex") or "male"

    # R.35–37: the one-off disability grant, once, on the first graded appraisal.
    if graded and iw is not None and (from_month or "") <= month_of(graded[0].concluded_on) <= through_month:
        a = graded[0]
        policy = pol.on(a.concluded_on)
        calc = rules.disability_grant(iw, a.grade, policy.document.disability_grant_months[str(a.grade)])
        emit("disability_grant", worker, a.concluded_on.isoformat(), a.concluded_on, a.concluded_on, calc, policy,
             (v.wage_event, a.event_id))

    # R.35 / R.36 / R.34: monthly allowances from the month of the appraisal in force.
    if v.appraisals:
        retired_noted = False
        # What the months of one version share, worked out once a version (by its id; the memo holds it)
        retirements: dict[int, tuple[PolicyVersion, date]] = {}
        calcs: dict[tuple[str, str | int | None, int], tuple[PolicyVersion, Calc]] = {}

        def allowance_of(grade: int, policy: PolicyVersion) -> Calc:
            found = calcs.get(("allowance", grade, id(policy)))
            if found is None or found[0] is not policy:
                doc_ = policy.document
                found = calcs[("allowance", grade, id(policy))] = (policy, _allowance(
                    iw, grade, doc_.disability_allowance_ratios[str(grade)], doc_.minimum_monthly_wage))
            return found[1]

        def care_of(level: str, policy: PolicyVersion) -> Calc:
            found = calcs.get(("care", level, id(policy)))
            if found is None or found[0] is not policy:
                doc_ = policy.document
                found = calcs[("care", level, id(policy))] = (policy, _care(
                    doc_.average_monthly_wage, level, getattr(doc_.care_ratios, level)))
            return found[1]

        # What the months of one appraisal under one version share (by both ids; the memo holds
        # them): the retirement day, each allowance's calculation and sources, where a grade 5–6
        # run began — worked out once, not once a month.
        parts_of_month: dict[tuple[int, int], tuple[Appraisal, PolicyVersion, date | None, Calc | None,
                                                    tuple[str, ...], str | None, Calc | None, tuple[str, ...]]] = {}

        def month_parts(a: Appraisal, policy: PolicyVersion) -> tuple[Appraisal, PolicyVersion, date | None,
                                                                      Calc | None, tuple[str, ...], str | None,
                                                                      Calc | None, tuple[str, ...]]:
            retires = retirements.get(id(policy), (None, None)) if birth else (None, None)
            if birth and retires[0] is not policy:
                doc_ = policy.document
                retires = retirements[id(policy)] = (policy, rules.retirement_date(
                    birth, sex, doc_.retirement_age.male, doc_.retirement_age.female))
            allowance = (allowance_of(a.grade, policy) if a.grade is not None and a.grade <= 6 and iw is not None
                         else None)
            since = month_of(v.grade_5_6_since(a)) if a.grade in (5, 6) else None
            care = care_of(a.care_level, policy) if a.care_level in ("full", "mostly", "partial") else None
            return a, policy, retires[1], allowance, (v.wage_event, a.event_id), since, care, (a.event_id,)

        for m in months(max(month_of(v.appraisals[0].concluded_on), from_month or ""), through_month):
            if not monthly_open(m):
                continue
            first, last = first_day(m), last_day(m)
            a = v.appraisal_on(last)
            if a is None:
                continue
            policy = pol.on(first)  # R.40: a month takes the version in force on its first day
            parts = parts_of_month.get((id(a), id(policy)))
            if parts is None or parts[0] is not a or parts[1] is not policy:
                parts = parts_of_month[(id(a), id(policy))] = month_parts(a, policy)
            _a, _policy, retires, allowance, allowance_sources, since, care, care_sources = parts
            retired = retires is not None and first >= retires
            if a.grade is not None and a.grade <= 4 and iw is not None:
                if retired:
                    if not retired_noted:
                        notes.append(f"disability allowance (R.35) ends at retirement on {retires.isoformat()}: the "
                                     "basic pension replaces it; the pension is not known to the ledger, so the "
                                     "fund's shortfall top-up is not computed")
                        retired_noted = True
                else:
                    emit("disability_allowance", worker, m, first, last, allowance, policy, allowance_sources)
            if since is not None and iw is not None and not retired and m > since:
                # R.36: from the month after the conclusion, while the employment continues (a month
                # counts when it begins employed) and the employer has arranged no suitable work
                # (the arrangement in force on the month's first day).
                employed = v.terminated is None or first < v.terminated[0]
                arranged, arrangement_event = v.arrangement_on(first)
                if employed and not arranged:
                    emit("disability_allowance_5_6", worker, m, first, last, allowance, policy,
                         tuple(x for x in (v.wage_event, a.event_id, arrangement_event) if x))
            if care is not None:
                emit("care_allowance", worker, m, first, last, care, policy, care_sources)

    # R.36–37: one-off grants when the employment of a grade 5–10 worker ends.
    if v.terminated is not None and (from_month or "") <= month_of(v.terminated[0]) <= through_month:
        on, grade, ev = v.terminated
        in_force = v.appraisal_on(on)  # a committee's conclusion may have replaced the grade ended with
        grade = in_force.grade if in_force is not None else grade
        policy = pol.on(on)
        doc = policy.document
        if grade is not None and 5 <= grade <= 10:
            emit("termination_medical_grant", worker, on.isoformat(), on, on,
                 rules.termination_grant("termination_medical_grant", doc.average_monthly_wage, grade,
                                         doc.termination_medical_grant_months[str(grade)]), policy, (ev,))
            emit("termination_employment_grant", worker, on.isoformat(), on, on,
                 rules.termination_grant("termination_employment_grant", doc.average_monthly_wage, grade,
                                         doc.termination_employment_grant_months[str(grade)]), policy, (ev,))

    # R.39: death — funeral grant, death grant, survivor pensions.
    if v.died is not None:
        died_on_, grade_at_death, death_event = v.died
        a = v.appraisal_on(died_on_)  # the conclusion in force, a committee's if it replaced one
        if a is not None or grade_at_death is None:
            grade_at_death = a.grade if a else None
        deps = sorted(v.dependents.items())
        spouse = [d for d, (p, _) in deps if p.get("relation") == "spouse"]
        family = f"dependent:{spouse[0]}" if spouse else f"dependent:{deps[0][0]}" if deps else worker
        if (from_month or "") <= month_of(died_on_) <= through_month:
            policy = pol.on(died_on_)
            doc = policy.document
            emit("funeral_grant", family, died_on_.isoformat(), died_on_, died_on_,
                 rules.funeral_grant(doc.average_monthly_wage, doc.funeral_months), policy, (death_event,))
            if rules.death_grant_due(kind, grade_at_death):
                emit("death_grant", family, died_on_.isoformat(), died_on_, died_on_,
                     rules.death_grant(doc.national_disposable_income, doc.death_grant_multiple), policy, (death_event,))
            else:
                notes.append(f"no one-off death grant: the worker was of grade {grade_at_death} and died later "
                             "of the injury (R.39)")
        if iw is not None and deps:
            pensions: dict[tuple, tuple[PolicyVersion, dict[str, Calc]]] = {}
            # Each dependent as a survivor, its payee and (a child) what its age limit depends on,
            # and the pensions' sources: the same every month, made once.
            survivors = [(Survivor(dep_id, p.get("relation", "other"), bool(p.get("orphan_or_lone_elder"))),
                          f"dependent:{dep_id}", p.get("relation") == "child", p) for dep_id, (p, _ev) in deps]
            pension_sources = (v.wage_event, death_event, *[ev for _, (_, ev) in deps])
            limits: dict[tuple[str, int], date] = {}  # a child's last day, by its id and the age limit

            def child_until(dep_id: str, p: Mapping[str, Any], age_limit: int) -> date:
                found = limits.get((dep_id, age_limit))
                if found is None:
                    found = limits[(dep_id, age_limit)] = (
                        date.fromisoformat(p["qualifies_until"]) if p.get("qualifies_until") else
                        rules.anniversary(date.fromisoformat(p["born_on"]), age_limit))
                return found

            for m in months(max(next_month(month_of(died_on_)), from_month or ""), through_month):
                if not monthly_open(m, survivor=True):
                    continue
                first = first_day(m)
                policy = pol.on(first)
                doc = policy.document
                # R.39: a child's pension stops at the age limit
                living = [x for x in survivors if not x[2] or first < child_until(x[0].dependent_id, x[3],
                                                                                  doc.dependent_child_age_limit)]
                if not living:
                    continue
                # the months of one version and one family: one split (by the version's id; the memo holds it)
                shared = (id(policy), tuple(x[1] for x in living))
                found = pensions.get(shared)
                if found is None or found[0] is not policy:
                    r = doc.survivor_ratios
                    found = pensions[shared] = (policy, rules.survivor_pensions(
                        iw, [x[0] for x in living], r.spouse, r.other, r.orphan_or_lone_elder_bonus, r.cap))
                calcs = found[1]
                last = last_day(m)
                for s, payee, _child, _p in living:
                    emit("survivor_pension", payee, m, first, last, calcs[s.dependent_id], policy, pension_sources)
    if iw is None:
        notes.append("no insured wage determined yet: benefits of the insured wage wait for it (R.64)")
    lo = from_month or ""
    return [d for d in dues if lo <= d[2][:7] <= through_month], notes  # d[2][:7]: Due.month


def _sorted(facts: Iterable[Fact]) -> list[Fact]:
    out = sorted(facts, key=lambda f: f.key)
    assert len(out) <= MAX_FACTS, f"more than {MAX_FACTS} facts for one claim"
    return out


def derive(facts: Iterable[Fact], policies: Iterable[PolicyFact], through_month: str,
           known_at: datetime | None = None, from_month: str | None = None) -> list[Due]:
    """What is owed through `through_month` as known at `known_at` (all facts when None); with
    `from_month`, only from that month on (the months before it not walked)."""
    fs = [f for f in _sorted(facts) if known_at is None or f.key[0] <= utc(known_at)]
    ps = [p.version for p in sorted(policies, key=lambda p: p.key) if known_at is None or p.key[0] <= utc(known_at)]
    dues, _ = _targets_of(ClaimView.of(fs), ps, through_month, from_month)
    return sorted(dues, key=lambda d: d.key)


def notes(facts: Iterable[Fact], policies: Iterable[PolicyFact], through_month: str) -> list[str]:
    return _targets(_sorted(facts), [p.version for p in sorted(policies, key=lambda p: p.key)], through_month)[1]


# ---- the append-only ledger ----------------------------------------------------------------

def line_id(claim_id: str, key: tuple[str, str, str, str], point: str, amount_fen: int) -> str:
    kind, payee, period, payer = key  # the text is "|".join((claim_id, *key, point, str(amount_fen))), made in one step
    return "el_" + _sha256(f"{claim_id}|{kind}|{payee}|{period}|{payer}|{point}|{amount_fen}".encode()).hexdigest()[:32]


_sha256 = hashlib.sha256


@lru_cache(maxsize=4096)  # a month's first day, for every line of every claim
def _moment(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def _explain(due: Due, iw_ref: Any) -> dict[str, Any]:
    out = {"article": due.calc.article, "formula": due.calc.formula, "inputs": dict(due.calc.inputs),
           "notes": list(due.calc.notes)}
    if iw_ref is not None and "insured_wage" in due.calc.inputs:
        out["insured_wage_policy_ref"] = iw_ref
    return out


@dataclass(frozen=True)
class _Point:
    key: tuple[datetime, str]  # (recorded_at, the last event id of the moment)
    label: str
    migrated: bool = False  # every fact of the moment came from a go-live import
    learned: str = ""  # the month it was learned in (`month_of` its day): a line of an earlier month is arrears


def _point(t: datetime, xs: Sequence[Fact | PolicyFact]) -> _Point:
    """The knowledge point of the facts and policy versions `xs` (in key order) recorded at `t`."""
    return _Point((t, xs[-1].key[1] or xs[-1].label),
                  "; ".join(x.label for x in xs[:3]) + (f" and {len(xs) - 3} more" if len(xs) > 3 else ""),
                  all(isinstance(x, Fact) and x.payload.get("source") for x in xs), month_of(t.date()))


def settled_outside(point: _Point, view: ClaimView, key: tuple[str, str, str, str]) -> str | None:
    """Going live (MIGRATION.md): a line the migration itself teaches — made at a moment whose
    facts all came from an import — for a month up to `paid_through`, or a one-off grant the old
    system paid, was settled outside the ledger: why, in words; otherwise None. What later facts
    teach (a re-appraisal, a death, a new policy) is arrears or recovery like any other."""
    if not point.migrated or view.legacy is None:
        return None
    paid_through, one_off_paid, where = view.legacy
    kind, _payee, period, _payer = key
    if kind in MONTHLY:
        if paid_through is None or period[:7] > paid_through:
            return None
        return _settled_texts(paid_through, where)[0]
    return _settled_texts(paid_through, where)[1] if one_off_paid else None


@lru_cache(maxsize=4096)  # the same two texts for every month of a migrated claim
def _settled_texts(paid_through: str | None, where: str) -> tuple[str, str]:
    return (f"paid by the old system: its recurring benefits through {paid_through} ({where})",
            f"paid by the old system: a one-off grant of its decisions ({where})")


def _points(fs: Sequence[Fact], ps: Sequence[PolicyFact]) -> list[_Point]:
    # A knowledge point is one moment: the events one command recorded together (they share
    # recorded_at — a death and its dependents) are learned together.
    grouped: dict[datetime, list[Fact | PolicyFact]] = defaultdict(list)
    for x in sorted([*fs, *ps], key=lambda x: x.key):
        grouped[x.key[0]].append(x)
    return [_point(t, xs) for t, xs in sorted(grouped.items())]


def _horizon(until: datetime, requested: Sequence[tuple[datetime, str]]) -> str:
    """The last month materialized with the knowledge of a point followed by nothing until
    `until`: the month `until` falls in, or a later one a payment run asked for by then."""
    return max([month_of(until.date()), *[m for t, m in requested if t <= until]])


def _line(claim_id: str, employer_id: str, region: str, key: tuple[str, str, str, str], due: Due | None,
          before: Sequence[Line], point: _Point, view: ClaimView, held: AbstractSet[str] = frozenset(),
          firsts: dict | None = None) -> Line | None:
    """The line that brings `key` from the `before` lines to `due` at `point` (None: nothing to do);
    abridged (`_abridged`) when its id is among `held`. `firsts`: a memo, for one `view`, of the
    explanations and sources of first lines (`_first_texts`), so that a claim's months of one
    calculation share one explanation object (its JSON is then written once)."""
    if not before and due is not None:  # a key's first line (a claim's history is made of them)
        return _first_line(claim_id, employer_id, region, key, due, point, view, held, firsts)
    wage_ref = view.wage_ref
    had = sum((x.amount for x in before), Decimal("0.00"))
    want = due.calc.amount if due else Decimal("0.00")
    diff = want - had
    if diff == 0:
        return None
    kind, payee, period, payer = key
    start = due.start if due else before[-1].period_start
    end = due.end if due else before[-1].period_end
    due_moment = _moment(first_day(period[:7]) if kind in MONTHLY else start)
    known_at = max(point.key[0], due_moment)
    lid = line_id(claim_id, key, point.key[1] or point.label, to_fen(diff))
    if lid in held:
        return Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, end, diff, payer, payee,
                    tuple(x.line_id for x in before), "", known_at,
                    {"article": due.calc.article if due else before[-1].explain.get("article")},
                    due.policy_ref if due else before[-1].policy_ref, (), None)
    explain = _explain(due, wage_ref) if due else {"article": before[-1].explain.get("article"),
                                                    "formula": "no longer owed", "inputs": {}, "notes": []}
    sources = tuple(dict.fromkeys([*(due.sources if due else ()), point.key[1]] if before else
                                  (due.sources if due else ())))
    if not before:
        late = month_of(point.key[0].date()) > period[:7]
        reason = (f"arrears for {period}, learned from {point.label}" if late else
                  f"due for {period}, as known from {point.label}")
        adjusts: tuple[str, ...] = ()
    else:
        adjusts = tuple(x.line_id for x in before)
        reason = (f"{'arrears' if diff > 0 else 'recovery'} for {period}: recalculated after {point.label}; "
                  f"was {yuan_str(had)}, now {yuan_str(want)}")
        explain = {**explain, "adjustment": {
            "formula": f"as known after − as known before = {yuan_str(want)} − {yuan_str(had)} = {yuan_str(diff)}",
            "learned": point.label, "corrects": [{"line_id": x.line_id, "amount": yuan_str(x.amount)} for x in before]}}
    migrated = sorted({view.migrated[s] for s in sources if s in view.migrated})
    if migrated:  # the audit trail of a migrated claim names the import rows its inputs came from
        explain = {**explain, "migrated": migrated}
    outside = settled_outside(point, view, key)
    if outside:
        explain = {**explain, "settled_outside": outside}
        reason = f"{reason}; {outside}"
    return Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, end, diff, payer, payee,
                adjusts, reason, known_at, explain, due.policy_ref if due else before[-1].policy_ref, sources, outside)


def _first_line(claim_id: str, employer_id: str, region: str, key: tuple[str, str, str, str], due: Due,
                point: _Point, view: ClaimView, held: AbstractSet[str], firsts: dict | None) -> Line | None:
    """`_line` of a key with no line before: the due itself, as known at `point`. `firsts` also
    remembers each calculation's amount and fen, so its months share one amount object."""
    calc = due.calc
    amounts = firsts.get(("amount", id(calc))) if firsts is not None else None
    if amounts is None or amounts[0] is not calc:
        diff = calc.amount - ZERO
        amounts = (calc, diff, to_fen(diff) if diff != 0 else 0)
        if firsts is not None:
            firsts[("amount", id(calc))] = amounts
    _calc, diff, fen = amounts
    if diff == 0:
        return None
    kind, payee, period, payer = key
    start, end = due.start, due.end
    month = period[:7]
    known_at = max(point.key[0], _moment(first_day(month) if kind in MONTHLY else start))
    lid = line_id(claim_id, key, point.key[1] or point.label, fen)
    if lid in held:
        return Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, end, diff, payer, payee,
                    (), "", known_at, {"article": due.calc.article}, due.policy_ref, (), None)
    reason = (f"arrears for {period}, learned from {point.label}" if point.learned > month else
              f"due for {period}, as known from {point.label}")
    outside = settled_outside(point, view, key)
    if outside:
        reason = f"{reason}; {outside}"
    explain, sources = _first_texts(due, view, outside, firsts)
    return Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, end, diff, payer, payee,
                (), reason, known_at, explain, due.policy_ref, sources, outside)


def _first_lines(claim_id: str, employer_id: str, region: str, target: Mapping[tuple[str, str, str, str], Due],
                 point: _Point, view: ClaimView, held: AbstractSet[str],
                 firsts: dict) -> Iterator[tuple[tuple[str, str, str, str], Line]]:
    """`_first_line` of each key of `target` in key order (those not None), with what the keys
    share worked out once: the point's moment, id and texts, each calculation's amount, each
    month's first moment. A go-live's claim is some 70 first lines at one point, so this is the
    bulk of its derivation; the same lines as key by key (the line id and what was settled outside
    by the functions `_first_line` calls: the no-double-payment key and the going-live rule have
    one definition each)."""
    moment, at = point.key
    at = at or point.label
    arrears, due_for = f", learned from {point.label}", f", as known from {point.label}"
    learned = point.learned
    starts: dict[object, datetime] = {}  # a month's (or a one-off's day's) moment, max'd with the point's
    amounts: dict[int, tuple[Calc, Decimal, int]] = {}
    shared: dict[tuple[int, int, int], tuple[Calc, tuple[str, ...], str | None, dict[str, Any], tuple[str, ...]]] = {}
    for key, due in sorted(target.items()):  # the keys are distinct: compared alone
        calc = due.calc
        found = amounts.get(id(calc))
        if found is None or found[0] is not calc:
            diff = calc.amount - ZERO
            found = amounts[id(calc)] = (calc, diff, to_fen(diff) if diff != 0 else 0)
        _calc, diff, fen = found
        if diff == 0:
            continue
        kind, payee, period, payer = key
        start = due.start
        month = period[:7]
        monthly = kind in MONTHLY
        begins = month if monthly else start
        known_at = starts.get(begins)
        if known_at is None:
            known_at = starts[begins] = max(moment, _moment(first_day(month) if monthly else start))
        lid = line_id(claim_id, key, at, fen)
        if lid in held:
            yield key, Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, due.end, diff,
                            payer, payee, (), "", known_at, {"article": calc.article}, due.policy_ref, (), None)
            continue
        reason = (f"arrears for {period}{arrears}" if learned > month else f"due for {period}{due_for}")
        outside = settled_outside(point, view, key)
        if outside:
            reason = f"{reason}; {outside}"
        # the months of one calculation, sources and settled text share their texts: asked once
        texts = shared.get((id(calc), id(due.sources), id(outside)))
        if texts is None or texts[0] is not calc or texts[1] is not due.sources or texts[2] is not outside:
            texts = shared[(id(calc), id(due.sources), id(outside))] = (
                calc, due.sources, outside, *_first_texts(due, view, outside, firsts))
        yield key, Line(lid, claim_id, employer_id, region, kind, KINDS[kind][0], period, start, due.end, diff, payer,
                        payee, (), reason, known_at, texts[3], due.policy_ref, texts[4], outside)


def _first_texts(due: Due, view: ClaimView, outside: str | None,
                 firsts: dict | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A first line's explanation and sources (what `_line` writes for a key with no line before):
    a function of the due's calculation and sources, the view's insured wage reference and
    migrated facts, and the settled-outside text; remembered in `firsts` (for one view) by the
    calculation's identity, which the memo keeps alive."""
    memo_key = (id(due.calc), due.sources, outside)
    if firsts is not None:
        found = firsts.get(memo_key)
        if found is not None and found[0] is due.calc:
            return found[1], found[2]
    explain = _explain(due, view.wage_ref)
    sources = tuple(dict.fromkeys(due.sources))
    migrated = sorted({view.migrated[s] for s in sources if s in view.migrated})
    if migrated:  # the audit trail of a migrated claim names the import rows its inputs came from
        explain = {**explain, "migrated": migrated}
    if outside:
        explain = {**explain, "settled_outside": outside}
    if firsts is not None:
        firsts[memo_key] = (due.calc, explain, sources)
    return explain, sources


def ledger(facts: Iterable[Fact], policies: Iterable[PolicyFact], now: datetime,
           horizons: Iterable[tuple[datetime, str]] = (), held: AbstractSet[str] = frozenset()) -> list[Line]:
    """Every line of one claim, as materialized through the knowledge points up to `now`.

    `held`: ids of lines the caller has stored already (it inserts only the others). Those come
    back abridged — the same id, key, amount, dates and policy reference, what a later line of
    their key reads of them; no reason, sources or explanation beyond the article — sparing a
    re-derivation (a dependent registered on a migrated claim) the text of the claim's history."""
    fs = _sorted(facts)
    ps = sorted(policies, key=lambda p: p.key)
    assert len(ps) <= MAX_POLICY_VERSIONS
    app = next((f.payload for f in fs if f.type == "InjuryApplied"), None)
    if app is None:
        return []
    claim_id, employer_id, region = app["claim_id"], app["employer_id"], app["region"]
    ps = [p for p in ps if p.version.region in (region, "000000")]
    points = _points(fs, ps)
    requested = sorted((utc(t), m) for t, m in horizons)
    now = utc(now)
    lines: list[Line] = []
    by_key: dict[tuple[str, str, str, str], list[Line]] = defaultdict(list)
    # What each key's lines sum to so far (amounts are at fen precision: a key whose due equals
    # it needs no line — `_line` would answer None — so it is not asked), and the versions known
    # at a point (a prefix of `ps`), each prefix resolving a day once for all the points.
    owed: dict[tuple[str, str, str, str], Decimal] = {}
    known: dict[int, _Policies] = {}
    # The facts and versions known at a point are a prefix of each (both sorted by key): found by
    # bisection over their keys, made once, not by comparing every key at every point.
    fact_keys, policy_keys = [f.key for f in fs], [p.key for p in ps]
    for i, point in enumerate(points):
        if point.key[0] > now:
            break
        until = points[i + 1].key[0] if i + 1 < len(points) and points[i + 1].key[0] <= now else now
        horizon = _horizon(until, requested)
        known_f = fs[:bisect_right(fact_keys, point.key)]
        count = bisect_right(policy_keys, point.key)
        if count not in known:
            known[count] = _policies_of([p.version for p in ps[:count]], region)
        view = ClaimView.of(known_f)
        dues, _ = _targets_of(view, known[count], horizon)
        target = {d[:4]: d for d in dues}  # a Due's first four fields are its key
        firsts: dict = {}  # one view's first lines' texts
        if not owed:  # no line yet (a claim's first derivation): each due's first line, if not zero
            for key, line in _first_lines(claim_id, employer_id, region, target, point, view, held, firsts):
                lines.append(line)
                by_key[key] = [line]  # each key once: its first line
                owed[key] = line.amount
            continue
        for key in sorted(set(target) | {k for k, amount in owed.items() if amount}):
            due = target.get(key)
            if (due.calc.amount if due else ZERO) == owed.get(key, ZERO):
                continue
            line = _line(claim_id, employer_id, region, key, due, by_key.get(key, []), point, view, held, firsts)
            if line is not None:
                lines.append(line)
                by_key[key].append(line)
                owed[key] = owed.get(key, ZERO) + line.amount
    return lines


ZERO = Decimal("0.00")


# ---- the steady state: one more month at the last knowledge point ---------------------------

@dataclass(frozen=True)
class MonthAhead:
    """What a region's claims are materialized to at `now`: `month`, the horizon (the current
    month, or a later one a payment run asked for by then), over `previous`, the month before it;
    with the region's policy versions known by then (its own and the national default's)."""

    region: str
    now: datetime
    month: str
    previous: str
    requested: tuple[tuple[datetime, str], ...]
    policies: tuple[PolicyFact, ...]  # in knowledge order, recorded by `now`
    versions: tuple[PolicyVersion, ...]
    _known: dict[int, _Policies] = field(default_factory=dict, compare=False, repr=False)

    def known(self, count: int) -> _Policies:
        """The first `count` versions (those known at a point), resolved once per day for all claims."""
        if count not in self._known:
            self._known[count] = _Policies(self.versions[:count], self.region)
        return self._known[count]

    @classmethod
    def of(cls, region: str, policies: Iterable[PolicyFact], now: datetime,
           horizons: Iterable[tuple[datetime, str]] = ()) -> "MonthAhead":
        now = utc(now)
        ps = tuple(p for p in sorted(policies, key=lambda p: p.key)
                   if p.version.region in (region, "000000") and p.key[0] <= now)
        assert len(ps) <= MAX_POLICY_VERSIONS
        requested = tuple(sorted((utc(t), m) for t, m in horizons))
        month = _horizon(now, requested)
        return cls(region, now, month, previous_month(month), requested, ps, tuple(p.version for p in ps))


@dataclass(frozen=True)
class TwoMonths:
    """A claim's lines of `MonthAhead.previous` and of `MonthAhead.month`, exactly as `ledger`
    makes them (first lines and adjustments alike)."""

    claim_id: str
    previous: list[Line]
    month: list[Line]


def month_ahead(facts: Iterable[Fact], ahead: MonthAhead) -> TwoMonths | None:
    """The ledger of one claim restricted to two months: `ahead.previous` and `ahead.month`.

    `ledger` treats every line key on its own, and the dues of a month depend on that month
    alone (`_targets_of` from a month); so walking the knowledge points exactly as `ledger`
    does, but deriving only these two months (the points before the horizon reaches the
    previous month make none of their lines), gives exactly `ledger`'s lines of these months,
    at the cost of two months instead of the claim's whole history. The caller compares the
    previous month's lines with the stored ones (the claim was materialized with what it knows)
    and adds the month's. None when a fact is recorded after `now` (the full derivation then)."""
    fs = _sorted(facts)
    if not fs or fs[-1].key[0] > ahead.now:
        return None
    app = next((f.payload for f in fs if f.type == "InjuryApplied"), None)
    if app is None or app["region"] != ahead.region:
        return None
    claim_id, employer_id, region = app["claim_id"], app["employer_id"], app["region"]
    # The knowledge points as `_points` makes them, labelled only from the first whose horizon
    # reaches the previous month (the earlier ones make none of these months' lines).
    grouped: dict[datetime, list[Fact | PolicyFact]] = defaultdict(list)
    for x in sorted([*fs, *ahead.policies], key=lambda x: x.key):
        grouped[x.key[0]].append(x)
    times = sorted(grouped)
    lines: list[Line] = []
    by_key: dict[tuple[str, str, str, str], list[Line]] = defaultdict(list)
    for i, t in enumerate(times):
        horizon = _horizon(times[i + 1] if i + 1 < len(times) else ahead.now, ahead.requested)
        if horizon < ahead.previous:
            continue
        point = _point(t, grouped[t])
        known_f = [f for f in fs if f.key <= point.key]
        view = ClaimView.of(known_f)
        dues, _ = _targets_of(view, ahead.known(sum(1 for p in ahead.policies if p.key <= point.key)), horizon,
                              from_month=ahead.previous)
        target = {d.key: d for d in dues}
        for key in sorted(set(target) | {k for k, ls in by_key.items() if sum(to_fen(x.amount) for x in ls)}):
            line = _line(claim_id, employer_id, region, key, target.get(key), by_key.get(key, []), point, view)
            if line is not None:
                lines.append(line)
                by_key[key].append(line)
    return TwoMonths(claim_id, [ln for ln in lines if ln.month == ahead.previous],
                     [ln for ln in lines if ln.month == ahead.month])


# ---- the steady state of an untouched claim: the new month alone --------------------------

def knowledge(facts: Sequence[Fact], policies: Sequence[PolicyFact],
              requested: Sequence[tuple[datetime, str]]) -> str:
    """What a claim's lines were derived from, in a few bytes: how many facts (its own and its
    employer's, `facts` sorted), policy versions (those known by the derivation's `now`) and
    horizon requests made by its last knowledge point, and that point. Facts, versions and
    requests are only ever added, so equal strings mean equal knowledge."""
    last = max(facts[-1].key, policies[-1].key) if policies else facts[-1].key
    asked = sum(1 for t, _m in requested if t <= last[0])
    return f"{len(facts)}|{len(policies)}|{asked}|{last[0].isoformat()}|{last[1]}"


def month_alone(facts: Sequence[Fact], ahead: MonthAhead) -> tuple[str, list[Line]] | None:
    """A claim's lines of `ahead.month` exactly as `ledger` makes them, for a claim whose lines
    were materialized through `ahead.previous` with the knowledge it has now (the caller compares
    `knowledge`): then every knowledge point but the last made lines of months up to the one the
    next point fell in (or one requested by then), before `ahead.previous`, so `ledger` makes the
    month's lines at the last point alone, each a first line of its key (no earlier line of the
    month to adjust). Only that month is derived — not the month before, not the history.
    Returns the claim's knowledge and the lines; None when a fact is recorded after `now`.
    `facts` sorted by key."""
    if not facts or facts[-1].key[0] > ahead.now:
        return None
    app = next((f.payload for f in facts if f.type == "InjuryApplied"), None)
    if app is None or app["region"] != ahead.region:
        return None
    claim_id, employer_id, region = app["claim_id"], app["employer_id"], app["region"]
    last = max(facts[-1].key, ahead.policies[-1].key) if ahead.policies else facts[-1].key
    t = last[0]
    at_t = sorted([*(f for f in facts if f.key[0] == t), *(p for p in ahead.policies if p.key[0] == t)],
                  key=lambda x: x.key)
    point = _point(t, at_t)
    view = ClaimView.of(facts)
    dues, _ = _targets_of(view, ahead.known(len(ahead.policies)), ahead.month, from_month=ahead.month)
    target = {d.key: d for d in dues}
    lines: list[Line] = []
    for key in sorted(target):
        line = _line(claim_id, employer_id, region, key, target[key], [], point, view)
        if line is not None:
            lines.append(line)
    return knowledge(facts, ahead.policies, ahead.requested), lines


def lines_hash(lines: Iterable[Line]) -> str:
    """SHA-256 over the lines in id order: equal for equal ledgers."""
    rows = sorted((ln.line_id, ln.kind, ln.period, ln.payer, ln.payee, yuan_str(ln.amount), ln.adjusts, ln.reason,
                   ln.known_at.isoformat(), json.dumps(ln.explain, sort_keys=True), json.dumps(ln.policy_ref, sort_keys=True),
                   ln.source_event_ids) for ln in lines)
    return hashlib.sha256(repr(rows).encode()).hexdigest()
