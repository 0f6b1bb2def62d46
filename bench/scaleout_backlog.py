"""The backlog bench_scaleout drains: events the payments service projects, as the enrollment and
claims services write them — payloads validated by their own event models, appended through
EventStore (events + outbox rows) and published to Kafka by OutboxRelay, so the records on the
topics are byte for byte what those services' relays publish.

The mix, per employer, is a province's month in small (a fund of 10⁶ insured workers sees some
30,000 hires, 15,000 leavers and 1,500 injury claims a month): EmployerEnrolled,
WORKERS_PER_EMPLOYER × EmployeeEnrolled (with a bank account), LEAVERS_PER_EMPLOYER ×
EmployeeSeparated, ACCOUNT_CHANGES_PER_EMPLOYER × BankAccountChanged, and CLAIMS_PER_EMPLOYER
claims of five events each (InjuryApplied, InjuryRecognized, InsuredWageDetermined,
TreatmentLeaveGranted, GradeAssigned, grades 1–10), after one PolicyPublished per region. A
claim's stages are written in waves of WAVE_CLAIMS claims, one transaction per stage as the claims
service does, so one claim's events lie far apart in its partition (a backlog built up over
weeks, not five events in a row).

Every date is counted back from the current month, so the backlog derives as many lines on any
day (the entitlements projection materializes lines up to the current month).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel

from libs.db import make_engine, session_factory
from libs.events.log import EventLog, Topics
from libs.events.registry import REGISTRY
from libs.events.relay import OutboxRelay
from libs.events.store import Context, EventStore, NewEvent
from libs.events.tables import core_metadata
from libs.identifiers import make_id_number, make_uscc
from libs.policy import load_national_default
from services.claims.domain import events as claims_events
from services.enrollment.domain import events as enrollment_events

REGIONS = ("440100", "440300", "440400", "440600", "441900", "442000", "440500", "440700")
WORKERS_PER_EMPLOYER = 40
LEAVERS_PER_EMPLOYER = 20
ACCOUNT_CHANGES_PER_EMPLOYER = 4
CLAIMS_PER_EMPLOYER = 2
CLAIM_STAGES = 5
EVENTS_PER_EMPLOYER = (1 + WORKERS_PER_EMPLOYER + LEAVERS_PER_EMPLOYER + ACCOUNT_CHANGES_PER_EMPLOYER
                       + CLAIMS_PER_EMPLOYER * CLAIM_STAGES)
WAVE_CLAIMS = 1_000
APPENDS_PER_TRANSACTION = 2_000
BANKS = ("102584000002", "103584000003", "104584000004", "105584000005", "301584000006")


def month_start(day: date, months_back: int = 0) -> date:
    n = day.year * 12 + day.month - 1 - months_back
    return date(n // 12, n % 12 + 1, 1)


@dataclass(frozen=True)
class Append:
    """One command's events: what EventStore.append takes."""

    aggregate_type: str
    aggregate_id: str
    expected_version: int
    events: tuple[NewEvent, ...]


def new_event(payload: BaseModel, occurred_on: date) -> NewEvent:
    """As UnitOfWork.save makes it from an aggregate's pending event."""
    name = REGISTRY.name_of(type(payload))
    return NewEvent(name, REGISTRY.latest_version(name), payload.model_dump(mode="json"), occurred_on)


def one(aggregate_type: str, aggregate_id: str, version: int, payload: BaseModel, on: date) -> Append:
    return Append(aggregate_type, aggregate_id, version, (new_event(payload, on),))


class Backlog:
    """Employer units sized to `events` (the last one cut short), dated back from `today`."""

    def __init__(self, events: int, today: date) -> None:
        self.events = events
        self.employers = max(1, -(-(events - len(REGIONS)) // EVENTS_PER_EMPLOYER))
        self.anchor = month_start(today)

    def policy(self, region: str) -> Append:
        doc = load_national_default().model_dump(mode="json")
        doc["average_monthly_wage"] = str(Decimal("9000.00") + 250 * REGIONS.index(region))
        effective = month_start(self.anchor, 36)
        return one("policy", f"policy-{region}", 0, enrollment_events.PolicyPublished(
            region=region, effective_from=effective, version=1, document=doc), effective)

    def employer_id(self, e: int) -> str:
        return f"er_so{e:07d}"

    def region(self, e: int) -> str:
        return REGIONS[e % len(REGIONS)]

    def enrollment(self, e: int) -> Iterator[Append]:
        region, employer_id = self.region(e), self.employer_id(e)
        enrolled = month_start(self.anchor, 30)
        yield one("employer", employer_id, 0, enrollment_events.EmployerEnrolled(
            employer_id=employer_id, uscc=make_uscc(f"91{region}{e:08d}"), name=f"扩容测试企业{e}",
            industry_code="C3311", division="C33", region=region, risk_class=3, base_rate=Decimal("0.0040"),
            enrolled_on=enrolled, policy_ref=enrollment_events.PolicyRef(
                region=region, effective_from=month_start(self.anchor, 36), version=1)), enrolled)
        for w in range(WORKERS_PER_EMPLOYER):
            n = e * WORKERS_PER_EMPLOYER + w
            born = date(1970, 1, 1) + timedelta(days=n % 9000)
            yield one("worker", self.employee_id(e, w), 0, enrollment_events.EmployeeEnrolled(
                employee_id=self.employee_id(e, w), employer_id=employer_id,
                id_number=make_id_number(region, born, n % 1000), name=f"工人{n}", birth_date=born,
                sex="male" if n % 2 else "female", hired_on=enrolled, bank_account=enrollment_events.BankAccount(
                    bank_code=BANKS[n % len(BANKS)], account_no=f"62{n:017d}", holder=f"工人{n}")), enrolled)
        changed = month_start(self.anchor, 2)
        for w in range(ACCOUNT_CHANGES_PER_EMPLOYER):
            n = e * WORKERS_PER_EMPLOYER + w
            yield one("worker", self.employee_id(e, w), 1, enrollment_events.BankAccountChanged(
                employee_id=self.employee_id(e, w), changed_on=changed, bank_account=enrollment_events.BankAccount(
                    bank_code=BANKS[(n + 1) % len(BANKS)], account_no=f"63{n:017d}", holder=f"工人{n}")), changed)
        left = month_start(self.anchor, 1)
        for w in range(WORKERS_PER_EMPLOYER - LEAVERS_PER_EMPLOYER, WORKERS_PER_EMPLOYER):
            yield one("worker", self.employee_id(e, w), 1, enrollment_events.EmployeeSeparated(
                employee_id=self.employee_id(e, w), employer_id=employer_id, separated_on=left), left)

    def employee_id(self, e: int, w: int) -> str:
        return f"ee_so{e * WORKERS_PER_EMPLOYER + w:09d}"

    def claim_stage(self, e: int, c: int, stage: int) -> Append:
        """Stage `stage` (0..4) of claim `c` of employer `e`: one command, one event."""
        n = e * CLAIMS_PER_EMPLOYER + c
        claim_id, w = f"clm_so{n:09d}", (c * 5) % WORKERS_PER_EMPLOYER
        employee_id, region = self.employee_id(e, w), self.region(e)
        occurred = month_start(self.anchor, 9) + timedelta(days=n % 60)
        applied, decided = occurred + timedelta(days=5), occurred + timedelta(days=25)
        leave_end = occurred + timedelta(days=90 + n % 60)
        ref = claims_events.PolicyRef(region=region, effective_from=month_start(self.anchor, 36), version=1)
        wage = Decimal(6000 + (n * 37) % 9000) + Decimal(n % 100) / 100
        payload: BaseModel
        if stage == 0:
            born = date(1970, 1, 1) + timedelta(days=(e * WORKERS_PER_EMPLOYER + w) % 9000)
            payload, on = claims_events.InjuryApplied(
                claim_id=claim_id, employer_id=self.employer_id(e), employee_id=employee_id, region=region,
                kind="accident", occurred_on=occurred, applied_on=applied, applicant="employer",
                description="hand caught in a press", birth_date=born, sex="male" if w % 2 else "female",
                employer_late_days=0), applied
        elif stage == 1:
            payload, on = claims_events.InjuryRecognized(
                claim_id=claim_id, decision="recognized", decided_on=decided, basis="R.14(1)",
                employer_id=self.employer_id(e), employee_id=employee_id), decided
        elif stage == 2:
            payload, on = claims_events.InsuredWageDetermined(
                claim_id=claim_id, employee_id=employee_id, average_wage=wage, insured_wage=wage, months=[],
                floor=Decimal("4800.00"), cap=Decimal("24000.00"), policy_ref=ref, reason="recognized"), decided
        elif stage == 3:
            payload, on = claims_events.TreatmentLeaveGranted(
                claim_id=claim_id, start=occurred, end=leave_end, extension=False, employer_id=self.employer_id(e),
                employee_id=employee_id), decided
        else:
            concluded = leave_end + timedelta(days=10)
            payload, on = claims_events.GradeAssigned(
                claim_id=claim_id, grade=1 + n % 10, care_level="partial" if n % 10 < 2 else "none",
                concluded_on=concluded, reappraisal=False, employer_id=self.employer_id(e),
                employee_id=employee_id), concluded
        return one("claim", claim_id, stage, payload, on)

    def streams(self) -> tuple[list[Append], list[Append]]:
        """(enrollment, claims) appends, cut to `events` events in all."""
        enrollment: list[Append] = [self.policy(r) for r in REGIONS]
        claims: list[Append] = []
        for e in range(self.employers):
            enrollment.extend(self.enrollment(e))
        for first in range(0, self.employers * CLAIMS_PER_EMPLOYER, WAVE_CLAIMS):
            wave = range(first, min(first + WAVE_CLAIMS, self.employers * CLAIMS_PER_EMPLOYER))
            for stage in range(CLAIM_STAGES):
                claims.extend(self.claim_stage(n // CLAIMS_PER_EMPLOYER, n % CLAIMS_PER_EMPLOYER, stage)
                              for n in wave)
        # Cut where a whole employer's worth is missing from both, keeping the mix.
        over = len(enrollment) + len(claims) - self.events
        if over > 0:
            cut_enrollment = over * len(enrollment) // (len(enrollment) + len(claims))
            enrollment = enrollment[:len(enrollment) - cut_enrollment]
            claims = claims[:len(claims) - (over - cut_enrollment)]
        return enrollment, claims


def publish(appends: list[Append], service: str, log: EventLog, topics: Topics) -> int:
    """Through the service's own path: EventStore.append in transactions, then OutboxRelay."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-scaleout-{service}-"))
    engine = make_engine(f"sqlite:///{folder / f'{service}.db'}")
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    ctx = Context(actor="bench")
    for start in range(0, len(appends), APPENDS_PER_TRANSACTION):
        with sessions() as session, session.begin():
            store = EventStore(session, topics.of(service))
            for a in appends[start:start + APPENDS_PER_TRANSACTION]:
                store.append(a.aggregate_type, a.aggregate_id, a.expected_version, list(a.events), ctx)
    sent = OutboxRelay(sessions, log, service, batch_size=5_000).drain()
    engine.dispose()
    return sent
