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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from shared import dialect as dialects
from shared import header
from shared.errors import Rejected
from shared.rows import DuplicateCounter, InvalidRows, RowRules
from shared.schema import Schema
from shared.settings import DEFAULT_REQUIRED
from shared.timestamps import parses

MAX_BYTES = 3 * 1024**3
MAX_ROWS = 5_000_000
MAX_LINE_CHARS = 1024 * 1024
"""No audit row comes near this; a longer line is a broken export (or no newlines at all)."""


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    rows: int
    first_row: int = 0
    """1-based number of the chunk's first data row (the header is not counted)."""


@dataclass
class ScanResult:
    delimiter: str
    header_start: int
    header_end: int
    columns: list[str]
    rows: int = 0
    """Data rows in the file, valid or not."""
    bytes: int = 0
    sha256: str = ""
    chunks: list[Chunk] = field(default_factory=list)
    invalid: InvalidRows = field(default_factory=InvalidRows)
    duplicates: int = 0
    """Valid rows repeating an earlier valid row's employee, patient and timestamp."""
    rules: RowRules | None = None

    @property
    def rows_valid(self) -> int:
        return self.rows - len(self.invalid)


class _Lines:
    """Decodes blocks into lines for ``csv.reader`` and counts the bytes handed out."""

    def __init__(self, blocks: Iterable[bytes], name: str, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes
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
            if self.total + self.bom_length > self._max_bytes:
                raise Rejected(
                    "too-large",
                    f"{self._name} is larger than the connector limit of {_size(self._max_bytes)}",
                )
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
            if len(pending) > MAX_LINE_CHARS:
                raise Rejected(
                    "line-too-long",
                    f"{self._name} has a line longer than {MAX_LINE_CHARS:,} characters near byte "
                    f"{self.offset:,}; no audit row is that long (is the file delimited text?)",
                )
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


def scan(
    blocks: Iterable[bytes],
    name: str,
    schema: Schema,
    chunk_rows: int,
    *,
    mapping: Mapping[str, str] | None = None,
    required: Sequence[str] = DEFAULT_REQUIRED,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> ScanResult:
    """Validate the header and every row; plan chunks of up to ``chunk_rows`` valid rows.

    Invalid rows fall between chunks: a chunk ends before one and the next starts after
    it, so every chunk stays one contiguous byte range of valid rows that a worker reads
    with one ranged GET. What to do about the invalid rows (skip or reject) is the
    caller's policy; only the limits and unreadable files raise ``Rejected`` here.
    """
    lines = _Lines(blocks, name, max_bytes)
    line_iter = iter(lines)
    try:
        first = next(line_iter)
    except StopIteration:
        raise Rejected("empty", f"{name} is empty; a header line is expected") from None
    delimiter = dialects.detect(name, schema.kind, first)
    reader = csv.reader(_prepend(first, line_iter), delimiter=delimiter, strict=True)
    result = ScanResult(delimiter, lines.bom_length, 0, [])
    chunks = result.chunks
    invalid = result.invalid
    duplicates = DuplicateCounter()
    buckets = duplicates.buckets
    rows = 0
    try:
        try:
            result.columns = columns = next(reader)
        except StopIteration:
            raise Rejected("empty", f"{name} has no header line") from None
        result.header_end = lines.offset
        found = header.match(schema, columns, name, mapping)
        rules = result.rules = RowRules.build(schema, columns, found, required, name)
        width, ti, values, key = rules.width, rules.time_index, rules.required_values, rules.duplicate_key
        in_chunk = first_row = 0
        start = previous = lines.offset
        last_ts = None
        for record in reader:
            # The hot path: a few C calls per row. Keep it that way (see bench/scan.py).
            valid = len(record) == width
            if valid:
                ts = record[ti]
                if ts != last_ts:
                    valid = parses(ts)
                    if valid:
                        last_ts = ts
                if valid and "" in values(record):
                    valid = False
            elif not record:
                continue  # a blank line is not a row (and harmless inside a chunk)
            rows += 1
            if valid:
                h = hash(key(record))
                buckets[h & 255].append(h)
                if not in_chunk:
                    start, first_row = previous, rows
                in_chunk += 1
                if in_chunk == chunk_rows:
                    chunks.append(Chunk(len(chunks), start, lines.offset, in_chunk, first_row))
                    in_chunk = 0
                    _check_rows(rows, max_rows, name)
            else:
                invalid.add(rows, *rules.why(record))
                if in_chunk:
                    chunks.append(Chunk(len(chunks), start, previous, in_chunk, first_row))
                    in_chunk = 0
            previous = lines.offset
    except csv.Error as exc:
        raise Rejected(
            "malformed", f"{name}: malformed quoting in or after data row {rows + 1}: {exc}"
        ) from None
    result.rows = rows
    _check_rows(rows, max_rows, name)
    if in_chunk:
        chunks.append(Chunk(len(chunks), start, lines.offset, in_chunk, first_row))
    result.bytes = lines.offset
    result.sha256 = lines.sha256
    result.duplicates = duplicates.count()
    return result


def _check_rows(rows: int, max_rows: int, name: str) -> None:
    if rows > max_rows:
        raise Rejected(
            "too-many-rows",
            f"{name} has more than {max_rows:,} rows, the connector limit. Split the export.",
        )


def _size(n: int) -> str:
    return f"{n / 1024**3:g} GB" if n >= 1024**3 else f"{n:,} bytes"


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
