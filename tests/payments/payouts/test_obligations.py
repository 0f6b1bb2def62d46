"""What an employer owes itself (payer `employer`): listed with a notice naming the article."""
from __future__ import annotations

from .support import add_line


def test_employer_obligations_with_notice(pay, runtime) -> None:  # noqa: ANN001
    add_line(runtime, "w1", 812_345, payer="employer", payee="employee:ee-1", kind="treatment_leave_wage",
             family="short_term", period="2026-02", employer_id="emp-7")
    add_line(runtime, "w2", 100_000, payer="employer", payee="employee:ee-1", kind="termination_employment_grant",
             family="long_term", period="2026-03", employer_id="emp-7")
    add_line(runtime, "f1", 50_000, payer="fund", employer_id="emp-7")          # fund money: not an obligation
    add_line(runtime, "o1", 70_000, payer="employer", employer_id="emp-other")  # another employer
    body = pay.get("/v1/employers/emp-7/obligations").json()
    assert body["total"] == "9123.45"
    assert [(i["line_id"], i["amount"], i["what"], i["period"]) for i in body["items"]] == [
        ("w1", "8123.45", "treatment_leave_wage", "2026-02"), ("w2", "1000.00", "termination_employment_grant", "2026-03")]
    assert body["items"][0]["for_whom"] == "employee:ee-1" and body["items"][0]["article"] == "R.33"
    assert "8123.45 yuan" in body["items"][0]["text"]
    text = pay.get("/v1/employers/emp-7/obligations", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "Total: 9123.45 yuan." in text.text
    assert pay.get("/v1/employers/emp-nobody/obligations").json() == {"employer_id": "emp-nobody", "total": "0.00",
                                                                     "items": []}
