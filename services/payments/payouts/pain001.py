"""The payout file the fund sends its bank: ISO 20022 `pain.001.001.09`, or CSV. Streamed.

The header's NbOfTxs and CtrlSum come from one aggregate query; the transactions are read in
batches from a server-side cursor and written as they come (a bank's file on SQLite: made by
SQLite a slice at a time), so a run of a million payouts never holds a million objects. One file
per bank: `bank` is the CNAPS code's three-digit bank part (a full 12-digit code is reduced to it).
"""
from __future__ import annotations

import csv
import io
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from libs.db import driver_batches, driver_cursor, driver_mark
from libs.money import yuan_str

from .tables import payouts

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
BATCH = 10_000
SLICE_ROWS = 512  # transactions written per chunk: ~230 KB, about CHUNK_BYTES
CHUNK_BYTES = 256 * 1024  # a file of a million payouts is ~450 MB: fed, spooled and sent in large pieces
_BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_COLUMNS = "payout_id, amount_fen, holder, bank_code, account_no"


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
    with sessions() as session:
        yield from _batches_on(session.connection(), run_id, bank)


def _batches_on(conn: Connection, run_id: str, bank: str | None) -> Iterator[list[tuple]]:
    """(payout_id, amount_fen, holder, bank_code, account_no) of the file, in payout order, BATCH
    at a time: the driver's own tuples from a server-side cursor (a Row per payout cost more than
    writing it)."""
    mark = driver_mark(conn.dialect.name)
    sql = (f"SELECT {_COLUMNS} FROM {payouts.name} "
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
    """The file: its head, then chunks of SLICE_ROWS transactions (_slices), then its end. Each
    transaction is one string template filled with its payout's values (_transaction: escaped and
    cut to their limits when they need it), the same document the element-by-element writer made
    (tests/payments/payouts/test_run_in_database.py)."""
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
    yield head.encode()
    written, written_fen = 0, 0
    for count, fen, chunk in _slices(sessions, h, tail):
        written += count
        written_fen += fen
        yield chunk
    # The header promised these; a payout written meanwhile would break the file, not the ledger.
    assert (written, written_fen) == (h.count, h.total_fen), "file body disagrees with its header"
    yield b"</PmtInf></CstmrCdtTrfInitn></Document>\n"


def _slices(sessions: sessionmaker[Session], h: FileHeader, tail: str) -> Iterator[tuple[int, int, bytes]]:
    """The file's transactions SLICE_ROWS at a time: (count, sum of fen, their bytes). A bank's
    file on SQLite is made by SQLite itself (_sqlite_slices); the others here, a slice by one
    comprehension (_python_slice)."""
    with sessions() as session:
        conn = session.connection()
        if h.bank and conn.dialect.name == "sqlite":
            yield from _sqlite_slices(conn, h.run_id, h.bank, tail)
            return
        for rows in _batches_on(conn, h.run_id, h.bank):
            for at in range(0, len(rows), SLICE_ROWS):
                part = rows[at:at + SLICE_ROWS]
                yield len(part), *_python_slice(part, tail)


def _python_slice(part: list[tuple], tail: str) -> tuple[int, bytes]:
    """A slice's sum of fen and bytes: one comprehension, the template inlined, when every value
    goes in as it is (nearly every slice); else _transaction a row."""
    plain, part_fen = _all_plain(part)
    if plain:  # _transaction inlined
        text = "".join([f"<CdtTrfTxInf><PmtId><EndToEndId>{payout_id}</EndToEndId></PmtId>"
                        f'<Amt><InstdAmt Ccy="CNY">{amount_fen // 100}.{amount_fen % 100:02d}</InstdAmt></Amt>'
                        "<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId>"
                        f"<MmbId>{bank_code}</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt><Cdtr><Nm>{holder}</Nm>"
                        f"</Cdtr><CdtrAcct><Id><Othr><Id>{account_no}{tail}"
                        for payout_id, amount_fen, holder, bank_code, account_no in part])
    else:
        text = "".join([_transaction(*row, tail) for row in part])
    return part_fen, text.encode()


# A slice of a bank's file in one step of SQLite: the transactions built by its printf (the
# template _python_slice inlines, the run's tail a parameter; `%!.35s` cuts a value to 35
# characters, as _t does) and joined, as bytes (no str made and encoded again: a Chinese name
# makes the whole slice a two-byte str); its count, sum of fen and last payout id (where the next
# slice starts: the file's key is run, bank, payout id); whether its amounts are all >= 0; and its
# values joined, for Python to look for a character _python_slice would escape, or a NUL (where
# printf's %s stops) with `in` (a memchr: SQLite's instr a value and character cost twice the
# printf). A slice with one is made by _python_slice from its rows. The aggregates read the rows
# in the inner query's order; a SQLite that has it says so with an ORDER BY of the aggregate's own.
_SQL_TRANSACTION = (
    "<CdtTrfTxInf><PmtId><EndToEndId>%!.35s</EndToEndId></PmtId>"
    "<Amt><InstdAmt Ccy=\"CNY\">%d.%02d</InstdAmt></Amt>"
    "<CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId>"
    "<MmbId>%!.35s</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt><Cdtr><Nm>%!.140s</Nm>"
    "</Cdtr><CdtrAcct><Id><Othr><Id>%!.34s%s")
_IN_ORDER = " ORDER BY payout_id" if sqlite3.sqlite_version_info >= (3, 44) else ""
_SLICE_WHERE = f"FROM {payouts.name} WHERE run_id = ? AND bank_part = ? AND payout_id > ? ORDER BY payout_id LIMIT ?"
_SQL_SLICE = (
    f"SELECT count(*), sum(amount_fen), max(payout_id), min(amount_fen) >= 0, "
    f"CAST(group_concat(tx, ''{_IN_ORDER}) AS BLOB), "
    f"CAST(group_concat(payout_id || bank_code || holder || account_no, ''{_IN_ORDER}) AS BLOB) "
    f"FROM (SELECT {_COLUMNS}, printf('{_SQL_TRANSACTION}', payout_id, amount_fen / 100, amount_fen % 100, "
    f"bank_code, holder, account_no, ?) AS tx {_SLICE_WHERE})")
_SQL_SLICE_ROWS = f"SELECT {_COLUMNS} {_SLICE_WHERE}"


def _sqlite_slices(conn: Connection, run_id: str, bank: str, tail: str) -> Iterator[tuple[int, int, bytes]]:
    after = ""
    with driver_cursor(conn, _SQL_SLICE) as cursor:
        while True:
            count, fen, last, amounts_ok, text, values = cursor.execute(
                _SQL_SLICE, (tail, run_id, bank, after, SLICE_ROWS)).fetchone()
            if not count:
                return
            if not amounts_ok or b"<" in values or b">" in values or b"&" in values or b"\0" in values:
                rows = cursor.execute(_SQL_SLICE_ROWS, (run_id, bank, after, count)).fetchall()
                fen, text = _python_slice(rows, tail)
            yield count, fen, text
            after = last


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
