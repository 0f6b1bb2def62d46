"""The payout file the fund sends its bank: ISO 20022 `pain.001.001.09`, or CSV. Streamed.

The header's NbOfTxs and CtrlSum come from one aggregate query; the transactions are read in
batches from a server-side cursor and written as they come, so a run of a million payouts never
holds a million objects. One file per bank: `bank` is the CNAPS code's three-digit bank part
(a full 12-digit code is reduced to it).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from libs.db import driver_batches, driver_mark
from libs.money import yuan_str

from .tables import payouts

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
BATCH = 10_000
SLICE_ROWS = 512  # transactions written per chunk: ~230 KB, about CHUNK_BYTES
CHUNK_BYTES = 256 * 1024  # a file of a million payouts is ~450 MB: fed, spooled and sent in large pieces
_BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


@dataclass(frozen=True)
class FileHeader:
    run_id: str
    bank: str | None  # three-digit bank part, or None for every bank
    count: int
    total_fen: int
    execution_date: date
    created_at: datetime
    debtor: dict[str, str]  # the fund's account: name, bank_code, account_no, bic

    @property
    def message_id(self) -> str:
        return f"{self.run_id}-{self.bank}" if self.bank else self.run_id


def _where(run_id: str, bank: str | None) -> list:
    return [payouts.c.run_id == run_id] + ([payouts.c.bank_part == bank] if bank else [])


def totals(session: Session, run_id: str, bank: str | None) -> tuple[int, int]:
    """NbOfTxs and CtrlSum (in fen) of the file, in one aggregate query."""
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(payouts.c.amount_fen), 0)).where(*_where(run_id, bank))).one()
    return int(count), int(total)


def _batches(sessions: sessionmaker[Session], run_id: str, bank: str | None) -> Iterator[list[tuple]]:
    """(payout_id, amount_fen, holder, bank_code, account_no) of the file, in payout order, BATCH
    at a time: the driver's own tuples from a server-side cursor (a Row per payout cost more than
    writing it)."""
    with sessions() as session:
        conn = session.connection()
        mark = driver_mark(conn.dialect.name)
        sql = (f"SELECT payout_id, amount_fen, holder, bank_code, account_no FROM {payouts.name} "
               f"WHERE run_id = {mark}{f' AND bank_part = {mark}' if bank else ''} ORDER BY payout_id")
        yield from driver_batches(conn, sql, (run_id, bank) if bank else (run_id,), BATCH)


def _rows(sessions: sessionmaker[Session], run_id: str, bank: str | None) -> Iterator[tuple]:
    for rows in _batches(sessions, run_id, bank):
        yield from rows


def _t(text: str, limit: int) -> str:
    return escape(text[:limit])


def _agent(bank_code: str, bic: str | None = None) -> str:
    bicfi = f"<BICFI>{escape(bic)}</BICFI>" if bic and _BIC.match(bic) else ""
    return (f"<FinInstnId>{bicfi}<ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId>"
            f"<MmbId>{_t(bank_code, 35)}</MmbId></ClrSysMmbId></FinInstnId>")


def _account(account_no: str) -> str:
    return f"<Id><Othr><Id>{_t(account_no, 34)}</Id></Othr></Id>"


def _amount(amount_fen: int) -> str:
    """yuan_str of a fen amount, without a Decimal for the usual (non-negative) one."""
    return f"{amount_fen // 100}.{amount_fen % 100:02d}" if amount_fen >= 0 else yuan_str(amount_fen)


def _plain(payout_id: str, bank_code: str, holder: str, account_no: str) -> bool:
    """The creditor's values within their limits (what _t cuts them to: EndToEndId and MmbId 35,
    Nm 140, Othr/Id 34) and without a character to escape: they go into the template as they are."""
    joined = payout_id + bank_code + holder + account_no
    return ("&" not in joined and "<" not in joined and ">" not in joined and len(payout_id) <= 35
            and len(bank_code) <= 35 and len(holder) <= 140 and len(account_no) <= 34)


def _all_plain(rows: list[tuple]) -> tuple[bool, int]:
    """Whether every row of `rows` is _plain with an amount >= 0, asked of whole columns at once
    (loops in C, not a call per row); and the rows' sum of fen."""
    ids, amounts, holders, codes, accounts = zip(*rows)
    total_fen = sum(amounts)
    if min(amounts) < 0 or max(map(len, ids)) > 35 or max(map(len, codes)) > 35 or max(map(len, holders)) > 140 \
            or max(map(len, accounts)) > 34:
        return False, total_fen
    joined = "".join(ids) + "".join(codes) + "".join(holders) + "".join(accounts)
    return "&" not in joined and "<" not in joined and ">" not in joined, total_fen


def _transaction(payout_id: str, amount_fen: int, holder: str, bank_code: str, account_no: str, tail: str) -> str:
    """One transaction, its values escaped and cut to their limits when they need it."""
    if not _plain(payout_id, bank_code, holder, account_no):
        payout_id, bank_code = _t(payout_id, 35), _t(bank_code, 35)
        holder, account_no = _t(holder, 140), _t(account_no, 34)
    return (f"<CdtTrfTxInf><PmtId><EndToEndId>{payout_id}</EndToEndId></PmtId>"
            f'<Amt><InstdAmt Ccy="CNY">{_amount(amount_fen)}</InstdAmt></Amt>'
            f"<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId><MmbId>{bank_code}"
            f"</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt><Cdtr><Nm>{holder}</Nm></Cdtr>"
            f"<CdtrAcct><Id><Othr><Id>{account_no}{tail}")


def pain001(sessions: sessionmaker[Session], h: FileHeader) -> Iterator[bytes]:
    """The file in chunks of SLICE_ROWS transactions. Each transaction is one string template
    filled with its payout's values (_transaction: escaped and cut to their limits when they need
    it), the same document the element-by-element writer made
    (tests/payments/payouts/test_run_in_database.py). A slice whose values all go in as they are
    (nearly every one) is filled by one comprehension, the template inlined."""
    debtor = h.debtor
    ctrl = yuan_str(h.total_fen)
    created = h.created_at.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns={quoteattr(NS)}><CstmrCdtTrfInitn>'
        f"<GrpHdr><MsgId>{_t(h.message_id, 35)}</MsgId><CreDtTm>{created}</CreDtTm>"
        f"<NbOfTxs>{h.count}</NbOfTxs><CtrlSum>{ctrl}</CtrlSum>"
        f"<InitgPty><Nm>{_t(debtor['name'], 140)}</Nm></InitgPty></GrpHdr>"
        f"<PmtInf><PmtInfId>{_t(h.message_id, 35)}</PmtInfId><PmtMtd>TRF</PmtMtd>"
        f"<NbOfTxs>{h.count}</NbOfTxs><CtrlSum>{ctrl}</CtrlSum>"
        f"<ReqdExctnDt><Dt>{h.execution_date.isoformat()}</Dt></ReqdExctnDt>"
        f"<Dbtr><Nm>{_t(debtor['name'], 140)}</Nm></Dbtr>"
        f"<DbtrAcct>{_account(debtor['account_no'])}<Ccy>CNY</Ccy></DbtrAcct>"
        f"<DbtrAgt>{_agent(debtor['bank_code'], debtor.get('bic'))}</DbtrAgt><ChrgBr>SLEV</ChrgBr>"
    )
    # The transaction's template, cut at its five values; the remittance is the run's, escaped once.
    tail = (f"</Id></Othr></Id></CdtrAcct><RmtInf><Ustrd>{_t('work-injury benefit ' + h.run_id, 140)}</Ustrd>"
            "</RmtInf></CdtTrfTxInf>")
    buffer = [head]
    written, written_fen = 0, 0
    for rows in _batches(sessions, h.run_id, h.bank):
        for at in range(0, len(rows), SLICE_ROWS):
            part = rows[at:at + SLICE_ROWS]
            plain, part_fen = _all_plain(part)
            if plain:  # _transaction inlined
                buffer += [f"<CdtTrfTxInf><PmtId><EndToEndId>{payout_id}</EndToEndId></PmtId>"
                           f'<Amt><InstdAmt Ccy="CNY">{amount_fen // 100}.{amount_fen % 100:02d}</InstdAmt></Amt>'
                           "<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId>"
                           f"<MmbId>{bank_code}</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt><Cdtr><Nm>{holder}</Nm>"
                           f"</Cdtr><CdtrAcct><Id><Othr><Id>{account_no}{tail}"
                           for payout_id, amount_fen, holder, bank_code, account_no in part]
            else:
                buffer += [_transaction(*row, tail) for row in part]
            written += len(part)
            written_fen += part_fen
            yield "".join(buffer).encode()
            buffer = []
    # The header promised these; a payout written meanwhile would break the file, not the ledger.
    assert (written, written_fen) == (h.count, h.total_fen), "file body disagrees with its header"
    buffer.append("</PmtInf></CstmrCdtTrfInitn></Document>\n")
    yield "".join(buffer).encode()


CSV_HEADER = ("end_to_end_id", "amount", "currency", "creditor_name", "creditor_account", "creditor_agent")


def payouts_csv(sessions: sessionmaker[Session], h: FileHeader) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for payout_id, amount_fen, holder, bank_code, account_no in _rows(sessions, h.run_id, h.bank):
        writer.writerow((payout_id, _amount(amount_fen), "CNY", holder, account_no, bank_code))
        if out.tell() >= CHUNK_BYTES:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
