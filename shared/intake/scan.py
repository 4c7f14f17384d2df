"""One streaming pass over an export: header, row count, SHA-256 and chunk boundaries.

The file is read block by block and never held whole. Records are parsed by ``csv`` so
quoted fields spanning lines are handled; ``reader.line_num`` says how many physical lines
a record ended on, which ``_Source`` turns into a byte offset, so a chunk boundary is a
byte offset on a record boundary that a worker later reads with one ranged GET, without
scanning again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import queue
import re
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from shared.common import dialect as dialects
from shared.common import header
from shared.common.errors import Rejected
from shared.common.events import EventFilter, event_key
from shared.common.schema import Schema
from shared.common.settings import DEFAULT_REQUIRED
from shared.intake.rows import DuplicateCounter, InvalidRows, RowRules
from shared.intake.timestamps import parses

MAX_BYTES = 3 * 1024**3
MAX_ROWS = 5_000_000
READ_BUFFER = 1 << 20
"""Raw block size handed to the text layer; small enough that offset look-ups are cheap."""
MAX_LINE_CHARS = 1024 * 1024
"""No audit row comes near this; a longer line is a broken export (or no newlines at all)."""


MAX_SKIPS = 100
"""Invalid rows one chunk may step over before it is cut there; bounds the message size."""


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    rows: int
    """Valid rows: what the chunk delivers."""
    first_row: int = 0
    """1-based number of the chunk's first data row (the header is not counted)."""
    skip: tuple[tuple[int, int], ...] = ()
    """Byte ranges of invalid rows inside [start, end), left out of the upload."""

    @property
    def size(self) -> int:
        """Bytes uploaded: the range less what it skips."""
        return self.end - self.start - sum(e - s for s, e in self.skip)


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
    filtered_by_event: dict[str, int] = field(default_factory=dict)
    """Valid rows the connector's ``events`` filter leaves out, by Event Name (trimmed and
    case-folded): neither invalid nor uploaded."""
    found: dict[str, int] = field(default_factory=dict)
    """Column index of every schema field the header has."""

    @property
    def rows_valid(self) -> int:
        return self.rows - len(self.invalid)

    @property
    def rows_filtered(self) -> int:
        return sum(self.filtered_by_event.values())

    @property
    def rows_to_send(self) -> int:
        """What the chunks deliver: valid rows less the filtered ones."""
        return self.rows_valid - self.rows_filtered


class _Source(io.RawIOBase):
    """The export's bytes as a raw stream for ``TextIOWrapper``, with the bookkeeping on the side.

    Why this shape: ``csv.reader`` over a ``TextIOWrapper`` runs its line splitting and
    decoding in C, as fast as a bare ``csv.reader`` loop. Byte offsets are not tracked per
    line; per block we only count newlines, and an offset is worked out from
    ``reader.line_num`` when a chunk boundary needs one. Hashing runs on a thread
    (``hashlib`` releases the GIL), so it costs the parse almost nothing.
    """

    KEEP_BYTES = 16 * 1024 * 1024
    """Bytes of recent blocks kept for offset look-ups: far more than the text layer reads
    ahead (``READ_BUFFER``), and more than any sane record spans."""

    def __init__(self, blocks: Iterable[bytes], name: str, max_bytes: int) -> None:
        super().__init__()
        self._blocks = _head_first(blocks, 64)
        self._name = name
        self._max_bytes = max_bytes
        self._view = memoryview(b"")
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._hasher = threading.Thread(target=self._hash_blocks, daemon=True)
        self._hasher.start()
        self.bom_length = -1
        self.total = 0
        self._line_run = 0
        self._newlines = [0]
        """Newlines before each block, then the total: block i holds newlines ``(n[i], n[i+1]]``."""
        self._starts: list[int] = []
        self._recent: dict[int, tuple[bytes, list[int] | None]] = {}
        self._kept = 0
        self._oldest = 0

    def _hash_blocks(self) -> None:
        while (block := self._queue.get()) is not None:
            self._hash.update(block)

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:  # type: ignore[override]
        while not self._view:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._accept(block)
        n = min(len(out), len(self._view))
        out[:n] = self._view[:n]
        self._view = self._view[n:]
        return n

    def _accept(self, block: bytes) -> None:
        self._queue.put(block)
        if self.bom_length < 0:
            self.bom_length = dialects.check_encoding(block[:64], self._name)
            block = block[self.bom_length :]
        self.total += len(block)
        if self.total + self.bom_length > self._max_bytes:
            raise Rejected(
                "too-large", f"{self._name} is larger than the connector limit of {_size(self._max_bytes)}"
            )
        last = block.rfind(b"\n")
        self._line_run = self._line_run + len(block) if last < 0 else len(block) - last - 1
        if self._line_run > MAX_LINE_CHARS:
            raise Rejected(
                "line-too-long",
                f"{self._name} has a line longer than {MAX_LINE_CHARS:,} bytes near byte "
                f"{self.total + self.bom_length:,}; no audit row is that long (is the file delimited text?)",
            )
        index = len(self._starts)
        self._starts.append(self.bom_length + self.total - len(block))
        self._newlines.append(self._newlines[-1] + block.count(b"\n"))
        self._recent[index] = (block, None)
        self._kept += len(block)
        while len(self._recent) > 2 and self._kept - len(self._recent[self._oldest][0]) >= self.KEEP_BYTES:
            self._kept -= len(self._recent.pop(self._oldest)[0])
            self._oldest += 1
        self._view = memoryview(block)

    def offset_after(self, line: int) -> int:
        """Byte offset just after physical line ``line`` (1-based), i.e. after its newline."""
        if line >= self._newlines[-1] + 1 or line == 0:
            return self.bom_length + self.total if line else self.bom_length
        index = bisect_left(self._newlines, line) - 1
        if index not in self._recent:
            raise Rejected(
                "record-too-long",
                f"{self._name}: a record near byte {self._starts[index]:,} spans more than "
                f"{self.KEEP_BYTES // 1024**2} MB (an unterminated quote?)",
            )
        block, positions = self._recent[index]
        if positions is None:
            positions = [m.start() for m in _NEWLINE.finditer(block)]
            self._recent[index] = (block, positions)
        return self._starts[index] + positions[line - self._newlines[index] - 1] + 1

    def close(self) -> None:
        """End the hashing thread once every block read so far is hashed (also on errors)."""
        self._queue.put(None)
        self._hasher.join()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


_NEWLINE = re.compile(b"\n")


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
    events: EventFilter | None = None,
) -> ScanResult:
    """Validate the header and every row; plan chunks of up to ``chunk_rows`` rows to send.

    A chunk is one byte range (one ranged GET for the worker) with the byte ranges of the
    invalid rows inside it listed in ``skip``, up to ``MAX_SKIPS``; the worker leaves those
    out of the upload. What to do about invalid rows (skip or reject) is the caller's
    policy; only the limits and unreadable files raise ``Rejected`` here. Rows the ``events``
    filter leaves out are counted apart; a chunk neither begins nor ends with one (the worker
    drops those inside it, as it parses the chunk anyway to send only the schema's columns).
    """
    source = _Source(blocks, name, max_bytes)
    try:
        result = _scan(source, name, schema, chunk_rows, mapping, required, max_rows, events)
    except UnicodeDecodeError:
        raise Rejected(
            "encoding",
            f"{name} is not valid UTF-8 (near byte {source.total + max(source.bom_length, 0):,}); "
            "export it as UTF-8",
        ) from None
    finally:
        source.close()
    result.sha256 = source.sha256
    return result


def _scan(
    source: _Source,
    name: str,
    schema: Schema,
    chunk_rows: int,
    mapping: Mapping[str, str] | None,
    required: Sequence[str],
    max_rows: int,
    events: EventFilter | None,
) -> ScanResult:
    text = io.TextIOWrapper(io.BufferedReader(source, READ_BUFFER), encoding="utf-8", newline="\n")
    first = text.readline()
    if not first:
        raise Rejected("empty", f"{name} is empty; a header line is expected")
    delimiter = dialects.detect(name, schema.kind, first)
    reader = _Records(itertools.chain((first,), text), delimiter)
    records = iter(reader)
    result = ScanResult(delimiter, source.bom_length, 0, [])
    chunks = result.chunks
    invalid = result.invalid
    duplicates = DuplicateCounter()
    buckets = duplicates.buckets
    offset = source.offset_after
    rows = 0
    try:
        try:
            result.columns = columns = next(records)
        except StopIteration:
            raise Rejected("empty", f"{name} has no header line") from None
        result.header_end = offset(reader.line_num)
        found = result.found = header.match(schema, columns, name, mapping)
        rules = result.rules = RowRules.build(schema, columns, found, required, name)
        width, ti, values, key = rules.width, rules.time_index, rules.required_values, rules.duplicate_key
        ei, filtered = found["event_name"], result.filtered_by_event
        in_chunk = first_row = start = kept_end = 0
        skip: list[tuple[int, int]] = []
        previous = reader.line_num
        last_ts = None
        for record in records:
            # The hot path: a few C calls per row, no byte arithmetic (see bench/scan.py).
            # A row is never logged or kept: only its number and the reason it is invalid.
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
                previous = reader.line_num
                continue  # a blank line is not a row (and harmless inside a chunk)
            rows += 1
            if valid:
                if events is not None and not events.keeps(record[ei]):
                    event = event_key(record[ei])
                    filtered[event] = filtered.get(event, 0) + 1
                    previous = reader.line_num
                    continue
                h = hash(key(record))
                buckets[h & 255].append(h)
                kept_end = reader.line_num
                if not in_chunk:
                    start, first_row = offset(previous), rows
                in_chunk += 1
                if in_chunk == chunk_rows:
                    _close(chunks, start, skip, in_chunk, first_row, offset(reader.line_num))
                    in_chunk = 0
                    skip = []
                    _check_rows(rows, max_rows, name)
            else:
                invalid.add(rows, *rules.why(record))
                if in_chunk:
                    # Stepped over, not a cut: scattered invalid rows would otherwise split a
                    # file into as many chunks (and API calls) as it has invalid rows.
                    if len(skip) < MAX_SKIPS:
                        skip.append((offset(previous), offset(reader.line_num)))
                    else:
                        end = offset(kept_end) if events is not None else offset(previous)
                        _close(chunks, start, skip, in_chunk, first_row, end)
                        in_chunk = 0
                        skip = []
            previous = reader.line_num
    except csv.Error as exc:
        raise Rejected(
            "malformed", f"{name}: malformed quoting in or after data row {rows + 1}: {exc}"
        ) from None
    result.rows = rows
    _check_rows(rows, max_rows, name)
    if in_chunk:
        _close(chunks, start, skip, in_chunk, first_row, offset(kept_end if events else reader.line_num))
    result.bytes = source.bom_length + source.total
    result.duplicates = duplicates.count()
    return result


class _Records:
    """What ``csv.reader`` yields, with its ``line_num``, but faster on ordinary lines.

    Audit rows rarely need quoting. A line with no quote and no stray carriage return
    parses the same with ``str.split`` as with ``csv`` (strict), at a fraction of the cost;
    any other line hands over to a ``csv.reader`` for that one record, which pulls exactly
    the physical lines the record spans. This is what lets full row validation keep pace
    with a bare ``csv.reader`` loop.
    """

    def __init__(self, lines: Iterator[str], delimiter: str) -> None:
        self._lines = lines
        self._delimiter = delimiter
        self.line_num = 0

    def __iter__(self) -> Iterator[list[str]]:
        lines, delimiter = self._lines, self._delimiter
        n = 0
        for line in lines:
            n += 1
            cr = line.find("\r")
            if '"' in line or (cr != -1 and cr != len(line) - 2):
                reader = csv.reader(itertools.chain((line,), lines), delimiter=delimiter, strict=True)
                record = next(reader, [])
                n += reader.line_num - 1
            elif line == "\n" or line == "\r\n":
                record = []
            else:
                record = line.split(delimiter)
                last = record[-1]
                if last[-1:] == "\n":
                    record[-1] = last[:-2] if cr != -1 else last[:-1]
            self.line_num = n
            yield record


def _close(
    chunks: list[Chunk], start: int, skip: list[tuple[int, int]], rows: int, first_row: int, end: int
) -> None:
    """Close a chunk at ``end``; invalid rows right before it are left out of it, not skipped."""
    while skip and skip[-1][0] >= end:
        skip.pop()
    while skip and skip[-1][1] == end:
        end = skip.pop()[0]
    chunks.append(Chunk(len(chunks), start, end, rows, first_row, tuple(skip)))


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
