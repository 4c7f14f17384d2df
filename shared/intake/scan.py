"""One streaming pass over an export: header, row count, SHA-256 and chunk boundaries.

The file is read block by block and never held whole. Most of it is checked a run of whole
lines at a time (the fast path, ``_Runs``: 1 MB of bytes whose fields are found with numpy
and checked column by column, ``fields``, no Python code per row). What the fast path does
not take (an invalid row, a blank line, quoting ``csv`` reads otherwise) goes row by row (the
slow path, ``_RowByRow``), where ``csv`` parses any line with a quote and pulls exactly the
lines a record spans, and the fast path goes on after it. Both hand their rows, in file
order, to one chunk cutter (``_Cutter``), which makes every cut and skip. Either way the
scan knows the physical line each record ends on, which ``_Source`` turns into a byte
offset, so a chunk boundary is a byte offset on a record boundary that a worker later reads
with one ranged GET, without scanning again.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import operator
import queue
import re
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from shared.common import dialect as dialects
from shared.common import header
from shared.common.errors import Rejected
from shared.common.events import EventFilter
from shared.common.records import RecordTooLong, records
from shared.common.schema import Schema
from shared.common.settings import DEFAULT_REQUIRED
from shared.intake import diagnose, fields, furniture, heap
from shared.intake.duplicates import DuplicateCounter, row_hashes
from shared.intake.fields import Fields
from shared.intake.logins import Logins
from shared.intake.rows import DATE_ORDER_INDEX, MAX_KEY_BYTES, InvalidRows, RowRules
from shared.intake.timestamps import all_parse, ordinals, parses

MAX_BYTES = 3 * 1024**3
MAX_ROWS = 5_000_000
MAX_LINE_CHARS = 1024 * 1024
"""No audit row comes near this; a longer line is a broken export (or no newlines at all)."""


MAX_SKIPS = 100
"""Invalid rows one chunk may step over before it is cut there; bounds the message size."""
MAX_GAPS = 4
"""A run is taken with up to one row in this many left to row by row (invalid); with more,
it is not worth it: the run goes row by row, and the runs after it back off."""
MAX_SKIPPED_RUNS = 8
"""After runs stop early in a row (less than half of each taken before a record the fast path
cannot take), the next 1, 3, 7, then 7 runs go row by row without trying: a file full of
invalid rows costs what row by row costs."""


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
    logins: Logins | None = None
    """The distinct employee logins of the rows to send, when the scan was asked for them."""
    notes: list[str] = field(default_factory=list)
    """Lines left out that are not rows (a query tool's furniture), in an operator's words."""

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


class _Source:
    """The export's bytes, decoded piece by piece, with the bookkeeping on the side.

    Byte offsets are not tracked per line: per block we only count newlines, and an offset
    is worked out from a physical line number when a chunk boundary needs one. Hashing runs
    on a thread (``hashlib`` releases the GIL), so it costs the parse almost nothing.
    """

    KEEP_BYTES = 16 * 1024 * 1024
    """Bytes of recent blocks kept for offset look-ups: far more than the text decoded ahead
    of the scan (one ``TEXT_PIECE``), and more than any sane record spans."""

    def __init__(self, blocks: Iterable[bytes], name: str, max_bytes: int) -> None:
        self._blocks = _head_first(blocks, 64)
        self._name = name
        self._max_bytes = max_bytes
        self._view = memoryview(b"")
        self._done = False
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
        self._recent: dict[int, _Newlines] = {}
        self._kept = 0
        self._oldest = 0

    def _hash_blocks(self) -> None:
        while (block := self._queue.get()) is not None:
            self._hash.update(block)

    TEXT_PIECE = 1 << 20
    """Bytes handed out at once, and so the size of a run: large enough that numpy's cost per
    call (some 60 calls a run) is spread over thousands of rows, small enough that a run's
    arrays stay in the processor's cache. Measured against a bare ``csv.reader`` loop (Python
    3.13, numpy 2.5, runs paired in one process): 1 MB runs 1.8 to 2.5 times as fast on
    realistic rows and 1.4 on the padded file; 256 KB 1.5 to 2.4 and 1.2; 2 MB 1.5 to 2.3."""

    def read(self) -> bytes:
        """The next piece of the file's bytes (b"" at the end). Whether they are UTF-8 is
        checked where they are read: a run as a whole, or line by line."""
        while True:
            if self._view:
                piece, self._view = self._view[: self.TEXT_PIECE], self._view[self.TEXT_PIECE :]
                return bytes(piece)
            if self._done:
                return b""
            block = next(self._blocks, None)
            if block is None:
                self._done = True
                return b""
            self._accept(block)

    def _accept(self, block: bytes) -> None:
        self._queue.put(block)
        if self.bom_length < 0:
            self.bom_length = dialects.check_encoding(block[:64], self._name)
            block = block[self.bom_length :]
        self.total += len(block)
        if self.total + self.bom_length > self._max_bytes:
            raise Rejected(
                "too-large",
                f"{self._name} is larger than the connector limit of {_size(self._max_bytes)}: "
                "split the export (one file per half day, say) and drop the parts",
            )
        last = block.rfind(b"\n")
        self._line_run = self._line_run + len(block) if last < 0 else len(block) - last - 1
        if self._line_run > MAX_LINE_CHARS:
            raise diagnose.long_line(self._name, MAX_LINE_CHARS, self.total + self.bom_length, block)
        index = len(self._starts)
        self._starts.append(self.bom_length + self.total - len(block))
        found = _Newlines(block)
        self._newlines.append(self._newlines[-1] + found.total)
        self._recent[index] = found
        self._kept += len(block)
        if self.total // heap.TRIM_BYTES != (self.total - len(block)) // heap.TRIM_BYTES:
            heap.give_back()
        while len(self._recent) > 2 and self._kept - self._recent[self._oldest].size >= self.KEEP_BYTES:
            self._kept -= self._recent.pop(self._oldest).size
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
                f"{self.KEEP_BYTES // 1024**2} MB: a quote opened there is never closed; quote the "
                "value properly in the exporter and export again",
            )
        return self._starts[index] + self._recent[index].position(line - self._newlines[index]) + 1

    def close(self) -> None:
        """End the hashing thread once every block read so far is hashed (also on errors)."""
        self._queue.put(None)
        self._hasher.join()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


_NEWLINE = re.compile(b"\n")


class _Newlines:
    """Where the newlines of one block are, found a slice at a time as offsets are asked for.

    An offset is asked for at each chunk cut and each invalid row: listing all of a block's
    newlines for one cut (an 8 MB block holds some 36,000) cost more than the cut is worth,
    so the block's newlines are counted per slice (in C) as it arrives, which also gives its
    total, and listed only in the slice asked.
    """

    SLICE = 1 << 16

    def __init__(self, block: bytes) -> None:
        self._block = block
        self.size = len(block)
        self._ends = list(
            itertools.accumulate(
                block.count(b"\n", s, s + self.SLICE) for s in range(0, len(block), self.SLICE)
            )
        )
        """Newlines in the block up to the end of each slice."""
        self.total = self._ends[-1] if self._ends else 0
        self._listed: dict[int, list[int]] = {}

    def position(self, k: int) -> int:
        """Offset in the block of its ``k``-th newline (1-based)."""
        i = bisect_left(self._ends, k)
        if (positions := self._listed.get(i)) is None:
            start = i * self.SLICE
            positions = self._listed[i] = [
                m.start() for m in _NEWLINE.finditer(self._block, start, start + self.SLICE)
            ]
        return positions[k - (self._ends[i - 1] if i else 0) - 1]


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
    logins: bool = False,
    day_first: bool = False,
) -> ScanResult:
    """Validate the header and every row; plan chunks of up to ``chunk_rows`` rows to send.

    A chunk is one byte range (one ranged GET for the worker) with the byte ranges of the
    invalid rows inside it listed in ``skip``, up to ``MAX_SKIPS``; the worker leaves those
    out of the upload. What to do about invalid rows (skip or reject) is the caller's
    policy; only the limits and unreadable files raise ``Rejected`` here. Rows the ``events``
    filter leaves out are counted apart; a chunk neither begins nor ends with one (the worker
    drops those inside it, as it parses the chunk anyway to send only the schema's columns).
    With ``logins`` the distinct employee logins of the rows to send are collected too.
    """
    source = _Source(blocks, name, max_bytes)
    lines = _Text(source)
    try:
        result = _scan(
            source, lines, name, schema, chunk_rows, mapping, required, max_rows, events, logins, day_first
        )
    except UnicodeDecodeError:
        raise diagnose.not_utf8(name, *lines.first_undecodable(), source.bom_length) from None
    finally:
        source.close()
    result.sha256 = source.sha256
    return result


def _scan(
    source: _Source,
    lines: _Text,
    name: str,
    schema: Schema,
    chunk_rows: int,
    mapping: Mapping[str, str] | None,
    required: Sequence[str],
    max_rows: int,
    events: EventFilter | None,
    logins: bool = False,
    day_first: bool = False,
) -> ScanResult:
    first = lines.first_line()
    if not first:
        raise Rejected("empty", f"{name} is empty; a header line is expected: export the audit log again")
    diagnose.first_line(name, first)
    delimiter = dialects.detect(name, schema.kind, first)
    result = ScanResult(delimiter, source.bom_length, 0, [])
    cutter = _Cutter(result, source.offset_after, chunk_rows, max_rows, name, events is not None)
    duplicates = DuplicateCounter()
    try:
        rules = _header(lines, source, result, schema, name, mapping, required, day_first)
        cutter.previous = lines.line
        if schema.event_key not in result.found:  # an HR file without an HRScenario column: all profiles
            events, cutter.filtering = None, False
        event_index = result.found.get(schema.event_key, 0)
        collected = result.logins = Logins(result.found["employee_upn"]) if logins else None
        fast = _Runs(rules, delimiter, duplicates, events, event_index, collected)
        slow = _RowByRow(rules, delimiter, cutter, result, duplicates, events, event_index, collected)
        _rows(lines, cutter, fast, slow)
    except csv.Error as exc:
        raise diagnose.malformed(name, cutter.rows + 1, exc) from None
    except RecordTooLong as exc:
        where = f"data row {cutter.rows + 1}" if result.columns else "the header"
        raise Rejected(
            "record-too-long", f"{name}: {where} {exc}; no audit row comes near that (an unterminated quote?)"
        ) from None
    cutter.finish(lines.line)
    if cutter.footers:
        result.notes.append(furniture.FOOTER_NOTE.format(n=cutter.footers))
    result.duplicates = duplicates.count()
    result.bytes = source.bom_length + source.total
    return result


def _header(
    lines: _Text,
    source: _Source,
    result: ScanResult,
    schema: Schema,
    name: str,
    mapping: Mapping[str, str] | None,
    required: Sequence[str],
    day_first: bool,
) -> RowRules:
    """The header line: its columns matched to the schema, and the rules every row is checked
    by; a query tool's dashes line under it is left out with a note."""
    try:
        result.columns = columns = next(records(lines.lines(), result.delimiter))
    except StopIteration:
        raise Rejected("empty", f"{name} has no header line: export the audit log again") from None
    result.header_end = source.offset_after(lines.line)
    if furniture.is_rule(lines.peek_line(), result.delimiter):
        lines.commit(len(lines.peek_line().encode()), 1)
        result.notes.append(furniture.RULE_NOTE)
    found = result.found = header.match(schema, columns, name, mapping)
    rules = result.rules = RowRules.build(schema, columns, found, required, name, day_first)
    return rules


def _rows(lines: _Text, cutter: _Cutter, fast: _Runs, slow: _RowByRow) -> None:
    """Every row after the header: a run at a time where the fast path takes it, row by row
    where it does not (a record it stops at, the runs backed off after misses, a last line
    without its newline)."""
    misses = skip = 0
    while body := lines.run():
        if skip or body[-1:] != b"\n":
            skip = max(skip - 1, 0)
            slow.take(lines, lines.line + max(body.count(b"\n"), 1), body)
            continue
        if taken := fast.accept(body):
            _take(lines, cutter, fast, slow)
        if taken == fast.lines:
            misses = max(misses - 1, 0)  # one pass forgives one miss: mostly failing stays backed off
            continue
        if taken < fast.lines // 2:  # little taken before the record that stopped the run: a miss
            misses += 1
            skip = min(1 << misses, MAX_SKIPPED_RUNS) - 1
        # That one record row by row, then the fast path (or the backed-off runs) again.
        slow.take(lines, lines.line + 1, b"")


def _take(lines: _Text, cutter: _Cutter, fast: _Runs, slow: _RowByRow) -> None:
    """The rows of the run the fast path last took: the valid ones in stretches (the filtered
    ones among them counted), each of the few invalid ones (``gaps``) row by row in between,
    which records its reason."""
    counts = cutter.result.filtered_by_event
    for event, n in fast.filtered.items():
        counts[event] = counts.get(event, 0) + n
    done = 0
    for gap in [*fast.gaps, fast.rows]:
        if gap > done:
            lines.commit(fast.begins(gap) - fast.begins(done), fast.lines_of(gap) - fast.lines_of(done))
            cutter.stretch(gap - done, functools.partial(fast.lines_after, done), fast.sent(done, gap))
        if gap < fast.rows:
            slow.take(lines, lines.line + 1, b"")
        done = gap + 1


class _Text:
    """The file's bytes, handed out as runs of whole lines (what one piece holds, see
    ``_Source.TEXT_PIECE``) or as decoded lines one by one.

    ``line`` counts the physical lines consumed, as ``csv.reader.line_num`` would; the slow
    path's ``csv.reader`` pulls lines from ``lines()`` and so takes exactly what it spans.
    """

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.line = 0
        self._base = 0
        """Bytes (after any BOM) before the buffer's first."""
        self._base_line = 0
        """Physical lines before the buffer's first byte."""

    def _fill(self) -> None:
        more = self._source.read()
        self._base += self._pos
        self._base_line = self.line
        self._buf = self._buf[self._pos :] + more
        self._pos = 0
        self._eof = not more

    def first_undecodable(self) -> tuple[int, int, bytes]:
        """(offset after any BOM, 1-based physical line, the bytes from there) of the first
        byte buffered that is not UTF-8: what a decode here just failed on, since the lines
        before it decoded (the buffer begins on a line)."""
        buf = self._buf
        end = len(buf) if self._eof else buf.rfind(b"\n") + 1
        try:
            buf[:end].decode()
            start = end
        except UnicodeDecodeError as exc:
            start = exc.start
        return self._base + start, self._base_line + buf.count(b"\n", 0, start) + 1, buf[start : start + 64]

    def first_line(self) -> str:
        """The first line, decoded, not consumed ("" for an empty file)."""
        return self.peek_line()

    def peek_line(self) -> str:
        """The next line, decoded, not consumed ("" at the end)."""
        while (end := self._buf.find(b"\n", self._pos) + 1) == 0 and not self._eof:
            self._fill()
        return (self._buf[self._pos : end] if end else self._buf[self._pos :]).decode()

    def run(self) -> bytes:
        """All whole lines buffered from here (not consumed); at the end the last line even
        without its newline; b"" at the end."""
        while True:
            buf, pos = self._buf, self._pos
            if end := buf.rfind(b"\n", pos) + 1:
                return buf[pos:end]
            if self._eof:
                return buf[pos:]
            self._fill()

    def commit(self, size: int, lines: int) -> None:
        self._pos += size
        self.line += lines

    def lines(self, bulk: bool = True) -> Iterator[str]:
        """Decoded lines one by one from here; each counts as consumed once handed out.
        ``bulk`` splits all whole lines buffered at once, for a caller that takes many."""
        while True:
            buf, pos = self._buf, self._pos
            end = buf.find(b"\n", pos) + 1
            if not end:
                if not self._eof:
                    self._fill()
                    continue
                if pos == len(buf):
                    return
                end = len(buf)
            last = buf.rfind(b"\n", end) + 1 if bulk else 0
            if last > end:  # several whole lines buffered: split them at once
                for piece in buf[pos:last].split(b"\n")[:-1]:
                    self._pos += len(piece) + 1
                    self.line += 1
                    yield piece.decode() + "\n"
                continue
            self._pos = end
            self.line += 1
            yield buf[pos:end].decode()


class _Cutter:
    """Row numbers, chunk cuts and skips: every one the scan makes, whichever path read the rows.

    Both paths report here in file order: the fast path a stretch of valid rows at a time
    (``stretch``), the slow path one record at a time (``send``, ``invalid``, ``filtered``,
    ``blank``), each record by the physical line it ends on. A chunk begins and ends on a row
    to send and holds up to ``chunk_rows`` of them; it steps over up to ``MAX_SKIPS`` invalid
    rows (its ``skip``), and is cut short at the next one; ``_cut`` is the one place a chunk
    is closed.
    """

    def __init__(
        self,
        result: ScanResult,
        offset: Callable[[int], int],
        chunk_rows: int,
        max_rows: int,
        name: str,
        filtering: bool,
    ) -> None:
        self.result = result
        self.offset = offset
        """Byte offset just after a physical line (``_Source.offset_after``)."""
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.name = name
        self.filtering = filtering
        """An events filter is on: a chunk ends on its last row to send, not after a filtered one."""
        self.rows = 0
        """Data rows so far, valid or not."""
        self.previous = 0
        """The physical line the last record ended on."""
        self.kept_end = 0
        """The physical line the last row to send ended on."""
        self._in_chunk = self._first_row = self._start = 0
        self._skip: list[tuple[int, int]] = []
        self.footers = 0
        """A query tool's footer lines met (``furniture``): neither rows nor sent."""

    def stretch(
        self, n: int, lines_of: Callable[[int], int], sent: Sequence[int] | np.ndarray | None
    ) -> None:
        """``n`` valid rows right after line ``previous``; the first ``j`` of them span
        ``lines_of(j)`` lines (``j`` unless a quoted field holds a line break). ``sent`` lists
        the ones to send when the events filter leaves some out: a chunk begins and ends on
        one of those, and the worker drops a filtered row inside a chunk."""
        first, rows = self.previous, self.rows
        order: Sequence[int] | np.ndarray = range(n) if sent is None else sent
        done = 0
        while done < len(order):
            if not self._in_chunk:
                j = int(order[done])
                self._start, self._first_row = self.offset(first + lines_of(j)), rows + j + 1
            take = min(len(order) - done, self.chunk_rows - self._in_chunk)
            self._in_chunk += take
            done += take
            if self._in_chunk == self.chunk_rows:
                last = int(order[done - 1]) + 1
                self._cut(first + lines_of(last))
                _check_rows(rows + last, self.max_rows, self.name)
        self.rows = rows + n
        if len(order):
            self.kept_end = first + lines_of(int(order[-1]) + 1)
        self.previous = first + lines_of(n)

    def send(self, end: int) -> None:
        """One valid row to send, ending on line ``end``."""
        self.rows += 1
        if not self._in_chunk:
            self._start, self._first_row = self.offset(self.previous), self.rows
        self.kept_end = self.previous = end
        self._in_chunk += 1
        if self._in_chunk == self.chunk_rows:
            self._cut(end)
            _check_rows(self.rows, self.max_rows, self.name)

    def invalid(self, end: int) -> int:
        """One invalid row, ending on line ``end``: stepped over inside a chunk (scattered
        invalid rows would otherwise split a file into as many chunks and API calls), or,
        past ``MAX_SKIPS``, where the chunk is cut. Its row number."""
        self.rows += 1
        if self._in_chunk:
            if len(self._skip) < MAX_SKIPS:
                self._skip.append((self.offset(self.previous), self.offset(end)))
            else:
                self._cut(self.kept_end if self.filtering else self.previous)
        self.previous = end
        return self.rows

    def filtered(self, end: int) -> None:
        """One valid row the events filter leaves out (inside a chunk, the worker drops it)."""
        self.rows += 1
        self.previous = end

    def blank(self, end: int) -> None:
        """A blank line: not a row, and harmless inside a chunk."""
        self.previous = end

    def footer(self, end: int) -> None:
        """A query tool's footer line (``furniture``): not a row, yet never sent, so stepped
        over inside a chunk as an invalid row is."""
        self.footers += 1
        if self._in_chunk:
            self._skip.append((self.offset(self.previous), self.offset(end)))
        self.previous = end

    def finish(self, line: int) -> None:
        """The end of the file, after physical line ``line``: the last chunk closed."""
        self.result.rows = self.rows
        _check_rows(self.rows, self.max_rows, self.name)
        if self._in_chunk:
            self._cut(self.kept_end if self.filtering else line)

    def _cut(self, line: int) -> None:
        """Close the open chunk after physical line ``line``; invalid rows right before its end
        are left out of it, not skipped."""
        end, skip = self.offset(line), self._skip
        while skip and skip[-1][0] >= end:
            skip.pop()
        while skip and skip[-1][1] == end:
            end = skip.pop()[0]
        chunks = self.result.chunks
        chunks.append(Chunk(len(chunks), self._start, end, self._in_chunk, self._first_row, tuple(skip)))
        self._in_chunk = 0
        self._skip = []


class _Runs:
    """The fast path: checks a run of whole lines at once, with no Python code per row.

    The run's fields are found over its bytes (``fields.split``, which also proves every
    record has the header's width) and checked column by column: required fields by their
    lengths, timestamps as a table of digits (or, in mixed forms, as strings, each distinct one
    parsed once), duplicate keys hashed from the bytes in place. Order does not matter within
    a run (the rows are counted, their keys hashed, chunk cuts worked out from line numbers).
    Rows the events filter leaves out are counted in bulk (``filtered``, ``sent``); a few
    invalid rows do not stop it (``gaps``: they go row by row in between, where their reasons
    are recorded); a record it cannot read (quoting ``csv`` reads another way, another width,
    a blank line, a record going on past the run) does: the records before it are taken, it
    goes row by row.
    """

    def __init__(
        self,
        rules: RowRules,
        delimiter: str,
        duplicates: DuplicateCounter,
        events: EventFilter | None = None,
        event_index: int = 0,
        logins: Logins | None = None,
    ) -> None:
        self._events, self._ei = events, event_index
        self._logins = logins
        self._sent_events: set[str] = set()
        """Event Names seen lately that the filter lets through."""
        self._d = delimiter
        self._width = rules.width
        self._ti = rules.time_index
        self._day_first = rules.day_first
        self._required = [i for i, _ in rules.required]
        self._key = list(rules.key_indices)
        self._duplicates = duplicates
        self._known: set[str] = set()
        """Timestamps seen valid lately; audit rows share seconds, so most are met again."""
        self._fields: Fields | None = None
        self.gaps: list[int] = []
        """Rows of the run last taken that go row by row: the invalid ones."""
        self._sent: np.ndarray | None = None
        """Rows of the run last taken the events filter lets through, if it left some out."""
        self.filtered: dict[str, int] = {}
        """Rows of the run last taken the events filter left out, by Event Name."""
        self._stop = 0
        """Where the first record the last ``valid`` could not take begins (0 if unknown)."""
        self.rows = 0
        """Rows in the lines the last ``valid`` checked (fewer if a quoted line break spans two)."""
        self.lines = 0
        """Lines in the run the last ``accept`` was given."""

    def accept(self, body: bytes) -> int:
        """The lines of ``body`` taken from its start: all of it if every record in it has the
        header's width (a few invalid rows among them, ``gaps``, go row by row; rows the events
        filter leaves out are counted, ``filtered``); else the records before the first one the
        fast path cannot take (an invalid row among many, a blank line, quoting ``csv`` reads
        otherwise, a record going on past the run), which then goes row by row. ``rows``,
        ``begins`` and ``lines_of`` say how the lines taken divide into rows; ``lines`` is how
        many ``body`` holds."""
        if self.valid(body):
            self.lines = self.lines_of(self.rows)
            return self.lines
        self.lines = body.count(b"\n")
        if (cut := self._stop) and self.valid(body[:cut]):
            return self.lines_of(self.rows)
        return 0

    def lines_of(self, j: int) -> int:
        """Physical lines the first ``j`` rows of the run last taken span: ``j`` unless a
        quoted field holds a line break. Asked where a chunk is cut inside a run."""
        return self._fields.lines_of(j) if self._fields is not None else j

    def lines_after(self, a: int, j: int) -> int:
        """Physical lines rows ``a`` to ``a + j`` of the run last taken span."""
        return self.lines_of(a + j) - self.lines_of(a)

    def begins(self, j: int) -> int:
        """Where row ``j`` of the run last taken begins, in bytes from its start."""
        return self._fields.begins(j) if self._fields is not None else 0

    def sent(self, start: int, end: int) -> np.ndarray | None:
        """The rows in ``[start, end)`` of the run last taken that the events filter lets
        through, counted from ``start``; None if it left none out."""
        if self._sent is None:
            return None
        sent = self._sent
        return sent[np.searchsorted(sent, start) : np.searchsorted(sent, end)] - start

    def valid(self, body: bytes) -> bool:
        """True (and the run's duplicate keys counted) if every record of ``body`` has the
        header's width and few of them are invalid (``gaps``); if not, ``_stop`` says where
        the first record it cannot take begins."""
        self._fields, self._stop = None, 0
        found = fields.split(body, self._d, self._width)
        if found is None:
            self._stop = fields.trouble(body, self._d, self._width)
            return False
        stamps, order, times = self._times(found)
        bad = self._invalid(found, times)
        if int(bad.sum()) * MAX_GAPS > found.rows:  # mostly invalid: row by row, backed off
            self._stop = found.begins(int(bad.argmax()))
            return False
        if not body.isascii():
            body.decode()  # raises for bytes that are not UTF-8, as row by row would
        filtered = self._filtered(found, bad)
        self.gaps = np.flatnonzero(bad).tolist()
        self._sent = np.flatnonzero(~filtered) if filtered.any() else None
        self.rows, self._fields = found.rows, found
        keep = ~(bad | filtered)
        keep_some = None if keep.all() else keep
        self._count(found.key_hashes(self._key, keep_some), order, stamps, times, keep_some)
        if self._logins is not None:
            self._logins.run(found, keep_some)
        return True

    def _times(self, found: Fields) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
        """The run's timestamps: as a table of digits and their order where they are all in one
        fixed form, else as strings. Rows without a timestamp (an HR profile) share "" as theirs."""
        if self._ti is None:
            return None, None, [""] * found.rows
        stamps = found.fixed(self._ti)
        order = None if stamps is None else ordinals(stamps)
        return stamps, order, (found.strings(self._ti) if order is None else [])

    def _invalid(self, found: Fields, times: list[str]) -> np.ndarray:
        """Per row, True if it is invalid: a required field empty, a timestamp that does not parse."""
        bad = found.empty(self._required) if self._required else np.zeros(found.rows, bool)
        bad |= found.longer(self._key, MAX_KEY_BYTES)  # rows past it: row by row, which reads exactly
        new = set(times) - self._known if self._ti is not None else set()
        if new and not all_parse(new, self._day_first):
            wrong = {t for t in new if not parses(t, self._day_first)}
            bad |= np.fromiter(map(wrong.__contains__, times), bool, len(times))
            new -= wrong
        if len(self._known) > 100_000:
            self._known.clear()
        self._known |= new
        return bad

    def _filtered(self, found: Fields, invalid: np.ndarray) -> np.ndarray:
        """Per row, True if it is valid and the events filter leaves its Event Name out;
        ``filtered`` then counts them by name (an invalid row is counted as invalid only)."""
        self.filtered = {}
        if self._events is None:
            return np.zeros(found.rows, bool)
        names = found.strings(self._ei)
        new = set(names) - self._sent_events
        dropped = {name for name in new if not self._events.keeps(name)}
        if len(self._sent_events) > 10_000:
            self._sent_events.clear()
        self._sent_events |= new - dropped
        if not dropped:
            return np.zeros(found.rows, bool)
        out: np.ndarray = np.fromiter(map(dropped.__contains__, names), bool, len(names)) & ~invalid
        for name, n in Counter(itertools.compress(names, out.tolist())).items():
            event = self._events.bucket(name)
            self.filtered[event] = self.filtered.get(event, 0) + n
        return out

    def _count(
        self,
        hashes: np.ndarray,
        order: np.ndarray | None,
        stamps: np.ndarray | None,
        times: list[str],
        keep: np.ndarray | None,
    ) -> None:
        """The duplicate keys of the run's valid rows (all, or those ``keep`` says)."""
        if keep is not None:
            if order is None:
                times = list(itertools.compress(times, keep.tolist()))
            else:
                order, stamps = order[keep], stamps[keep]  # type: ignore[index]
        if order is None or stamps is None:
            self._duplicates.add(times, hashes)
        elif len(hashes):
            first, last = int(order.argmin()), int(order.argmax())
            earliest, latest = stamps[first].tobytes().decode(), stamps[last].tobytes().decode()
            self._duplicates.add_batch(hashes, earliest, latest, hashes[order == order[last]])


class _RowByRow:
    """The slow path: records one by one, each checked and handed to the cutter as it comes.

    ``csv`` parses any line with a quote and pulls exactly the lines a record spans
    (``records``); the checks are those of the fast path, made per row: the field count, the
    timestamp (each distinct one parsed once in a row), the required fields, the key values'
    length. An invalid row's reason is recorded here, by row number; a row is never logged
    or kept.
    """

    def __init__(
        self,
        rules: RowRules,
        delimiter: str,
        cutter: _Cutter,
        result: ScanResult,
        duplicates: DuplicateCounter,
        events: EventFilter | None,
        event_index: int,
        logins: Logins | None = None,
    ) -> None:
        self._rules, self._d, self.cutter = rules, delimiter, cutter
        self._invalid, self._filtered = result.invalid, result.filtered_by_event
        self._duplicates = duplicates
        self._events, self._ei = events, event_index
        self._logins = logins

    def take(self, text: _Text, until: int, run: bytes) -> None:
        """Records one by one up to physical line ``until`` (or past it, to a record's end).

        ``run`` is the bytes of those lines: decoded and split at once and iterated in C when
        it can be (its lines are then consumed up front; ``length_hint`` of ``pending`` says
        how many are left), so the loop costs what it did over a ``TextIOWrapper``. With
        ``run`` empty (one record spanning lines), lines are taken one at a time, not the whole
        buffer split for it.
        """
        pieces = run.decode().splitlines(keepends=True) if run[-1:] == b"\n" else []
        if pieces and len(pieces) == run.count(b"\n") == until - text.line:  # no other line breaks
            pending: Iterator[str] = iter(pieces)
            text.commit(len(run), len(pieces))
            self._check(text, pending, itertools.chain(pending, text.lines()), until)
        else:
            self._check(text, iter(()), text.lines(bulk=bool(run)), until)

    def _check(self, text: _Text, pending: Iterator[str], lines: Iterator[str], until: int) -> None:
        """Each record of ``lines`` checked and handed to the cutter, by the line it ends on:
        what ``text`` has consumed less the ``pending`` lines not yet read."""
        rules, cut, left = self._rules, self.cutter, operator.length_hint
        width, ti, values = rules.width, rules.time_index, rules.required_values
        events, ei, filtered = self._events, self._ei, self._filtered
        times: list[str] = []
        keys: list[tuple[str, ...]] = []
        last_ts = None if ti is not None else ""  # rows without a timestamp: "" always passes
        try:
            for record in records(lines, self._d, screen=True):
                end = text.line - left(pending)
                if len(record) == width and type(record) is list:
                    ts = record[ti] if ti is not None else ""
                    valid = ts == last_ts or parses(ts, rules.day_first)
                    last_ts = ts if valid else last_ts
                    valid = valid and "" not in values(record) and not rules.key_too_long(record)
                elif not record or furniture.is_footer(record):
                    if record:
                        cut.footer(end)
                    else:
                        cut.blank(end)
                    if end >= until:
                        break
                    continue
                else:
                    valid = False
                if not valid:
                    code, detail = rules.why(record)
                    if code == DATE_ORDER_INDEX:
                        raise rules.date_order_rejected(cut.name, cut.rows + 1)
                    self._invalid.add(cut.invalid(end), code, detail)
                elif events is not None and not events.keeps(record[ei]):
                    event = events.bucket(record[ei])
                    filtered[event] = filtered.get(event, 0) + 1
                    cut.filtered(end)
                else:
                    times.append(ts)
                    keys.append(rules.duplicate_key(record))
                    cut.send(end)
                if end >= until:
                    break
        finally:
            self._duplicates.add(times, row_hashes(keys))
            if self._logins is not None:
                self._logins.rows(keys)


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
