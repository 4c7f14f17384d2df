"""One streaming pass over an export: header, row count, SHA-256 and chunk boundaries.

The file is read block by block and never held whole. Records are parsed by ``csv`` so
quoted fields spanning lines are handled; the byte offset after each record is known
because ``csv.reader`` pulls exactly one physical line at a time from our iterator, so a
chunk boundary is a byte offset on a record boundary that a worker later reads with one
ranged GET, without scanning again.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from shared import dialect as dialects
from shared import header
from shared.errors import Rejected
from shared.schema import Schema

MAX_BYTES = 3 * 1024**3
MAX_ROWS = 5_000_000


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    rows: int


@dataclass
class ScanResult:
    delimiter: str
    header_start: int
    header_end: int
    columns: list[str]
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    chunks: list[Chunk] = field(default_factory=list)


class _Lines:
    """Decodes blocks into lines for ``csv.reader`` and counts the bytes handed out."""

    def __init__(self, blocks: Iterable[bytes], name: str) -> None:
        self._blocks = _head_first(blocks, 64)
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._hash = hashlib.sha256()
        self.offset = 0
        self.total = 0
        self.bom_length = 0
        self._first = True

    def _text_blocks(self) -> Iterator[str]:
        for block in self._blocks:
            if self._first:
                self._first = False
                self.bom_length = dialects.check_encoding(block[:64], self._name)
                self.offset = self.bom_length
                self._hash.update(block[: self.bom_length])
                block = block[self.bom_length :]
            self._hash.update(block)
            self.total += len(block)
            if self.total + self.bom_length > MAX_BYTES:
                raise Rejected("too-large", f"{self._name} is larger than the connector limit of 3 GB")
            try:
                yield self._decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise Rejected(
                    "encoding",
                    f"{self._name} is not valid UTF-8 (near byte {self.total - len(block) + exc.start}); "
                    "export it as UTF-8",
                ) from None
        try:
            yield self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Rejected("encoding", f"{self._name} ends inside a UTF-8 character") from None

    def __iter__(self) -> Iterator[str]:
        pending = ""
        for text in self._text_blocks():
            if not text:
                continue
            parts = (pending + text).split("\n")
            pending = parts.pop()
            for part in parts:
                line = part + "\n"
                self.offset += len(line) if line.isascii() else len(line.encode())
                yield line
        if pending:
            self.offset += len(pending) if pending.isascii() else len(pending.encode())
            yield pending

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def scan(blocks: Iterable[bytes], name: str, schema: Schema, chunk_rows: int) -> ScanResult:
    """Validate the header and plan chunks of ``chunk_rows`` records each."""
    lines = _Lines(blocks, name)
    line_iter = iter(lines)
    try:
        first = next(line_iter)
    except StopIteration:
        raise Rejected("empty", f"{name} is empty; a header line is expected") from None
    delimiter = dialects.detect(name, schema.kind, first)
    reader = csv.reader(_prepend(first, line_iter), delimiter=delimiter, strict=True)
    result = ScanResult(delimiter, lines.bom_length, 0, [])
    try:
        result.columns = next(reader)
        result.header_end = lines.offset
        header.match(schema, result.columns, name)
        start, in_chunk = lines.offset, 0
        for record in reader:
            if not record:
                continue
            result.rows += 1
            in_chunk += 1
            if in_chunk == chunk_rows:
                result.chunks.append(Chunk(len(result.chunks), start, lines.offset, in_chunk))
                start, in_chunk = lines.offset, 0
    except csv.Error as exc:
        raise Rejected("malformed", f"{name}: malformed quoting in record {result.rows + 1}: {exc}") from None
    if result.rows > MAX_ROWS:
        raise Rejected(
            "too-many-rows",
            f"{name} has {result.rows:,} rows; the connector limit is {MAX_ROWS:,}. Split the export.",
        )
    if in_chunk:
        result.chunks.append(Chunk(len(result.chunks), start, lines.offset, in_chunk))
    result.bytes = lines.offset
    result.sha256 = lines.sha256
    return result


def _head_first(blocks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-block so the first block holds at least ``size`` bytes (BOM and encoding checks)."""
    it = iter(blocks)
    head = b""
    for block in it:
        head += block
        if len(head) >= size:
            break
    if head:
        yield head
    yield from it


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
