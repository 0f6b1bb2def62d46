"""New claim ids: "clm_", a time-ordered head, 64 random bits (`libs.events.envelope.time_ordered_ids`,
as workers' and employers'); ascending in the order they are made, so a go-live's claims land at the
right edge of every index keyed by claim — and within every column and pattern an id of a claim, or
one made from it, goes into."""
from __future__ import annotations

import re
import uuid

from libs.events.envelope import MAX_ID_LEN
from services.claims.handlers import new_claim_id
from services.payments.entitlements.api import ID as PAYMENTS_ID
from services.payments.entitlements.engine import line_id

SHAPE = re.compile(r"clm_[0-9a-f]{31}")  # 15 hex digits of milliseconds and counter, 16 of random bits
OLD_SHAPE = re.compile(r"clm_[0-9a-f]{20}")  # the ids made before: still in the books


def test_a_claim_id_and_the_ids_made_from_it_fit_their_columns_and_patterns() -> None:
    made = [new_claim_id() for _ in range(4)]
    assert all(SHAPE.fullmatch(i) for i in made), made
    for claim_id in made:
        assert len(claim_id) == 35 and re.fullmatch(PAYMENTS_ID, claim_id)  # the routes' {claim_id}
        assert len(claim_id) <= MAX_ID_LEN  # an aggregate id (String(64) everywhere a claim id is kept)
        dependent, appeal = f"{claim_id}-d12", f"{claim_id}-a12"  # services.claims.domain.model
        assert len(dependent) <= 64 and len(f"dependent:{dependent}") <= 80  # a payee: String(80)
        assert len(appeal) <= 80  # claim_appeals.appeal_id
        assert len(f"{uuid.uuid4()}:{claim_id}") <= 80  # claim_documents.source_event_id
        assert len(f"devices-{claim_id}") <= MAX_ID_LEN  # the care part's aggregate of a claim's devices
        # a line's id digests the claim id: the same width whatever the claim id's shape
        assert len(line_id(claim_id, ("disability_allowance", f"employee:ee_{'0' * 31}", "2026-05", "fund"),
                           "point", 100)) == 35


def test_claim_ids_ascend_in_the_order_they_are_made() -> None:
    made = [new_claim_id() for _ in range(6_000)]  # an import's claims: one a row
    assert made == sorted(made) and len(set(made)) == len(made)
    assert len({i[-16:] for i in made}) == len(made)  # 64 random bits each


def test_the_ids_made_before_are_still_claim_ids() -> None:
    """Nothing reads meaning out of a claim id: the old shape passes every check the new one does."""
    old = "clm_" + uuid.uuid4().hex[:20]
    assert OLD_SHAPE.fullmatch(old) and re.fullmatch(PAYMENTS_ID, old) and not SHAPE.fullmatch(old)
