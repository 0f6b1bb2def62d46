"""The pain.001 writer as it was before issue 12 (element by element, `escape` on every value,
`yuan_str` through a Decimal), kept verbatim as the reference the streamed template must match
byte for byte (test_run_in_database.py). Not used by the service."""
from __future__ import annotations

from datetime import timezone
from typing import Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from libs.money import yuan_str
from services.payments.payouts.pain001 import _BIC, CHUNK_BYTES, NS, FileHeader, _where
from services.payments.payouts.tables import payouts

BATCH = 1_000


def _rows(sessions: sessionmaker[Session], run_id: str, bank: str | None) -> Iterator:
    with sessions() as session:
        result = session.execute(
            select(payouts.c.payout_id, payouts.c.amount_fen, payouts.c.holder, payouts.c.bank_code,
                   payouts.c.account_no)
            .where(*_where(run_id, bank)).order_by(payouts.c.payout_id)
            .execution_options(stream_results=True, yield_per=BATCH))
        for partition in result.partitions(BATCH):
            yield from partition


def _t(text: str, limit: int) -> str:
    return escape(text[:limit])


def _agent(bank_code: str, bic: str | None = None) -> str:
    bicfi = f"<BICFI>{escape(bic)}</BICFI>" if bic and _BIC.match(bic) else ""
    return (f"<FinInstnId>{bicfi}<ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId>"
            f"<MmbId>{_t(bank_code, 35)}</MmbId></ClrSysMmbId></FinInstnId>")


def _account(account_no: str) -> str:
    return f"<Id><Othr><Id>{_t(account_no, 34)}</Id></Othr></Id>"


def pain001(sessions: sessionmaker[Session], h: FileHeader) -> Iterator[bytes]:
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
    buffer = [head]
    size = len(head)
    written, written_fen = 0, 0
    for r in _rows(sessions, h.run_id, h.bank):
        tx = (f"<CdtTrfTxInf><PmtId><EndToEndId>{_t(r.payout_id, 35)}</EndToEndId></PmtId>"
              f'<Amt><InstdAmt Ccy="CNY">{yuan_str(r.amount_fen)}</InstdAmt></Amt>'
              f"<CdtrAgt>{_agent(r.bank_code)}</CdtrAgt><Cdtr><Nm>{_t(r.holder, 140)}</Nm></Cdtr>"
              f"<CdtrAcct>{_account(r.account_no)}</CdtrAcct>"
              f"<RmtInf><Ustrd>{_t('work-injury benefit ' + h.run_id, 140)}</Ustrd></RmtInf></CdtTrfTxInf>")
        written += 1
        written_fen += r.amount_fen
        buffer.append(tx)
        size += len(tx)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    # The header promised these; a payout written meanwhile would break the file, not the ledger.
    assert (written, written_fen) == (h.count, h.total_fen), "file body disagrees with its header"
    buffer.append("</PmtInf></CstmrCdtTrfInitn></Document>\n")
    yield "".join(buffer).encode()
