"""PDF rendering of a written decision: one template per kind, in Chinese, deterministic (the
same facts give the same bytes, so the hash recorded at issue can be checked again).

Font: WenQuanYi Micro Hei from Debian's `fonts-wqy-microhei` (embedded as a subset, so the text
can be read back); where it is not installed, the Adobe-GB1 font STSong-Light that reportlab
ships (not embedded: a PDF reader supplies it). Which one a document used is in its facts.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT_FILES = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),)
FUND = "工伤保险基金"
MAX_LINES = 60  # lines of a payment advice shown; the total always covers them all
_font: str | None = None


def font() -> str:
    """The font name registered with reportlab, once per process."""
    global _font
    if _font is None:
        for path in FONT_FILES:
            if path.exists():
                pdfmetrics.registerFont(TTFont("WQYMicroHei", str(path), subfontIndex=0))
                _font = "WQYMicroHei"
                break
        else:
            pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
            _font = "STSong-Light"
    return _font


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    sha256: str
    title: str


KIND_LABEL = {"accident": "事故伤害", "occupational_disease": "职业病", "death": "因工死亡"}
DECISION = {"recognized": "认定为工伤", "deemed": "视同工伤", "rejected": "不予认定为工伤"}
CARE = {"none": "不需要生活护理", "partial": "生活部分不能自理", "mostly": "生活大部分不能自理",
        "full": "生活完全不能自理"}
BENEFIT = {"medical": "工伤医疗费", "meal_subsidy": "住院伙食补助费", "treatment_leave_wage": "停工留薪期工资",
           "treatment_leave_care": "停工留薪期护理费", "disability_grant": "一次性伤残补助金",
           "disability_allowance": "伤残津贴", "disability_allowance_5_6": "伤残津贴",
           "care_allowance": "生活护理费", "termination_medical_grant": "一次性工伤医疗补助金",
           "termination_employment_grant": "一次性伤残就业补助金", "funeral_grant": "丧葬补助金",
           "survivor_pension": "供养亲属抚恤金", "death_grant": "一次性工亡补助金",
           # a payout's deduction for an overpayment of this claim (payments/payouts/recovery.py)
           "overpayment_recovery": "抵扣多支付的工伤保险待遇"}


def _recognition(f: dict[str, Any]) -> tuple[str, list[str]]:
    decision = f["decision"]
    article = "《工伤保险条例》第十四条、第十五条" if decision != "rejected" else "《工伤保险条例》第十六条"
    return "工伤认定决定书", [
        f"编号：{f['document_id']}",
        f"职工：{f['worker_name']}（{f['employee_id']}）",
        f"用人单位：{f['employer_name']}（{f['employer_id']}）",
        f"统筹地区：{f['region']}",
        f"事故类别：{KIND_LABEL.get(f['kind'], f['kind'])}；发生日期：{f['occurred_on']}；申请日期：{f['applied_on']}",
        f"事实：{f['description'] or '—'}",
        f"决定：经审查，{f['worker_name']}于{f['occurred_on']}受到的伤害，{DECISION[decision]}。",
        f"决定日期：{f['decided_on']}",
        f"依据：{article}（{f['basis'] or 'R.14'}）",
        "如不服本决定，可自收到之日起六十日内申请行政复议，或六个月内提起行政诉讼（第五十五条）。",
    ]


def _appraisal(f: dict[str, Any]) -> tuple[str, list[str]]:
    grade = f["grade"]
    conclusion = f"伤残{_cn_grade(grade)}级" if grade else "未达到伤残等级"
    return "劳动能力鉴定结论书", [
        f"编号：{f['document_id']}",
        f"职工：{f['worker_name']}（{f['employee_id']}）",
        f"用人单位：{f['employer_name']}（{f['employer_id']}）",
        f"鉴定结论：{conclusion}（等级 {grade if grade else '无'}）；护理依赖：{CARE.get(f['care_level'], f['care_level'])}",
        f"结论日期：{f['concluded_on']}{'（再次鉴定）' if f.get('reappraisal') else ''}",
        "依据：《工伤保险条例》第二十一条至第二十八条",
        *([f"缴费工资（本人工资）：{f['insured_wage']} 元/月，伤残待遇按第三十五条至第三十七条以此计发"]
          if f.get("insured_wage") else []),
        "如不服本结论，可自收到之日起十五日内向省级劳动能力鉴定委员会申请再次鉴定（第二十六条）。",
    ]


ROUTE = {"reconsideration": ("行政复议", "《工伤保险条例》第五十五条", "R.55", "行政复议决定通知书"),
         "litigation": ("行政诉讼", "《工伤保险条例》第五十五条", "R.55", "行政诉讼裁判结果通知书"),
         "appraisal_committee": ("再次鉴定", "《工伤保险条例》第二十六条", "R.26", "再次鉴定结论通知书")}
OUTCOME = {"upheld": "维持原决定", "overturned": "撤销原决定", "modified": "变更原决定"}
LODGED_BY = {"worker": "职工", "employer": "用人单位"}


def _conclusion(grade: int | None, care_level: str | None) -> str:
    shown = f"伤残{_cn_grade(grade)}级（等级 {grade}）" if grade else "未达到伤残等级"
    return f"{shown}，{CARE.get(care_level or '', care_level or '—')}"


def _appeal(f: dict[str, Any]) -> tuple[str, list[str]]:
    """The decision on an appeal: the route and its article, what was disputed, the outcome and,
    overturned or modified, what replaces the disputed decision or conclusion from its own date."""
    route, article, rule, title = ROUTE[f["route"]]
    recognition = f["subject"] == "recognition"
    if recognition:
        disputed = f"工伤认定决定（{f.get('disputed_on') or f['replaces_from']}）：" \
                   f"{DECISION.get(f.get('disputed_decision') or '', '—')}"
        replaced = DECISION.get(f.get("decision") or "", "—")
    else:
        disputed = f"劳动能力鉴定结论（{f.get('disputed_on') or f['replaces_from']}）：" \
                   f"{_conclusion(f.get('disputed_grade'), f.get('disputed_care_level'))}" \
            if f.get("disputed_care_level") else f"劳动能力鉴定结论（{f['replaces_from']}）"
        replaced = _conclusion(f.get("grade"), f.get("care_level"))
    outcome = OUTCOME[f["outcome"]]
    return title, [
        f"编号：{f['document_id']}",
        f"案号：{f['appeal_id']}",
        f"职工：{f['worker_name']}（{f['employee_id']}）",
        f"用人单位：{f['employer_name']}（{f['employer_id']}）",
        f"途径：{route}（{rule}）",
        f"申请日期：{f.get('lodged_on') or '—'}；申请人：{LODGED_BY.get(f.get('lodged_by') or '', '—')}",
        f"争议事项：{disputed}",
        f"决定：{outcome}。" + ("" if f["outcome"] == "upheld" else
                              f"自{f['replaces_from']}起，{'认定结果' if recognition else '鉴定结论'}为：{replaced}。"),
        f"决定日期：{f['decided_on']}",
        f"依据：{article}（{rule}）",
        *(["本结论为最终结论（第二十六条）。"] if f["route"] == "appraisal_committee" else []),
    ]


def _advice(f: dict[str, Any]) -> tuple[str, list[str]]:
    lines = [f"  {BENEFIT.get(x['kind'], x['kind'])}  {x['amount']} 元"
             for x in f["lines"][:MAX_LINES]]
    more = len(f["lines"]) - MAX_LINES
    return "工伤保险待遇支付通知书", [
        f"编号：{f['document_id']}",
        f"收款人：{f['worker_name']}（{f['employee_id']}）",
        f"用人单位：{f['employer_name']}（{f['employer_id']}）",
        f"支付批次：{f['run_id']}；支付编号：{f['payout_id']}；到账日期：{f['settled_on']}",
        "支付明细：", *lines, *([f"  另有 {more} 项，合计已计入下方金额"] if more > 0 else []),
        f"本案件本次支付合计：{f['amount']} 元",
        "依据：《工伤保险条例》第三十条至第三十九条（各项待遇的条款见明细）",
    ]


TEMPLATES = {"recognition": _recognition, "appraisal": _appraisal, "appeal_decision": _appeal,
             "payment_advice": _advice}


def _cn_grade(grade: int) -> str:
    return "一二三四五六七八九十"[grade - 1] if 1 <= grade <= 10 else str(grade)


def render(kind: str, facts: dict[str, Any]) -> Rendered:
    """The document of `kind` from its facts (they name the fund, the parties, the decision, the
    article and the amounts, and carry `verification_code`)."""
    title, body = TEMPLATES[kind](facts)
    name = font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(f"{facts['region']} {FUND}")
    width, height = A4
    c.setFont(name, 18)
    c.drawCentredString(width / 2, height - 30 * mm, title)
    c.setFont(name, 11)
    c.drawCentredString(width / 2, height - 38 * mm, f"{facts['region']} {FUND}")
    y = height - 52 * mm
    for line in body:
        for part in _wrap(line, 44):
            if y < 30 * mm:
                c.showPage()
                c.setFont(name, 11)
                y = height - 25 * mm
            c.drawString(22 * mm, y, part)
            y -= 7 * mm
    c.setFont(name, 10)
    c.drawString(22 * mm, 20 * mm, f"验证码：{facts['verification_code']}  签发日期：{facts['issued_on']}  "
                                   f"（可凭验证码向经办机构核验本文书）")
    c.showPage()
    c.save()
    pdf = out.getvalue()
    return Rendered(pdf, hashlib.sha256(pdf).hexdigest(), title)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters (Chinese has no spaces to break at)."""
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def verification_code(source_event_id: str, kind: str, claim_id: str) -> str:
    """Twelve characters from the document's identity, grouped for reading aloud."""
    digest = hashlib.sha256(f"{source_event_id}|{kind}|{claim_id}".encode()).hexdigest().upper()[:12]
    return "-".join(digest[i:i + 4] for i in range(0, 12, 4))
