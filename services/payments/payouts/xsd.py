"""The ISO 20022 schemas shipped in `schemas/` (provenance in its README), each parsed once per
process, and the check between the ledger and a bank: a file is validated whole while it is
spooled, and only a file that passed is served, so an invalid file never leaves the ledger.

A pain.001 file is validated in pieces of about PIECE_BYTES, each a document of its own: the
file's own head (everything before its first `<CdtTrfTxInf>`), the next run of whole transactions,
then the file's own end (the last piece) or the end tags the head opened. Every byte of the file is
in exactly one piece, checked by libxml2 against the official XSD. That is the whole file's check
because the schema has no identity constraints (key, unique, ID): an element's validity depends on
its own content and its place in its parent's content model, and a transaction's place is the same
in every piece (PmtInf's last particle, `CdtTrfTxInf` 1..unbounded). A `<CdtTrfTxInf>` that is not
a start tag (in a comment, a CDATA section) leaves its piece unclosed, so a bad split refuses the
file, never passes it. A piece is validated as libxml2 parses it, its SAX events into the schema's
validator and no tree built (piece_errors): a fifth fewer instructions than a tree parsed, validated
whole and freed, which cost a quarter less than the streaming Validator below. A piece goes to a
worker process (the machine's second core) while this one writes the next, and this one checks a
piece itself when its worker holds two already (the one it checks and the next, so it never waits
for this process). Memory stays flat: a few pieces in flight, the rest of the file in the spool
(SPOOL_MEMORY_BYTES in memory, then an unlinked temporary file).

Other documents stream through Validator: lxml feeds libxml2's schema validator chunk by chunk,
and the tree the parser builds is pruned to its open path after each chunk. lxml (libxml2) rather
than xmlschema: it is many times faster on big files.
"""
from __future__ import annotations

import json
import os
import queue
import select
import struct
import subprocess
import sys
import tempfile
import threading
from collections import deque
from functools import cache
from pathlib import Path
from typing import IO, Iterable, Iterator

from lxml import etree

SCHEMAS = Path(__file__).with_name("schemas")
PAIN001 = "pain.001.001.09"
XS = "{http://www.w3.org/2001/XMLSchema}"
SPOOL_MEMORY_BYTES = 1024 * 1024
READ_BYTES = 1024 * 1024  # served in large pieces: a bank file of a million payouts is ~450 MB
MAX_ERRORS = 20
PIECE_BYTES = 1024 * 1024  # ~2,300 transactions: a tree of a few MB, parsed and validated whole
MAX_PIECE_BYTES = 32 * 1024 * 1024  # no transaction boundary in this many bytes: no file of ours
TRANSACTION = b"<CdtTrfTxInf>"
PAIN001_END = b"</PmtInf></CstmrCdtTrfInitn></Document>"  # what the head opened, closed
VALIDATION_PROCESSES = int(os.environ.get("INJURYLEDGER_VALIDATION_PROCESSES", "1"))
WORKER_PIECES = 2  # pieces a worker holds: the one it checks and the next one


class InvalidDocument(Exception):
    """A document the ledger built breaks its schema: a bug to fix, never a file to send."""

    def __init__(self, name: str, errors: list[str]) -> None:
        super().__init__(f"{name}: " + "; ".join(errors))
        self.name, self.errors = name, errors


@cache
def _compiled(name: str) -> tuple[etree.XMLSchema, str]:
    """The schema and the tag of its root element, parsed once per process (never the network)."""
    doc = etree.parse(str(SCHEMAS / f"{name}.xsd"), etree.XMLParser(no_network=True))
    root = doc.getroot()
    return etree.XMLSchema(doc), f"{{{root.get('targetNamespace')}}}{root.find(f'{XS}element').get('name')}"


def schema(name: str) -> etree.XMLSchema:
    """The schema named like its file, e.g. `pain.001.001.09`."""
    return _compiled(name)[0]


class Validator:
    """Validates one document fed in chunks; `close()` raises InvalidDocument if it broke its schema."""

    def __init__(self, name: str = PAIN001) -> None:
        self.name = name
        compiled, root_tag = _compiled(name)
        # Not resolve_entities=False: with a schema, lxml 6 then accepts a truncated document.
        self._parser = etree.XMLPullParser(events=("start",), tag=root_tag, schema=compiled, no_network=True,
                                           collect_ids=False)
        self._root: etree._Element | None = None

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None
        if self._root is None:
            for _event, element in self._parser.read_events():
                self._root = element
        # Keep only the path the parser is still inside: finished siblings are validated already.
        node = self._root
        while node is not None and len(node):
            if len(node) > 1:
                del node[:-1]
            node = node[-1]

    def close(self) -> None:
        try:
            self._parser.close()
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None

    def _invalid(self, exc: etree.XMLSyntaxError) -> InvalidDocument:
        errors = [e.message for e in exc.error_log if e.level >= etree.ErrorLevels.ERROR][:MAX_ERRORS]
        return InvalidDocument(self.name, errors or [str(exc)])


def validate(document: bytes, name: str = PAIN001) -> None:
    """One whole document in memory (small ones: tests, examples)."""
    validator = Validator(name)
    validator.feed(document)
    validator.close()


class CheckedFile:
    """A file that passed its schema, spooled: iterate it once to serve it (it closes itself)."""

    def __init__(self, spool: IO[bytes], size: int) -> None:
        self._spool, self.size = spool, size

    def __iter__(self) -> Iterator[bytes]:
        try:
            self._spool.seek(0)
            while chunk := self._spool.read(READ_BYTES):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._spool.close()


def checked(chunks: Iterable[bytes], name: str = PAIN001) -> CheckedFile:
    """Every chunk written to a spool and validated (a pain.001 file in pieces, see the module's
    docstring); the file once it passed whole, else InvalidDocument (and nothing kept)."""
    validator = Pieces() if name == PAIN001 else Validator(name)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    size = 0
    try:
        for chunk in chunks:
            validator.feed(chunk)
            spool.write(chunk)
            size += len(chunk)
        validator.close()
    except BaseException:
        spool.close()
        if isinstance(validator, Pieces):
            validator.abandon()
        raise
    return CheckedFile(spool, size)


class _NoTree:
    """A parser target that takes no event: libxml2 validates a piece as it parses it (the schema
    plugged into its SAX events) and builds no tree to validate, then free."""

    def close(self) -> None:
        return None


def piece_errors(piece: bytes) -> list[str]:
    """One piece of a pain.001 file (a whole document) validated as libxml2 parses it; its errors,
    or none. Runs in the worker processes too. With a target, lxml raises only for XML that is not
    well-formed, not for a schema error: every error libxml2's validator finds goes to the
    parser's error log, and one there refuses the piece. The validator checks the root against the
    schema's global elements, and pain.001's one is `Document` (a test holds it to that)."""
    if not _validates_without_a_tree():
        return ["lxml no longer validates a document it parses for a target: every piece refused"]
    return _parsed_errors(piece)


def _parsed_errors(piece: bytes) -> list[str]:
    parser = etree.XMLParser(no_network=True, collect_ids=False, huge_tree=True, schema=schema(PAIN001),
                             target=_NoTree())
    try:
        etree.fromstring(piece, parser)
    except etree.XMLSyntaxError as exc:  # not well-formed (its error_log is the thread's, others' errors too)
        return [str(exc), *_errors(parser.error_log)][:MAX_ERRORS]
    return _errors(parser.error_log)


@cache
def _validates_without_a_tree() -> bool:
    """Once a process: a well-formed document that breaks the schema comes back with errors. An
    lxml that stopped plugging the schema into a target's parse would pass every piece unchecked;
    with this, it refuses every file instead."""
    return bool(_parsed_errors(f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{PAIN001}"/>'.encode()))


def _errors(log: etree._ListErrorLog) -> list[str]:
    return [e.message for e in log if e.level >= etree.ErrorLevels.ERROR][:MAX_ERRORS]


class _Worker:
    """A process that validates pieces (`python -m services.payments.payouts.xsd`): a piece in,
    its errors out, each framed by its length, answered in the order sent. It holds up to
    WORKER_PIECES at once (the one it checks and the next, read by its own thread), so it never
    waits for this process to write the next. One file's at a time (taken from an idle list)."""

    _idle: list["_Worker"] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
        self.sent: deque[bytes] = deque()  # the pieces it holds, oldest first (checked here if it dies)

    @property
    def busy(self) -> bool:
        return bool(self.sent)

    @property
    def full(self) -> bool:
        return len(self.sent) >= WORKER_PIECES

    @classmethod
    def take(cls) -> "_Worker | None":
        with cls._lock:
            if cls._idle:
                return cls._idle.pop()
        try:
            return cls() if VALIDATION_PROCESSES > 0 else None
        except OSError:
            return None

    def give_back(self) -> None:
        if self.busy or self._process.poll() is not None:  # a piece still in it, or dead
            self._end()
            return
        with self._lock:
            self._idle.append(self)

    def send(self, piece: bytes) -> bool:
        try:
            self._process.stdin.write(struct.pack(">Q", len(piece)) + piece)
            self._process.stdin.flush()
        except OSError:
            return False
        self.sent.append(piece)
        return True

    def _end(self) -> None:
        self._process.kill()
        self._process.wait()  # reaped, not left a zombie
        for pipe in (self._process.stdin, self._process.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def answered(self) -> bool:
        """Whether the oldest piece's answer has (begun to) come. Its pipe is read with os.read
        only, never through a buffer, so a readable pipe is an answer not yet read."""
        return bool(select.select([self._process.stdout], [], [], 0)[0])

    def answer(self) -> list[str] | None:
        """The errors of the oldest piece sent (waits for them); None if the worker died."""
        fd = self._process.stdout.fileno()
        head = _read_exactly(fd, 4)
        size = struct.unpack(">I", head)[0] if len(head) == 4 else -1
        body = _read_exactly(fd, size) if size >= 0 else b""
        if len(body) != size:
            self._end()
            return None
        self.sent.popleft()
        return json.loads(body)


def _read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes from the pipe, fewer only at its end."""
    parts, left = [], size
    while left and (part := os.read(fd, left)):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _serve_pieces() -> None:
    """The worker's loop, until its parent closes the pipe: a thread reads the next pieces while
    this one checks (lxml lets go of the GIL while it parses and validates)."""
    _compiled(PAIN001)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    pieces: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        while len(head := stdin.read(8)) == 8:
            pieces.put(stdin.read(struct.unpack(">Q", head)[0]))
        pieces.put(None)

    threading.Thread(target=read, daemon=True).start()
    while (piece := pieces.get()) is not None:
        answer = json.dumps(piece_errors(piece)).encode()
        stdout.write(struct.pack(">I", len(answer)) + answer)
        stdout.flush()


class Pieces:
    """A pain.001 file fed in chunks, cut into pieces at transaction boundaries, each validated by
    piece_errors (by its worker when that is free, else here); `close()` raises InvalidDocument if
    one failed."""

    def __init__(self) -> None:
        self._head: bytes | None = None  # the file up to its first transaction
        self._pending: list[bytes] = []
        self._size = 0
        self._worker = _Worker.take()

    def feed(self, chunk: bytes) -> None:
        if self._head is not None and self._size >= PIECE_BYTES and chunk.startswith(TRANSACTION):
            # The pending bytes end where this chunk's first transaction starts (the generator's
            # chunks do): a piece in one copy, no search.
            self._check(b"".join((self._head, *self._pending, PAIN001_END)))
            self._pending, self._size = [], 0
        self._pending.append(chunk)
        self._size += len(chunk)
        if self._head is None or self._size >= 2 * PIECE_BYTES:  # the file's head, or chunks cut elsewhere
            joined = b"".join(self._pending)
            if self._head is None:
                at = joined.find(TRANSACTION)
                if at >= 0:
                    self._head, joined = joined[:at], joined[at:]
            else:
                at = joined.rfind(TRANSACTION)  # the pending bytes start at one: the last after it
                if at > 0:
                    self._check(b"".join((self._head, joined[:at], PAIN001_END)))
                    joined = joined[at:]
            self._pending, self._size = [joined], len(joined)
            if self._size > MAX_PIECE_BYTES:
                self._fail([f"no transaction boundary in {MAX_PIECE_BYTES} bytes"])

    def close(self) -> None:
        self._check(b"".join([self._head or b"", *self._pending]))
        self._pending = []
        while self._worker is not None and self._worker.busy:
            self._verdict()
        if self._worker is not None:
            self._worker.give_back()
            self._worker = None

    def _check(self, piece: bytes) -> None:
        """To the worker if it has room (the answers it has given read first), else here."""
        while self._worker is not None and self._worker.busy and self._worker.answered():
            self._verdict()
        worker = self._worker
        if worker is not None and not worker.full:
            if worker.send(piece):
                return
            self._worker_died()
        self._raise_if(piece_errors(piece))

    def _verdict(self) -> None:
        errors = self._worker.answer()
        if errors is None:  # the worker died: the pieces it held checked here, and the next ones
            self._worker_died()
            return
        self._raise_if(errors)

    def _worker_died(self) -> None:
        held, self._worker = list(self._worker.sent), None
        for piece in held:
            self._raise_if(piece_errors(piece))

    def _raise_if(self, errors: list[str]) -> None:
        if errors:
            self._fail(errors)

    def _fail(self, errors: list[str]) -> None:
        self.abandon()
        raise InvalidDocument(PAIN001, errors)

    def abandon(self) -> None:
        """The file is not finished: its worker back (ended if a piece is still in it)."""
        if self._worker is not None:
            self._worker.give_back()
            self._worker = None


if __name__ == "__main__":
    _serve_pieces()
