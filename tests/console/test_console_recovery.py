"""A payment run that keeps back an overpayment shows it in the console as the API does: each
payout's gross, what is kept back and what is paid, and the run's total kept back (both runtimes).
The scenario and its figures are test_recovery's first one, worked by hand there."""
from __future__ import annotations

import re

import pytest

from tests.payments.payouts.test_recovery import lodge_and_rule, overpayments_of, paid_claim, propose, second_claim
from tests.claims.support import new_region

from .support import signed_in

pytestmark = pytest.mark.both_runtimes


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


def cells(html: str, heading_id: str) -> list[list[str]]:
    """The rows of the tables in the section headed by `heading_id`, as text cells."""
    part = section(html, heading_id)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)]


def test_the_run_page_shows_what_is_kept_back_of_each_payout(api, unique) -> None:  # noqa: ANN001
    region = new_region(api)
    employee_id, claim_a, payee = paid_claim(api, region)
    lodge_and_rule(api, claim_a, "recognition", "litigation", "2026-07-31", "2026-09-30", decision="rejected")
    second_claim(api, claim_a, employee_id, 1)
    run = propose(api, region, "2026-08")
    [over] = overpayments_of(api, payee)

    desk, _ = signed_in(api, f"recovery-desk-{unique.n}")
    page = desk.get(f"/console/payment-runs/{run['run_id']}")
    assert page.status_code == 200, page.text[:500]
    # 251100.00 gross, 226200.00 kept back for the revoked claim's May and June, 24900.00 paid.
    kept = section(page.text, "h-recoveries")
    assert re.findall(r"<dd>(.*?)</dd>", kept) == ["1", "226200.00"], kept
    [row] = [r for r in cells(page.text, "h-payouts") if payee in r]
    assert row[3:6] == ["251100.00", "226200.00", "24900.00"] and row[6] in ("待银行回执", "open", "待复核", "proposed"), row
    english = desk.get("/console/lang/en", params={"next": f"/console/payment-runs/{run['run_id']}"})
    assert "Overpayments kept back" in english.text and "Kept back" in english.text
    assert over["outstanding"] == "226200.00"  # proposed, not recorded: the page changed nothing
    assert overpayments_of(api, payee)[0]["outstanding"] == "226200.00"
