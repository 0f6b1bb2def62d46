"""Issue 12: a payment run planned inside the database (run_sql) against the ordinary path
(runs.plan_run, in Python, here in batches of 3 lines) on the same input: two databases filled
alike, one run each, and everything the runs wrote compared — payouts, member lines, line locks,
deductions, overpayments, events and outbox rows, the waiting payees and the totals. On SQLite
and on PostgreSQL. Then the streamed pain.001 files against the writer they replaced
(pain001_before.py), byte for byte, including values that need escaping or cutting.

The population covers every rule of the plan: one line or several per payee, lines that carry
the same account or different ones (the latest wins), a holder missing on some lines, nets at or
below zero, no account, registered accounts (employees, dependents, an id without a kind,
hospitals known or not) winning over the lines' own, holds (on the account paid, on another
account, before and after the account changed), overpayments kept back in part or whole, one
recognized by the run itself, and lines no run may pay (another region, a later month, the
employer's, settled outside, already taken)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree
from sqlalchemy import func, insert, select, update

from libs.db import make_engine, migrate, session_factory
from libs.events.log import Topics
from libs.events.tables import events
from libs.runtime.service import ServiceContext
from libs.settings import Settings
from libs.web.auth import Principal
from services.payments.payouts import pain001, runs, xsd
from services.payments.payouts.tables import (account_holds, entitlement_lines, hospitals, overpayment_deductions,
                                              overpayments, payee_accounts, payout_lines, payout_members, payouts)

from . import pain001_before
from .support import FUND, REGION, _lines_ddl

AGENCY = Principal("maker", "agency", person="maker")
PERIOD = "2026-03"
KNOWN = datetime(2026, 3, 1, tzinfo=timezone.utc)
LONG = "-0123456789abcdef"  # a payout id of 40 characters: EndToEndId takes 35
BANK_A, BANK_B, BANK_C = "102584000002", "103584000003", "105584000005"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_ledgers(request, tmp_path):  # noqa: ANN001, ANN201
    """Two empty payments databases of one kind: (ordinary, in_database)."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}.db" for name in ("ordinary", "in_database")]
    else:
        server = request.getfixturevalue("postgres")
        urls = [server.fresh_database(f"il_runsql_{name}_{uuid.uuid4().hex[:8]}") for name in ("o", "d")]
    ctxs = []
    for url in urls:
        engine = make_engine(url)
        migrate(engine, "payments")
        _lines_ddl.create(engine, checkfirst=True)
        ctxs.append(ServiceContext(name="payments", settings=Settings(), engine=engine,
                                   session_factory=session_factory(engine), topics=Topics()))
    yield ctxs
    for ctx in ctxs:
        ctx.engine.dispose()


def _line(line_id: str, payee: str, amount_fen: int, bank_code: str | None = BANK_A,
          account_no: str | None = "6217000000000001", holder: str | None = "张三", **kw) -> dict:
    row = {"line_id": line_id, "claim_id": f"clm-{payee.split(':')[-1]}", "employer_id": "emp-1", "region": REGION,
           "kind": "disability_allowance", "family": "long_term", "period": "2026-02", "period_start": None,
           "period_end": None, "amount_fen": amount_fen, "payer": "fund", "payee": payee, "bank_code": bank_code,
           "account_no": account_no, "holder": holder if bank_code else None, "adjusts": None, "reason": None,
           "known_at": KNOWN, "explain_json": "{}", "policy_ref_json": "{}", "source_event_ids_json": "[]",
           "settled_outside": None}
    return {**row, **kw}


def _population() -> dict[str, list[dict]]:
    lines = [_line(f"s-{n:02d}", f"employee:s{n:02d}", 10_000 + 137 * n, bank_code=(BANK_A, BANK_B, BANK_C)[n % 3],
                   account_no=f"62170000{n:08d}") for n in range(30)]
    lines += [
        # several lines, one account (one of them negative); some lines without an account
        _line("m1-a", "employee:m1", 1_000), _line("m1-b", "employee:m1", 2_000), _line("m1-c", "employee:m1", -500),
        _line("m2-a", "employee:m2", 4_000, bank_code=BANK_B), _line("m2-b", "employee:m2", 1_500, bank_code=None),
        # different accounts: the latest known wins (decided in Python)
        _line("d1-a", "employee:d1", 3_000, account_no="6217000000000011"),
        _line("d1-b", "employee:d1", 3_100, account_no="6217000000000012", known_at=KNOWN + timedelta(days=2)),
        _line("d1-c", "employee:d1", 3_200, account_no="6217000000000013", known_at=KNOWN + timedelta(days=1)),
        # a holder missing on one line: differs from a named one, not from an empty one
        _line("d2-a", "employee:d2", 2_500, holder=None), _line("d2-b", "employee:d2", 2_600, holder="李四"),
        _line("d3-a", "employee:d3", 2_700, holder=None), _line("d3-b", "employee:d3", 2_800, holder=""),
        # nets at or below zero; no account at all
        _line("n1-a", "employee:n1", 1_000), _line("n1-b", "employee:n1", -3_000),
        _line("n0-a", "employee:n0", 500), _line("n0-b", "employee:n0", -500),
        _line("x1-a", "employee:x1", 9_000, bank_code=None, account_no=None),
        _line("x2-a", "employee:x2", 9_100, bank_code="", account_no="6217"),
        # registered accounts
        _line("r1-a", "employee:r1", 5_000), _line("r2-a", "employee:r2", 5_100),
        _line("r3-a", "employee:r3", 5_200, bank_code=None, account_no=None), _line("r4-a", "r4", 5_300),
        _line("dp-a", "dependent:dp1", 5_400, bank_code=None, account_no=None),
        _line("h1-a", "hospital:H1", 70_000), _line("h2-a", "hospital:H2", 71_000, bank_code=BANK_C),
        _line("h3-a", "hospital:H3", 72_000, bank_code=None, account_no=None),
        # holds
        _line("k1-a", "employee:k1", 6_000, account_no="6217000000000021"),
        _line("k2-a", "employee:k2", 6_100), _line("k3-a", "employee:k3", 6_200),
        _line("k4-a", "employee:k4", 6_300, account_no="6217000000000024"),
        # overpayments outstanding: kept back in part, in whole, two at once
        _line("o1-a", "employee:o1", 1_000), _line("o2-a", "employee:o2", 2_000), _line("o2-b", "employee:o2", 500),
        _line("o4-a", "employee:o4", 10_000),
        # an overpayment the run recognizes: a month the old system paid, taken back in part
        _line("v1-old", "employee:v1", 1_000, period="2026-01", settled_outside="old system"),
        _line("v1-neg", "employee:v1", -400, period="2026-01", adjusts=json.dumps(["v1-old"])),
        _line("v1-feb", "employee:v1", 2_000),
        # never in this run
        _line("z-region", "employee:s01", 1_234, region="510100"),
        _line("z-later", "employee:s02", 1_234, period="2026-04"),
        _line("z-employer", "employee:s03", 1_234, payer="employer"),
        _line("z-outside", "employee:s04", 1_234, settled_outside="old system"),
        _line("z-taken", "employee:s05", 1_234),
        # the run's own month (copied apart from the months before): beside earlier lines, alone, held
        *(_line(f"s-{n:02d}-mar", f"employee:s{n:02d}", 20_000 + n, period=PERIOD) for n in range(0, 30, 3)),
        _line("q1-mar", "employee:q1", 3_300, period=PERIOD),
        _line("z-taken-mar", "employee:s07", 1_234, period=PERIOD),
    ]
    before = KNOWN - timedelta(days=10)
    return {
        "lines": lines,
        "accounts": [
            {"payee": "employee:r1", "bank_code": BANK_C, "account_no": "6222000000000001", "holder": "王五",
             "changed_at": before},
            {"payee": "employee:r2", "bank_code": BANK_C, "account_no": "", "holder": "王五", "changed_at": before},
            {"payee": "employee:r3", "bank_code": BANK_B, "account_no": "6222000000000003", "holder": None,
             "changed_at": before},
            {"payee": "employee:r4", "bank_code": BANK_A, "account_no": "6222000000000004", "holder": "赵六",
             "changed_at": before},
            {"payee": "dependent:dp1", "bank_code": BANK_B, "account_no": "6222000000000005", "holder": "孙七",
             "changed_at": before},
            {"payee": "employee:k2", "bank_code": BANK_B, "account_no": "6222000000000022", "holder": "周八",
             "changed_at": KNOWN},  # changed after its hold: paid
            {"payee": "employee:k3", "bank_code": BANK_B, "account_no": "6222000000000023", "holder": "吴九",
             "changed_at": before},  # held since: waits
        ],
        "hospitals": [{"hospital_id": "H1", "name": "Hospital H1", "region": REGION, "bank_code": BANK_A,
                       "account_no": "4000023409200123", "holder": "医院 H1 & Co <east>",
                       "account_changed_at": before,
                       "kind": "hospital"}],
        "holds": [
            {"payee": "employee:k1", "bank_code": BANK_A, "account_no": "6217000000000021", "reason": "AC04",
             "payout_id": "po_old1", "held_at": before},
            {"payee": "employee:k2", "bank_code": BANK_B, "account_no": "6222000000000022", "reason": "AC04",
             "payout_id": "po_old2", "held_at": before},
            {"payee": "employee:k3", "bank_code": BANK_B, "account_no": "6222000000000023", "reason": "MD07",
             "payout_id": "po_old3", "held_at": KNOWN},
            {"payee": "employee:k4", "bank_code": BANK_A, "account_no": "6217000000000099", "reason": "AC04",
             "payout_id": "po_old4", "held_at": KNOWN},  # another account than the one paid
        ],
        "overpayments": [_overpayment("ovp_o1", "employee:o1", 300, KNOWN),
                         _overpayment("ovp_o2", "employee:o2", 5_000, KNOWN),
                         _overpayment("ovp_o3", "employee:o3", 700, KNOWN),  # nothing payable: nothing kept
                         _overpayment("ovp_o4a", "employee:o4", 1_500, KNOWN),
                         _overpayment("ovp_o4b", "employee:o4", 2_500, KNOWN + timedelta(hours=1))],
        "taken": [{"payee": "employee:s05", "line_id": "z-taken", "payout_id": "po_earlier", "run_id": "run_earlier"},
                  {"payee": "employee:s07", "line_id": "z-taken-mar", "payout_id": "po_earlier", "run_id": "run_earlier"}],
    }


def _overpayment(overpayment_id: str, payee: str, fen: int, at: datetime) -> dict:
    return {"overpayment_id": overpayment_id, "region": REGION, "payee": payee, "claim_id": "clm-o",
            "employer_id": None,
            "run_id": "run_earlier", "recognized_on": at.date(), "recognized_at": at, "recovery_max_share": "1.00",
            "lines_json": "[]", "recognized_fen": fen, "recovered_fen": 0, "written_off_fen": 0,
            "outstanding_fen": fen, "status": "outstanding"}


def _fill(ctx: ServiceContext) -> None:
    rows = _population()
    with ctx.engine.begin() as conn:
        conn.execute(insert(entitlement_lines), rows["lines"])
        conn.execute(insert(payee_accounts), rows["accounts"])
        conn.execute(insert(hospitals), rows["hospitals"])
        conn.execute(insert(account_holds), rows["holds"])
        conn.execute(insert(overpayments), rows["overpayments"])
        conn.execute(insert(payout_lines), rows["taken"])


_IDS = re.compile(r"\b(po_|rcv_)[0-9a-f]{12}([0-9a-f]{8})\b")


def _same(value, run_id: str):  # noqa: ANN001, ANN202
    """A value with the run's own ids (run id, payout id prefix: random) made comparable."""
    if isinstance(value, str):
        return _IDS.sub(r"\1~\2", value.replace(run_id, "RUN"))
    return value


def _rows(session, table, run_id: str, *order, skip: tuple[str, ...] = ()) -> list[tuple]:  # noqa: ANN001
    return [tuple(_same(v, run_id) for k, v in r._mapping.items() if k not in skip)
            for r in session.execute(select(table).order_by(*order))]


def _written(ctx: ServiceContext, created: runs.RunCreated) -> dict:
    rid = created.run_id
    with ctx.session_factory() as s:
        return {
            "created": (created.count, created.total_fen, created.waiting_for_account,
                        created.waiting_net_not_positive),
            "payouts": sorted(_rows(s, payouts, rid, payouts.c.payout_id)),
            "members": sorted(_rows(s, payout_members, rid, payout_members.c.payout_id, payout_members.c.line_id)),
            "locks": sorted(_rows(s, payout_lines, rid, payout_lines.c.line_id)),
            "deductions": sorted(_rows(s, overpayment_deductions, rid, overpayment_deductions.c.holder_id,
                                       overpayment_deductions.c.overpayment_id)),
            "overpayments": sorted(_rows(s, overpayments, rid, overpayments.c.overpayment_id,
                                         skip=("recognized_at",))),
            "events": [(r.aggregate_type, _same(r.aggregate_id, rid), r.sequence, r.type, r.schema_version,
                        _same(r.payload, rid)) for r in s.execute(select(events).order_by(events.c.position))],
            "outbox": s.execute(select(func.count()).select_from(events).where(events.c.topic.is_not(None))).scalar_one(),
        }


def test_in_the_database_the_run_writes_what_the_ordinary_path_writes(two_ledgers, monkeypatch) -> None:  # noqa: ANN001
    ordinary_ctx, in_database_ctx = two_ledgers
    for ctx in two_ledgers:
        _fill(ctx)
    monkeypatch.setattr(runs, "RUN_BATCH_LINES", 3)  # the ordinary path in many batches
    ordinary = runs.create_run(ordinary_ctx, AGENCY, REGION, PERIOD, date(2026, 4, 1), in_database=False)
    in_database = runs.create_run(in_database_ctx, AGENCY, REGION, PERIOD, date(2026, 4, 1))
    mine, theirs = _written(in_database_ctx, in_database), _written(ordinary_ctx, ordinary)
    for key in theirs:
        assert mine[key] == theirs[key], key

    # what the population was made to show, worked by hand
    # payouts: (payout_id, run_id, payee, bank_code, bank_part, account_no, holder, amount_fen, ...)
    payees = {r[2]: r for r in mine["payouts"]}
    assert "employee:n1" not in payees and "employee:x1" not in payees and "employee:k1" not in payees
    assert payees["employee:m1"][7] == 2_500 and payees["employee:m2"][7] == 5_500
    assert payees["employee:d1"][5] == "6217000000000012"  # known last
    assert payees["employee:d2"][6] == "李四" and payees["employee:d3"][6] == ""
    assert payees["employee:r1"][5] == "6222000000000001" and payees["employee:r2"][5] == "6217000000000001"
    assert payees["employee:r3"][6] == "" and payees["r4"][5] == "6222000000000004"
    assert payees["dependent:dp1"][5] == "6222000000000005" and payees["hospital:H1"][6] == "医院 H1 & Co <east>"
    assert payees["hospital:H2"][3] == BANK_C and "hospital:H3" not in payees
    assert payees["employee:k2"][7] == 6_100 and "employee:k3" not in payees and payees["employee:k4"][7] == 6_300
    assert payees["employee:o1"][7] == 700 and "employee:o2" not in payees and payees["employee:o4"][7] == 6_000
    assert payees["employee:v1"][7] == 1_600  # 2,000 less the 400 the run recognized as overpaid
    waiting = mine["created"][2]
    assert [(w["payee"], w["reason"]) for w in waiting] == [
        ("employee:k1", "AC04"), ("employee:k3", "MD07"), ("employee:x1", "no_account"), ("employee:x2", "no_account"),
        ("hospital:H3", "no_account")]
    assert [w["payee"] for w in mine["created"][3]] == ["employee:n0", "employee:n1"]
    assert not {"z-region", "z-later", "z-employer", "z-outside", "z-taken", "z-taken-mar", "v1-neg"} \
        & {r[1] for r in mine["members"]}
    assert {"s-03-mar", "q1-mar"} <= {r[1] for r in mine["members"]}
    # overpayments: (overpayment_id, region, payee, claim_id, employer_id, run_id, ...)
    [recognized] = [r[0] for r in mine["overpayments"] if r[5] == "RUN"]
    kept = {(r[1], r[0][:4], r[6]) for r in mine["deductions"]}  # (overpayment, payout or rcv_, amount_fen)
    assert kept == {("ovp_o1", "po_~", 300), ("ovp_o2", "rcv_", 2_500), ("ovp_o4a", "po_~", 1_500),
                    ("ovp_o4b", "po_~", 2_500), (recognized, "po_~", 400)}
    assert mine["created"][0] == len(mine["payouts"]) and mine["created"][1] == sum(r[7] for r in mine["payouts"])


def _file(generate, ctx: ServiceContext, run_id: str, bank: str | None) -> bytes:  # noqa: ANN001
    with ctx.session_factory() as s:
        count, total = pain001.totals(s, run_id, bank)
    header = pain001.FileHeader(run_id, bank, count, total, date(2026, 4, 1),
                                datetime(2026, 3, 31, 8, 30, tzinfo=timezone.utc), FUND)
    return b"".join(generate(ctx.session_factory, header))


def test_the_streamed_file_is_the_one_the_old_writer_made(two_ledgers) -> None:  # noqa: ANN001
    ctx = two_ledgers[1]
    _fill(ctx)
    run_id = runs.create_run(ctx, AGENCY, REGION, PERIOD, date(2026, 4, 1)).run_id
    with ctx.session_factory() as s, s.begin():  # values that need escaping or cutting, as a bug could leave
        first, second = s.execute(select(payouts.c.payout_id)
                                  .where(payouts.c.run_id == run_id, payouts.c.bank_part == "102")
                                  .order_by(payouts.c.payout_id).limit(2)).scalars()
        s.execute(update(payouts).where(payouts.c.payout_id == first).values(
            holder="A & B <c> " + "长" * 130, account_no="62<17>&" + "9" * 27))
        s.execute(update(payouts).where(payouts.c.payout_id == second).values(payout_id=second + LONG))
        s.execute(update(payouts).where(payouts.c.holder == "").values(holder="无名"))  # else no file is valid
    for bank in (None, "102", "103", "105"):
        new, old = _file(pain001.pain001, ctx, run_id, bank), _file(pain001_before.pain001, ctx, run_id, bank)
        assert new == old, bank
        xsd.validate(new)
    doc = etree.fromstring(_file(pain001.pain001, ctx, run_id, "102"))
    ns = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"
    names = [e.text for e in doc.iter(f"{ns}Nm")]
    assert "A & B <c> " + "长" * 130 in names and len(names[-1]) <= 140
    assert len(second + LONG) == 40 and (second + LONG)[:35] in [e.text for e in doc.iter(f"{ns}EndToEndId")]


def test_an_id_with_and_without_its_kind_both_get_the_registered_account(two_ledgers) -> None:  # noqa: ANN001
    """`r9` and `employee:r9` in one batch of the ordinary path: both are the employee's record,
    so both are paid to its account, as in the database (the ordinary path once kept only one)."""
    before = KNOWN - timedelta(days=10)
    for ctx in two_ledgers:
        with ctx.engine.begin() as conn:
            conn.execute(insert(entitlement_lines), [
                _line("r9-a", "r9", 5_000, bank_code=None, account_no=None),
                _line("r9-b", "employee:r9", 6_000, bank_code=None, account_no=None)])
            conn.execute(insert(payee_accounts), [{"payee": "employee:r9", "bank_code": BANK_B,
                                                   "account_no": "6222000000000009", "holder": "郑十",
                                                   "changed_at": before}])
    ordinary_ctx, in_database_ctx = two_ledgers
    ordinary = runs.create_run(ordinary_ctx, AGENCY, REGION, PERIOD, date(2026, 4, 1), in_database=False)
    in_database = runs.create_run(in_database_ctx, AGENCY, REGION, PERIOD, date(2026, 4, 1))
    mine, theirs = _written(in_database_ctx, in_database), _written(ordinary_ctx, ordinary)
    for key in theirs:
        assert mine[key] == theirs[key], key
    # payouts: (payout_id, run_id, payee, bank_code, bank_part, account_no, holder, amount_fen, ...)
    assert sorted((r[2], r[3], r[5], r[6], r[7]) for r in theirs["payouts"]) == [
        ("employee:r9", BANK_B, "6222000000000009", "郑十", 6_000),
        ("r9", BANK_B, "6222000000000009", "郑十", 5_000)]
    assert theirs["created"][2] == []  # nobody waits for an account
