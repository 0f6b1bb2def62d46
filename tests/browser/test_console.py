"""The operator console in a real browser with no way out (headless Chromium driven by Playwright,
as tests/browser/test_api_docs.py): a maker signs in with a personal token, works a claim through
recognition and appraisal, opens an amount's explanation, the employer, the fund and the
operations pages, and proposes a payment run; a checker, another person, approves it and takes a
bank file. On every page: nothing loaded from outside, no script error, no Content-Security-Policy
violation, and axe-core finds no serious or critical accessibility violation. Screenshots go to
tests/output/console-<runtime>-<page>.png (not committed)."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import httpx
import pytest

from libs.identifiers import make_id_number, make_uscc
from libs.policy import load_national_default
from tests.conftest import AGENCY_TOKEN, new_unique
from tests.payments.payouts.support import FUND

from .test_api_docs import OUTPUT, WAIT_MS, browser, server  # noqa: F401 - the fixtures, reused

pytestmark = pytest.mark.browser
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
AXE_PATH = "/console/__test__/axe.min.js"  # served by the test's own route, so the page's CSP admits it


def setup_claim(base: str) -> dict:
    """A region of the test's own with a policy, an employer, a worker with twelve months of wages
    and an account, an applied claim, and two personal agency tokens (maker and checker)."""
    region_of_test = new_unique()
    n, region = region_of_test.n % 10**4, region_of_test.region
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}, timeout=120) as api:
        def ok(r: httpx.Response) -> dict:
            assert r.status_code < 300, r.text
            return r.json()

        doc = load_national_default().model_dump(mode="json")
        doc.update({"average_monthly_wage": "8000.00", "minimum_monthly_wage": "2360.00", "fund_account": FUND})
        ok(api.put(f"/v1/policies/{region}/2024-01-01", json=doc))
        employer = ok(api.post("/v1/employers", json={
            "uscc": make_uscc(f"91{region}{n:08d}"), "name": "珠江五金制品有限公司", "industry_code": "C3311",
            "region": region, "enrolled_on": "2024-12-01"}))
        id_number = make_id_number(region, date(1980, 5, 17), 123)
        worker = ok(api.post(f"/v1/employers/{employer['employer_id']}/employees", json={
            "id_number": id_number, "name": "李雷", "hired_on": "2024-12-01",
            "bank_account": {"bank_code": "102584000001", "account_no": "6222020200012345678", "holder": "李雷"}}))
        for month in range(1, 13):
            report = ok(api.post("/v1/wage-reports", json={
                "employer_id": employer["employer_id"], "period": f"2025-{month:02d}",
                "lines": [{"id_number": id_number, "wage": "9000.00"}]}))
            if month < 11:  # paid on time except the last two months: arrears for the fund's charts
                ok(api.post("/v1/contribution-payments", json={"employer_id": employer["employer_id"],
                                                               "amount": report["contribution_due"],
                                                               "paid_on": report["due_date"]}))
        claim = ok(api.post("/v1/claims", json={
            "employer_id": employer["employer_id"], "employee_id": worker["employee_id"], "kind": "accident",
            "occurred_on": "2026-01-10", "applied_on": "2026-01-20", "applicant": "employer",
            "description": "手被冲床压伤"}))
        tokens = {who: ok(api.post("/v1/clients", json={"name": f"console {who}", "role": "agency",
                                                        "person": f"{who}-{n}"}))["token"]
                  for who in ("maker", "checker")}
    return {"region": region, "employer_id": employer["employer_id"], "claim_id": claim["claim_id"], **tokens}


class Visit:
    """One person's browser on the console, behind a closed network: records what the pages ask
    of the outside, their script errors and their CSP violations, and checks each page with axe."""

    def __init__(self, browser, base: str, kind: str) -> None:  # noqa: ANN001
        self.base, self.kind = base, kind
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        self.outside: list[str] = []
        self.errors: list[str] = []
        axe = AXE.read_text()

        def gate(route) -> None:  # noqa: ANN001
            url = route.request.url
            if url == f"{base}{AXE_PATH}":
                route.fulfill(status=200, content_type="application/javascript", body=axe)
            elif url.startswith(f"{base}/"):
                route.continue_()
            else:
                self.outside.append(url)
                route.abort()

        self.context.route(re.compile(".*"), gate)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" or "Content Security Policy" in m.text else None)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def check(self, name: str) -> None:
        """A screenshot, then axe-core: no serious or critical violation on this page."""
        self.page.wait_for_load_state("networkidle")
        OUTPUT.mkdir(exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"console-{self.kind}-{name}.png"), full_page=True)
        self.page.add_script_tag(url=f"{self.base}{AXE_PATH}")
        result = self.page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
        }""")
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: {serious}"
        assert self.outside == [] and self.errors == [], (name, self.outside, self.errors)

    def sign_in(self, token: str) -> None:
        self.open("/console/sign-in")
        self.check("sign-in")
        self.page.get_by_label(re.compile("个人经办令牌")).fill(token)
        self.page.get_by_role("button", name="登录").click()
        self.page.get_by_role("heading", level=1).filter(has_text="案件工作清单").wait_for()

    def close(self) -> None:
        self.context.close()


def test_a_claim_worked_and_a_run_approved_by_a_second_person(browser, server) -> None:  # noqa: ANN001, F811
    kind, base = server
    data = setup_claim(base)
    maker = Visit(browser, base, kind)
    try:
        maker.sign_in(data["maker"])
        # the worklist of the region, by deadline: the claim is there, awaiting its decision
        maker.page.get_by_label("统筹地区").fill(data["region"])
        maker.page.get_by_role("button", name="筛选").click()
        maker.page.get_by_role("link", name=data["claim_id"]).wait_for()
        maker.check("worklist")
        maker.page.get_by_role("link", name=data["claim_id"]).click()

        # recognition, then appraisal, through the claim's forms
        maker.page.get_by_label("决定", exact=True).select_option("recognized")
        maker.page.get_by_label("决定日期").fill("2026-02-01")
        maker.page.get_by_role("button", name="提交").click()
        maker.page.get_by_role("status").filter(has_text="已保存").wait_for()
        assert "已认定" in maker.page.locator("h1").inner_text()
        maker.page.get_by_label("伤残等级").select_option("3")
        maker.page.get_by_label("护理等级").select_option("partial")
        maker.page.get_by_label("鉴定结论日期").fill("2026-05-04")
        maker.page.get_by_role("button", name="提交").click()
        maker.page.get_by_role("status").filter(has_text="已保存").wait_for()
        assert "已鉴定" in maker.page.locator("h1").inner_text()
        # the entitlements, as a chart and a table; an amount's explanation one click away
        table = maker.page.locator("section", has=maker.page.get_by_role("heading", name="待遇（按月）"))
        assert table.get_by_role("cell", name="207000.00").count() == 1  # R.35: 23 months × 9000.00
        assert maker.page.locator("canvas[data-chart]").count() == 1
        table.get_by_role("button", name="查看说明").first.click()
        maker.page.locator("#explain .explain").wait_for()
        assert "计算说明" in maker.page.locator("#explain").inner_text()
        maker.check("claim")

        maker.page.get_by_role("link", name=data["employer_id"]).first.click()
        maker.page.get_by_role("heading", name="缴费账户", exact=False).wait_for()
        maker.check("employer")
        maker.open(f"/console/funds?region={data['region']}&to=2026-06-30")
        assert maker.page.locator("canvas[data-chart]").count() == 4
        maker.check("fund")
        maker.open("/console/ops")
        maker.check("ops")

        # the maker proposes June's run; the page shows it proposed, the maker cannot approve it
        maker.open(f"/console/payment-runs?region={data['region']}")
        maker.page.get_by_label("期间").fill("2026-06")
        maker.page.get_by_role("button", name="生成支付批次（提议）").click()
        maker.page.get_by_role("heading", level=1).filter(has_text="待复核").wait_for()
        assert maker.page.get_by_role("button", name="复核通过").is_disabled()
        run_path = maker.page.url.removeprefix(base)
        maker.check("run-proposed")
    finally:
        maker.close()

    checker = Visit(browser, base, kind)
    try:
        checker.sign_in(data["checker"])
        checker.open(run_path)
        assert "226200.00" in checker.page.locator("dl.facts").inner_text()  # 207000 + 2 × (7200 + 2400)
        checker.page.get_by_label("备注").fill("核对无误")
        checker.page.get_by_role("button", name="复核通过").click()
        checker.page.get_by_role("heading", level=1).filter(has_text="已复核").wait_for()
        assert "核对无误" in checker.page.locator("dl.facts").inner_text()
        checker.check("run-approved")
        with checker.page.expect_download() as download:
            checker.page.get_by_role("link", name="pain.001 (102)").click()
        xml = Path(download.value.path()).read_text()
        assert "<CtrlSum>226200.00</CtrlSum>" in xml
        checker.page.get_by_role("link", name="English").click()
        checker.page.get_by_role("heading", level=1).filter(has_text="Approved").wait_for()
        checker.check("run-approved-en")
    finally:
        checker.close()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {AGENCY_TOKEN}"}) as api:
        run_id = run_path.rsplit("/", 1)[1]
        trail = [e["type"] for e in api.get("/v1/events", params={"aggregate_id": run_id}).json()["items"]]
    assert trail == ["PaymentRunCreated", "PaymentRunApproved", "PaymentRunFileReleased"]
