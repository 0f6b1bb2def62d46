"""The ISO 20022 schemas shipped in `schemas/` (provenance in its README), each parsed once per
process, and the check between the ledger and a bank: a file is validated whole while it is
spooled, and only a file that passed is served, so an invalid file never leaves the ledger.

Validation streams: lxml feeds libxml2's schema validator chunk by chunk, and the tree the parser
builds is pruned to its open path after each chunk, so a file of a million transactions is checked
in flat memory. The spool keeps up to SPOOL_MEMORY_BYTES in memory, the rest in an unlinked
temporary file. lxml (libxml2) rather than xmlschema: it is many times faster on big files.
"""
from __future__ import annotations

import tempfile
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
    """Every chunk written to a spool and fed to the validator; the file once it passed whole,
    else InvalidDocument (and nothing kept)."""
    validator = Validator(name)
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
        raise
    return CheckedFile(spool, size)
