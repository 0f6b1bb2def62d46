"""The schema check between the ledger and a bank (services/payments/payouts/xsd.py): the
shipped ISO 20022 schemas, and pain.001 files from the real generator over a real (SQLite)
payouts table, accepted when valid and refused whole when a payee name or an amount breaks the
schema."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import sessionmaker

from services.payments.payouts import pain001, xsd
from services.payments.payouts.tables import payouts

ROOT = Path(__file__).resolve().parents[3]
FUND = {"name": "Shenzhen work-injury fund", "bank_code": "102584000002", "account_no": "40000234092001",
        "bic": "ICBKCNBJSZN"}


def test_the_schemas_ship_inside_the_package_and_compile() -> None:
    assert xsd.SCHEMAS.is_relative_to(ROOT / "services")
    for name in ("pain.001.001.09", "pain.002.001.03", "pain.002.001.12"):
        assert (xsd.SCHEMAS / f"{name}.xsd").is_file()
        assert xsd.schema(name) is xsd.schema(name)  # parsed once per process
    assert "pain001" in (xsd.SCHEMAS / "README.md").read_text()  # where they came from


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker:
    engine = create_engine(f"sqlite:///{tmp_path / 'payments.db'}")
    payouts.create(engine)
    return sessionmaker(engine)


def add_payouts(sessions: sessionmaker, n: int, **overrides_at: dict) -> None:
    """n payouts of run `run-1` at bank 102; `overrides_at={"7": {...}}` changes payout 7's columns."""
    rows = [{"payout_id": f"po_{i:06d}", "run_id": "run-1", "payee": f"employee:e{i}", "bank_code": "102584000002",
             "bank_part": "102", "account_no": f"6222{i:012d}", "holder": "张三", "amount_fen": 123_456 + i,
             "line_count": 1, "status": "open", "reason": None, "decided_on": None} for i in range(n)]
    for at, changes in overrides_at.items():
        rows[int(at)].update(changes)
    with sessions() as s, s.begin():
        s.execute(insert(payouts), rows)


def file_chunks(sessions: sessionmaker):  # noqa: ANN201 - Iterator[bytes]
    with sessions() as s:
        count, total = pain001.totals(s, "run-1", "102")
    header = pain001.FileHeader("run-1", "102", count, total, date(2026, 4, 1), datetime.now(timezone.utc), FUND)
    return pain001.pain001(sessions, header)


def test_a_valid_file_passes_and_is_served_byte_for_byte(sessions) -> None:  # noqa: ANN001
    add_payouts(sessions, 3_000)  # several chunks: the validator is fed as the file is written
    original = list(file_chunks(sessions))
    assert len(original) > 3
    checked = xsd.checked(iter(original))
    assert checked.size == sum(map(len, original))
    assert b"".join(checked) == b"".join(original)


def _transactions(document: bytes) -> bytes:
    return document[document.index(xsd.TRANSACTION):document.rindex(b"</PmtInf>")]


@pytest.mark.parametrize("slice_rows", [512, 7])
def test_sqlite_makes_the_transactions_python_makes(sessions, monkeypatch, slice_rows) -> None:  # noqa: ANN001
    """A bank's file on SQLite is made by SQLite's printf, a slice in one step (pain001._sqlite_slices);
    the whole run's file by Python (_python_slice). The same transactions, byte for byte, whether a
    slice's values go in as they are or one needs escaping or cutting (each column), has a negative
    amount, or a NUL (where printf's %s would stop: that file must be refused, not cut short)."""
    monkeypatch.setattr(pain001, "SLICE_ROWS", slice_rows)
    made_by_sqlite = []
    sqlite_slices = pain001._sqlite_slices  # noqa: SLF001
    monkeypatch.setattr(pain001, "_sqlite_slices", lambda *a: made_by_sqlite.append(a) or sqlite_slices(*a))
    add_payouts(sessions, 100, **{  # each in a slice of its own at 7 rows
        "3": {"holder": "A <c"}, "10": {"holder": "B > c"}, "17": {"account_no": "62&17"},
        "24": {"account_no": "6" * 40}, "31": {"bank_code": "102&"}, "41": {"holder": "张\x00三"},
        "52": {"bank_code": "102" + "5" * 40}, "60": {"payout_id": "po_000060" + "x" * 30},
        "77": {"amount_fen": -1}, "95": {"holder": "长" * 141}})
    with sessions() as s:
        count, total = pain001.totals(s, "run-1", None)
    whole_run = pain001.FileHeader("run-1", None, count, total, date(2026, 4, 1), datetime.now(timezone.utc), FUND)
    by_python = b"".join(pain001.pain001(sessions, whole_run))
    assert not made_by_sqlite
    by_sqlite = b"".join(file_chunks(sessions))
    assert made_by_sqlite
    assert _transactions(by_sqlite) == _transactions(by_python)
    assert by_sqlite.count(xsd.TRANSACTION) == 100
    assert all(escaped in by_sqlite for escaped in (b"A &lt;c", b"B &gt; c", b"62&amp;17", b"102&amp;"))
    assert "张\x00三".encode() in by_sqlite and b"-0.01" in by_sqlite
    with pytest.raises(xsd.InvalidDocument):
        xsd.checked([by_sqlite])


@pytest.mark.parametrize("column, value, facet", [
    ("holder", "", "minLength"),              # a payee name the schema rejects (Max140Text, at least 1)
    ("amount_fen", -500, "minInclusive"),     # an amount the schema rejects (never negative)
    ("account_no", "", "minLength"),          # an account without an identification
])
def test_a_file_that_breaks_the_schema_is_refused_whole(sessions, column, value, facet) -> None:  # noqa: ANN001
    add_payouts(sessions, 3_000, **{"2500": {column: value}})  # deep in the file, after many chunks
    with pytest.raises(xsd.InvalidDocument) as refused:
        xsd.checked(file_chunks(sessions))
    assert refused.value.name == "pain.001.001.09"
    assert any(facet in e for e in refused.value.errors), refused.value.errors


def test_broken_xml_and_the_wrong_message_are_refused() -> None:
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
    with pytest.raises(xsd.InvalidDocument):
        xsd.validate(head + b"<CstmrCdtTrfInitn>")  # truncated (lxml accepts it with resolve_entities=False)
    with pytest.raises(xsd.InvalidDocument):
        xsd.validate(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"/>')  # not a pain.001


def test_validation_keeps_memory_flat_by_pruning_what_it_has_checked() -> None:
    validator = xsd.Validator()
    head, tail = (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
                  b'<CstmrCdtTrfInitn><a/><b/><c/>', b"</CstmrCdtTrfInitn></Document>")
    validator.feed(head)
    for _ in range(50):
        validator.feed(b"<d/>")
    node, depth = validator._root, 0  # noqa: SLF001 - what the parser holds on to
    while node is not None and len(node):
        assert len(node) == 1  # only the open path remains
        node, depth = node[-1], depth + 1
    assert depth == 2
    with pytest.raises(xsd.InvalidDocument):  # <a/> etc. are not pain.001: still caught after pruning
        validator.feed(tail)
        validator.close()


def test_the_pain001_schema_has_one_root_the_piece_check_relies_on() -> None:
    """piece_errors leaves the root to the validator, which takes any global element of the schema."""
    root = etree.parse(str(xsd.SCHEMAS / "pain.001.001.09.xsd")).getroot()
    assert [e.get("name") for e in root.findall(f"{xsd.XS}element")] == ["Document"]
    assert not root.findall(f"{xsd.XS}include") and not root.findall(f"{xsd.XS}import")


@pytest.mark.parametrize("old, new, why", [
    (b"<Nm>\xe5\xbc\xa0\xe4\xb8\x89</Nm>", b"<Nm></Nm>", "minLength"),
    (b'Ccy="CNY"', b'Ccy="cny"', "pattern"),
    (b'Ccy="CNY"', b'Ccy="CNY" Extra="1"', "not allowed"),
    (b"<Prtry>CNAPS</Prtry>", b"<Prtry>CNAPS</Prtry><Cd>X</Cd>", "not expected"),
    (b"<RmtInf>", b"<Unknown/><RmtInf>", "not expected"),
    (b"</PmtId><Amt>", b"</PmtId><Amt></Amt><Amt>", "not expected"),
    (b"2345.67</InstdAmt>", b"2345.6789123</InstdAmt>", "fractionDigits"),
    (b"<CdtrAcct><Id><Othr><Id>", b"<CdtrAcct><Id><Othr><Id>&#0;", "invalid xmlChar"),
    (b"</PmtInf>", b"</PmtInf", "expected '>'"),
    (b"pain.001.001.09", b"pain.001.001.03", "No matching global declaration"),
])
@pytest.mark.parametrize("where", ["first", "last"])
def test_a_piece_breaking_the_schema_anywhere_has_errors(old, new, why, where) -> None:  # noqa: ANN001
    """piece_errors validates as libxml2 parses, without a tree: lxml raises only for XML that is not
    well-formed, so a schema error must come from the parser's log; every kind found, first or last."""
    tx = (b'<CdtTrfTxInf><PmtId><EndToEndId>po_1</EndToEndId></PmtId><Amt><InstdAmt Ccy="CNY">2345.67</InstdAmt>'
          b"</Amt><CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Prtry>CNAPS</Prtry></ClrSysId><MmbId>102584000002"
          b"</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt><Cdtr><Nm>\xe5\xbc\xa0\xe4\xb8\x89</Nm></Cdtr><CdtrAcct><Id>"
          b"<Othr><Id>6222</Id></Othr></Id></CdtrAcct><RmtInf><Ustrd>benefit</Ustrd></RmtInf></CdtTrfTxInf>")
    head = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
            b"<CstmrCdtTrfInitn><GrpHdr><MsgId>m</MsgId><CreDtTm>2026-04-01T08:00:00Z</CreDtTm><NbOfTxs>3</NbOfTxs>"
            b"<InitgPty><Nm>fund</Nm></InitgPty></GrpHdr><PmtInf><PmtInfId>m</PmtInfId><PmtMtd>TRF</PmtMtd>"
            b"<ReqdExctnDt><Dt>2026-04-01</Dt></ReqdExctnDt><Dbtr><Nm>fund</Nm></Dbtr><DbtrAcct><Id><Othr><Id>4000"
            b"</Id></Othr></Id></DbtrAcct><DbtrAgt><FinInstnId><ClrSysMmbId><MmbId>102584000002</MmbId></ClrSysMmbId>"
            b"</FinInstnId></DbtrAgt>")
    piece = head + tx * 3 + xsd.PAIN001_END
    assert xsd.piece_errors(piece) == []
    broken = tx.replace(old, new, 1) if old in tx else tx
    if old in head or old == b"</PmtInf>":
        doc = piece.replace(old, new, 1)
    else:
        doc = head + (broken + tx * 2 if where == "first" else tx * 2 + broken) + xsd.PAIN001_END
    assert doc != piece
    errors = xsd.piece_errors(doc)
    assert errors and any(why in e for e in errors), errors
    assert xsd.piece_errors(piece) == []  # nothing left over for the next piece


def test_a_library_that_stops_validating_for_a_target_refuses_every_piece(monkeypatch) -> None:  # noqa: ANN001
    assert xsd._validates_without_a_tree()  # noqa: SLF001 - this lxml does
    monkeypatch.setattr(xsd, "_parsed_errors", lambda piece: [])  # a parse that no longer validates
    xsd._validates_without_a_tree.cache_clear()  # noqa: SLF001
    try:
        assert xsd.piece_errors(b"<Document/>")
    finally:
        xsd._validates_without_a_tree.cache_clear()  # noqa: SLF001


@pytest.fixture(params=[0, 1], ids=["here", "worker"])
def small_pieces(request, monkeypatch):  # noqa: ANN001, ANN201
    """Pieces of ~4 KB (a dozen transactions), checked here only or by a worker process too."""
    monkeypatch.setattr(xsd, "PIECE_BYTES", 4_096)
    monkeypatch.setattr(xsd, "VALIDATION_PROCESSES", request.param)
    return request.param


def rechunked(chunks, sizes=(1, 13, 700, 5, 4_099, 64)):  # noqa: ANN001, ANN201 - Iterator[bytes]
    """The same bytes in odd chunks: a transaction's tag cut anywhere, even in two."""
    data, at, i = b"".join(chunks), 0, 0
    while at < len(data):
        yield data[at:at + sizes[i % len(sizes)]]
        at, i = at + sizes[i % len(sizes)], i + 1


def test_a_valid_file_passes_in_pieces_however_it_is_chunked(sessions, small_pieces) -> None:  # noqa: ANN001
    add_payouts(sessions, 600)
    original = b"".join(file_chunks(sessions))
    assert original.count(xsd.TRANSACTION) == 600 and len(original) > 50 * xsd.PIECE_BYTES
    assert b"".join(xsd.checked(rechunked([original]))) == original


def test_pieces_are_cut_where_the_generators_chunks_start(sessions, small_pieces, monkeypatch) -> None:  # noqa: ANN001
    """The generator's chunks start at a transaction: a piece ends where one does, whole."""
    monkeypatch.setattr(pain001, "SLICE_ROWS", 3)
    add_payouts(sessions, 600)
    original = list(file_chunks(sessions))
    pieces = []
    check = xsd.Pieces._check  # noqa: SLF001
    monkeypatch.setattr(xsd.Pieces, "_check", lambda self, piece: pieces.append(piece) or check(self, piece))
    assert b"".join(xsd.checked(iter(original))) == b"".join(original)
    head = original[0]
    assert len(pieces) >= 40 and all(p.startswith(head + xsd.TRANSACTION) for p in pieces)
    assert all(p.endswith(xsd.PAIN001_END) for p in pieces[:-1])
    assert sum(p.count(xsd.TRANSACTION) for p in pieces) == 600
    assert max(map(len, pieces)) < 2 * xsd.PIECE_BYTES


@pytest.mark.parametrize("chunked", [rechunked, list], ids=["odd chunks", "as generated"])
@pytest.mark.parametrize("where", ["0", "300", "599"])  # the first piece, one between, the last one
def test_a_transaction_breaking_the_schema_is_found_in_any_piece(  # noqa: ANN001
        sessions, small_pieces, where, chunked) -> None:
    add_payouts(sessions, 600, **{where: {"holder": ""}})
    with pytest.raises(xsd.InvalidDocument) as refused:
        xsd.checked(chunked(file_chunks(sessions)))
    assert any("minLength" in e for e in refused.value.errors), refused.value.errors


@pytest.mark.parametrize("cut_at", ["the last one found", "a chunk's start"])
def test_bytes_that_only_look_like_a_boundary_refuse_the_file(sessions, monkeypatch, cut_at) -> None:  # noqa: ANN001
    """A `<CdtTrfTxInf>` in a comment where a piece is cut (the last one in the pending bytes, or
    the start of a chunk): the piece ends inside the comment, so the file is refused (a valid file,
    but never one of ours), never passed unchecked."""
    monkeypatch.setattr(xsd, "PIECE_BYTES", 4_096)
    add_payouts(sessions, 100)
    original = b"".join(file_chunks(sessions))
    after = original.index(b"</CdtTrfTxInf>", original.index(b"po_000024"))
    tricked = original[:after] + b"</CdtTrfTxInf><!-- <CdtTrfTxInf> -->" + original[after + 14:]
    fake = tricked.index(b"<!-- <CdtTrfTxInf>") + 5
    assert fake > 2 * 4_096 + tricked.index(xsd.TRANSACTION)
    if cut_at == "the last one found":  # the fake one complete only in the second chunk
        chunks = [tricked[:fake + 5], tricked[fake + 5:fake + 15], tricked[fake + 15:]]
    else:
        chunks = [tricked[:fake], tricked[fake:]]
    with pytest.raises(xsd.InvalidDocument):
        xsd.checked(chunks)


def test_a_worker_that_dies_leaves_its_piece_to_this_process(sessions, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(xsd, "PIECE_BYTES", 4_096)
    monkeypatch.setattr(xsd, "VALIDATION_PROCESSES", 1)
    add_payouts(sessions, 300, **{"299": {"amount_fen": -1}})
    original = list(file_chunks(sessions))
    pieces = xsd.Pieces()
    assert pieces._worker is not None  # noqa: SLF001
    pieces._worker._process.kill()  # noqa: SLF001
    with pytest.raises(xsd.InvalidDocument) as refused:
        for chunk in rechunked(original):
            pieces.feed(chunk)
        pieces.close()
    assert any("minInclusive" in e for e in refused.value.errors)
