"""Every service keeps the policy versions in its own database, projected from the enrollment
service's PolicyPublished events, and resolves the one in force from there."""
from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from libs.events.consumer import Projection, rows_hash
from libs.events.envelope import Envelope
from libs.events.tables import policy_versions

NATIONAL = "000000"


class PoliciesProjection(Projection):
    name = "policies"
    sources = ("enrollment",)
    tables = (policy_versions,)

    def on_PolicyPublished(self, session: Session, e: Envelope) -> None:
        p = e.payload
        exists = session.execute(
            select(policy_versions.c.version).where(
                policy_versions.c.region == p["region"], policy_versions.c.version == p["version"])
        ).first()
        if exists:
            return
        session.execute(insert(policy_versions).values(
            region=p["region"], version=p["version"], effective_from=date.fromisoformat(p["effective_from"]),
            document=json.dumps(p["document"], sort_keys=True, ensure_ascii=False), event_id=str(e.event_id)))

    def reset(self, session: Session) -> None:
        session.execute(delete(policy_versions))

    @staticmethod
    def has_national_default(session: Session) -> bool:
        return session.execute(select(policy_versions.c.version).where(
            policy_versions.c.region == NATIONAL).limit(1)).first() is not None

    def state_hash(self, session: Session) -> str:
        return rows_hash(session, select(policy_versions).order_by(policy_versions.c.region, policy_versions.c.version))


def policy_in_force(session: Session, region: str, on: date):  # noqa: ANN201 - PolicyVersion
    """The version in force in `region` on `on` (the latest effective_from ≤ on, then the highest
    version), falling back to the national default `000000`; None if there is none."""
    for candidate in (region, NATIONAL) if region != NATIONAL else (NATIONAL,):
        row = session.execute(
            select(policy_versions)
            .where(policy_versions.c.region == candidate, policy_versions.c.effective_from <= on)
            .order_by(policy_versions.c.effective_from.desc(), policy_versions.c.version.desc())
            .limit(1)
        ).first()
        if row is not None:
            return _version(row)
    return None


def policies_in_force(session: Session, region: str, days: list[date]) -> dict:  # noqa: ANN201
    """`policy_in_force` on each of `days` (day → version or None), from one read of the versions."""
    candidates = (region, NATIONAL) if region != NATIONAL else (NATIONAL,)
    rows = session.execute(select(policy_versions).where(
        policy_versions.c.region.in_(candidates), policy_versions.c.effective_from <= max(days))).all()
    out = {}
    for day in days:
        found = None
        for candidate in candidates:  # the latest effective_from, then the highest version
            found = max((r for r in rows if r.region == candidate and r.effective_from <= day),
                        key=lambda r: (r.effective_from, r.version), default=None)
            if found is not None:
                break
        out[day] = _version(found) if found is not None else None
    return out


def _version(row):  # noqa: ANN001, ANN202 - a row of policy_versions → PolicyVersion
    from libs.policy.resolve import PolicyVersion

    return PolicyVersion(region=row.region, effective_from=row.effective_from, version=row.version,
                         document=stored_document(row.document), event_id=row.event_id)


@lru_cache(maxsize=256)
def stored_document(text: str):  # noqa: ANN202 - PolicyDocument
    """A stored version's document, validated once per text (documents are frozen): every
    assessment and statement asks for one, and validating a whole policy costs milliseconds."""
    from libs.policy.document import PolicyDocument

    return PolicyDocument.model_validate(json.loads(text))


def policy_ref(version) -> dict:  # noqa: ANN001 - PolicyVersion
    """The `policy_ref` events carry: which version a computation used."""
    return {"region": version.region, "effective_from": version.effective_from.isoformat(), "version": version.version}
