"""One streaming pass over an export: header, row count, SHA-256 and chunk boundaries.

The file is read block by block and never held whole. Most of it is checked a run of whole
lines at a time (``_Runs``: 32 KB of text split and checked column by column in C,
no Python code per row); a run that does not pass (an invalid row, a blank line, a stray
carriage return) is taken again row by row (``_Plan.records``), where ``csv`` parses
any line with a quote and pulls exactly the lines a record spans. Either way the scan
knows the physical line each record ends on, which ``_Source`` turns into a byte offset,
so a chunk boundary is a byte offset on a record boundary that a worker later reads with
one ranged GET, without scanning again.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import operator
import queue
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from shared.common import dialect as dialects
from shared.common import header
from shared.common.errors import Rejected
from shared.common.events import EventFilter, event_key
from shared.common.records import records
from shared.common.schema import Schema
from shared.common.settings import DEFAULT_REQUIRED
from shared.intake.rows import DuplicateCounter, InvalidRows, RowRules
from shared.intake.timestamps import all_parse, parses

MAX_BYTES = 3 * 1024**3
MAX_ROWS = 5_000_000
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
        self._decoder = codecs.getincrementaldecoder("utf-8")()
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

    TEXT_PIECE = 1 << 15
    """Bytes decoded at once, and so the size of a run: small enough that a run's fields (some
    150 rows' strings) stay in the processor's cache; large enough that the per-run cost is a
    few ns a row. Measured on realistic rows (Python 3.13, pairs of runs in one process): 1 MB
    runs a fifth slower than 128 KB, 256 KB a quarter slower, 32 KB 2% to 10% faster, 8 KB
    and 16 KB slower again."""

    def read_text(self) -> str:
        """The next piece of text ("" at the end), decoded in one C call, no text layer."""
        while True:
            if self._view:
                piece, self._view = self._view[: self.TEXT_PIECE], self._view[self.TEXT_PIECE :]
                if text := self._decoder.decode(piece):
                    return text
                continue
            if self._done:
                return ""
            block = next(self._blocks, None)
            if block is None:
                self._done = True
                return self._decoder.decode(b"", final=True)  # raises if cut inside a character
            self._accept(block)

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
        found = _Newlines(block)
        self._newlines.append(self._newlines[-1] + found.total)
        self._recent[index] = found
        self._kept += len(block)
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
                f"{self.KEEP_BYTES // 1024**2} MB (an unterminated quote?)",
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
) -> ScanResult:
    """Validate the header and every row; plan chunks of up to ``chunk_rows`` rows to send.

    A chunk is one byte range (one ranged GET for the worker) with the byte ranges of the
    invalid rows inside it listed in ``skip``, up to ``MAX_SKIPS``; the worker leaves those
    out of the upload. What to do about invalid rows (skip or reject) is the caller's
    policy; only the limits and unreadable files raise ``Rejected`` here. Rows the ``events``
    filter leaves out are counted apart; a chunk neither begins nor ends with one (the worker
    drops those inside it, as it parses the chunk anyway to send only the schema's columns).
    A run of lines holding a filtered event takes the row-by-row path.
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
    lines = _Text(source)
    first = lines.first_line()
    if not first:
        raise Rejected("empty", f"{name} is empty; a header line is expected")
    delimiter = dialects.detect(name, schema.kind, first)
    result = ScanResult(delimiter, source.bom_length, 0, [])
    plan = _Plan(result, source.offset_after, chunk_rows, max_rows, name, events)
    try:
        try:
            result.columns = columns = next(records(lines.lines(), delimiter))
        except StopIteration:
            raise Rejected("empty", f"{name} has no header line") from None
        result.header_end = source.offset_after(lines.line)
        found = result.found = header.match(schema, columns, name, mapping)
        rules = result.rules = RowRules.build(schema, columns, found, required, name)
        plan.previous = lines.line
        plan.event_index = found["event_name"]
        runs = _Runs(rules, delimiter, plan.duplicates, events, found["event_name"])
        misses = skip = 0
        while body := lines.run():
            n = body.count("\n")
            k = size = 0
            if skip:
                skip -= 1
            elif body[-1] == "\n":
                k, size = runs.accept(body, n)
                if k:
                    lines.commit(size, k)
                    plan.valid_run(runs.rows, runs.lines_of)
                if k == n:
                    misses = max(misses - 1, 0)  # one pass forgives one miss: mostly failing stays backed off
                    continue
                if runs.spans:
                    # Valid lines up to a record going on past the text at hand: that one
                    # record row by row, then the fast path again (not a miss).
                    plan.records(lines, delimiter, rules, lines.line + 1, "")
                    continue
                misses += 1
                skip = min(1 << misses, MAX_SKIPPED_RUNS) - 1
            # Row by row: the rest of the run that failed.
            plan.records(lines, delimiter, rules, lines.line + max(n - k, 1), body[size:])
    except csv.Error as exc:
        raise Rejected(
            "malformed", f"{name}: malformed quoting in or after data row {plan.rows + 1}: {exc}"
        ) from None
    plan.finish(lines.line)
    result.bytes = source.bom_length + source.total
    return result


MAX_SKIPPED_RUNS = 8
"""After runs fail the fast check in a row, the next 1, 3, 7, then 7 runs go row by row without
trying: a file full of invalid rows or multi-line records costs what row by row costs."""


class _Text:
    """The decoded text, handed out as runs of whole lines (what one piece of text holds, see
    ``_Source.TEXT_PIECE``) or line by line.

    ``line`` counts the physical lines consumed, as ``csv.reader.line_num`` would; the slow
    path's ``csv.reader`` pulls lines from ``lines()`` and so takes exactly what it spans.
    """

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.line = 0

    def _fill(self) -> None:
        more = self._source.read_text()
        self._buf = self._buf[self._pos :] + more
        self._pos = 0
        self._eof = not more

    def first_line(self) -> str:
        """The first line, not consumed ("" for an empty file)."""
        while (end := self._buf.find("\n") + 1) == 0 and not self._eof:
            self._fill()
        return self._buf[:end] if end else self._buf

    def run(self) -> str:
        """All whole lines buffered from here (not consumed); at the end the last line even
        without its newline; "" at the end."""
        while True:
            buf, pos = self._buf, self._pos
            if end := buf.rfind("\n", pos) + 1:
                return buf[pos:end]
            if self._eof:
                return buf[pos:]
            self._fill()

    def commit(self, chars: int, lines: int) -> None:
        self._pos += chars
        self.line += lines

    def lines(self, bulk: bool = True) -> Iterator[str]:
        """Lines one by one from here; each counts as consumed once handed out. ``bulk``
        splits all whole lines buffered at once, for a caller that takes many."""
        while True:
            buf, pos = self._buf, self._pos
            end = buf.find("\n", pos) + 1
            if not end:
                if not self._eof:
                    self._fill()
                    continue
                if pos == len(buf):
                    return
                end = len(buf)
            last = buf.rfind("\n", end) + 1 if bulk else 0
            if last > end:  # several whole lines buffered: split them at once
                pieces = buf[pos:last].splitlines(keepends=True)
                if len(pieces) == buf.count("\n", pos, last):  # no other line breaks
                    for piece in pieces:
                        self._pos += len(piece)
                        self.line += 1
                        yield piece
                    continue
            self._pos = end
            self.line += 1
            yield buf[pos:end]


class _Runs:
    """The fast path: checks a run of whole lines at once, with no Python code per row.

    A run passes only if every record has the header's width, a valid timestamp and every
    required field filled. Then order does not matter (the rows are counted, their duplicate
    keys hashed, chunk cuts worked out from line numbers), so the run is split at once
    (``_Lines``: which also proves every line has the header's width) and checked column by
    column (a column is a slice):

    - lines without a quote: one ``str.split`` of the run, the same fields as ``csv`` gives
      (as in ``records``);
    - every field quoted (SQL exporters): split on the quote itself (``_all_quoted``);
    - some fields quoted (an address with a comma, an escaped quote, a line break): what is
      inside quotes held aside, the quotes dropped, then as plain (``_unquoted``);
    - other quoting (a quote inside an unquoted field): one ``csv.reader`` over the lines
      with quotes, which must give one record per line.

    Anything else (an invalid row, a blank line, a stray carriage return) fails the run,
    and the scan takes those lines row by row; a run that ends inside quotes is cut before
    the record that goes on.
    """

    def __init__(
        self,
        rules: RowRules,
        delimiter: str,
        duplicates: DuplicateCounter,
        events: EventFilter | None = None,
        event_index: int = 0,
    ) -> None:
        self._events, self._ei = events, event_index
        self._sent_events: set[str] = set()
        """Event Names seen lately that the filter lets through."""
        self._d = delimiter
        self._width = rules.width
        self._ti = rules.time_index
        self._required = [i for i, _ in rules.required]
        self._key = rules.key_indices
        self._duplicates = duplicates
        self._known: set[str] = set()
        """Timestamps seen valid lately; audit rows share seconds, so most are met again."""
        self._odd = -1
        """The line of the last run checked where a record starts that goes on past the
        run's end (inside quotes), or -1."""
        self.spans = False
        """The last ``accept`` stopped at such a record, all lines before it valid."""
        self.rows = 0
        """Rows in the lines the last ``valid`` checked (fewer if a quoted line break spans two)."""
        self._lines = 0
        self._held: str | None = None
        """The last run's text with quoted line breaks held (``_HOLD_LF``), if it had any."""

    def accept(self, body: str, n: int) -> tuple[int, int]:
        """(lines, characters) of ``body`` taken, from its start: all of it if ``valid``;
        else, if the run ends inside a quoted field (a record going on past the text at
        hand), the lines before that record if they are valid (and ``spans`` is set); else
        none. ``rows`` and ``lines_of`` then say how those lines divide into rows."""
        self._odd = -1
        self.spans = False
        if self.valid(body, n):
            return n, len(body)
        k = self._odd
        if k < 0:
            return 0, 0
        size = 0
        for _ in range(k):
            size = body.index("\n", size) + 1
        self.spans = not k or self.valid(body[:size], k)
        return (k, size) if self.spans else (0, 0)

    def lines_of(self, j: int) -> int:
        """Physical lines the first ``j`` rows of the run last taken span: ``j`` unless a
        quoted field holds a line break. Asked where a chunk is cut inside a run."""
        held = self._held
        if held is None or j == 0:
            return j
        if j == self.rows:
            return self._lines
        end = -1
        for _ in range(j):
            end = held.index("\n", end + 1)
        return j + held.count(_HOLD_LF, 0, end)

    def valid(self, body: str, n: int) -> bool:
        """True (and the run's duplicate keys counted) if all ``n`` lines of ``body`` are valid rows."""
        self.rows, self._lines, self._held = n, n, None
        if '"' not in body:
            columns = self._split(body, n)
        else:
            parts = body.split('"')
            columns = (body[0] == '"' and self._all_quoted(parts, n)) or self._quoted(body, n, parts)
        if columns is None:
            return False

        def column(i: int) -> Iterator[str]:
            return itertools.chain.from_iterable(get(i) for get in columns)  # type: ignore[union-attr]

        if self._events is not None:
            names = set(column(self._ei)) - self._sent_events
            if names and not all(map(self._events.keeps, names)):
                return False  # a filtered row: counted row by row
            if len(self._sent_events) > 10_000:
                self._sent_events.clear()
            self._sent_events |= names
        times = list(column(self._ti))
        new = set(times) - self._known
        if new:
            if not all_parse(new):
                return False
            if len(self._known) > 100_000:
                self._known.clear()
            self._known |= new
        for i in self._required:
            if any("" in get(i) for get in columns):
                return False
        keys = (times if i == self._ti else column(i) for i in self._key)  # the timestamp is one
        self._duplicates.add(times, list(map(hash, zip(*keys))))  # noqa: B905
        return True

    def _split(
        self, text: str, n: int, terminated: bool = True
    ) -> list[Callable[[int], Sequence[str]]] | None:
        """The columns of ``n`` lines (``text`` ending with a newline or not); None unless
        every line has exactly the header's width, or if a carriage return is not part of
        a CRLF (csv's business). See ``_Lines``."""
        if self._width < 2:
            return None
        if not terminated:
            text += "\n"
        crlf = "\r" in text and text.count("\r") == n  # as many CRs as lines: CRLF if every line ends so
        if "\r" in text and not crlf and "\r" in (text := text.replace("\r\n", "\n")):
            return None
        lines = _Lines(text.split(self._d), self._width, crlf)
        return [lines.column] if lines.rows == n else None

    def _all_quoted(self, parts: list[str], n: int) -> list[Callable[[int], Sequence[str]]] | None:
        """The columns of a run whose every field is quoted (SQL exporters), or None.

        Split on the quote itself (``parts``): with two quotes per field and nothing else,
        the pieces alternate between a field (as ``csv`` gives it: no quote inside) and what
        lies between two fields, which must be the delimiter inside a line and a line break
        at the end of one. A doubled quote or an unquoted field breaks the pattern.
        """
        width = self._width
        if len(parts) != 2 * width * n + 1 or parts[0]:
            return None
        between = parts[2::2]
        ends = between[width - 1 :: width]
        if between.count(self._d) != n * (width - 1) or ends.count("\n") + ends.count("\r\n") != n:
            return None
        step = 2 * width
        return [lambda i: parts[2 * i + 1 :: step]]

    def _quoted(self, body: str, n: int, parts: list[str]) -> list[Callable[[int], Sequence[str]]] | None:
        """Quoted fields taken out of their quotes (``_unquoted``) or, failing that, lines
        with quotes through one ``csv.reader`` (one record per line, or None) and the others
        split as plain lines.

        ``parts`` is ``body`` split on the quote: an even number of pieces means the run ends
        inside a quoted field (a record that goes on in text not read yet), and ``_odd`` is
        then the line that record starts on, where ``accept`` can cut the run.
        """
        if not len(parts) % 2:
            self._odd = body.count("\n", 0, len(body) - len(parts[-1]) - 1)
            return None
        if (columns := self._unquoted(body, n, parts)) is not None:
            return columns
        if "\r" in body and "\r" in (body := body.replace("\r\n", "\n")):
            return None
        lines = body.split("\n")
        lines.pop()
        counts = list(map(str.count, lines, _QUOTE))
        quoted = list(itertools.compress(lines, counts))
        try:
            records = list(csv.reader(quoted, delimiter=self._d, strict=True))
        except csv.Error:
            return None
        if len(records) != len(quoted) or set(map(len, records)) != {self._width}:
            return None  # a record spanning lines, or of another width
        columns = list(zip(*records))  # noqa: B905
        if len(quoted) == n:
            return [columns.__getitem__]
        plain = self._split(
            "\n".join(itertools.compress(lines, map(operator.not_, counts))), n - len(quoted), False
        )
        return None if plain is None else [columns.__getitem__, *plain]

    def _unquoted(self, body: str, n: int, parts: list[str]) -> list[Callable[[int], Sequence[str]]] | None:
        """The columns of a run whose quoted fields are whole fields, as ``csv`` gives them;
        None for anything else (a quote inside an unquoted field, text after a closing quote).

        In ``parts`` (``body`` split on the quote), the pieces alternate between outside and
        inside quotes. Every outside piece must end (before an opening quote) and start (after
        a closing one) on a delimiter or a line break, or a quote sits inside a field (an
        escaped quote, two quotes meeting, is merged into its field first). Then the
        delimiters and line breaks inside quotes are swapped for characters the run does not
        hold (``_HOLDS``), the quotes dropped, and the run split as plain lines, one line per
        row; only the columns the checks read get their characters back. A quoted line break
        makes a record span lines, and the rows fewer than the lines (``rows``, ``lines_of``).
        """
        d = self._d
        if "" in (outside := parts[2:-1:2]):
            parts = _escaped_quotes_merged(parts, outside)
            outside = parts[2:-1:2]
        inside = parts[1::2]
        after, before = (d, "\n", "\r\n"), (d, "\n")
        if (
            (parts[0] and not parts[0].endswith(before))
            or not parts[-1].startswith(after)
            or not all(map(str.startswith, outside, itertools.repeat(after)))
            or not all(map(str.endswith, outside, itertools.repeat(before)))
        ):
            return None
        held = "".join(inside)
        holds = [(c, h) for c, h in zip((d, "\n", "\r"), _HOLDS, strict=True) if c in held]
        if any(h in body for _, h in holds):
            return None
        if holds:
            parts = parts.copy()
            for c, h in holds:
                parts[1::2] = map(str.replace, parts[1::2], itertools.repeat(c), itertools.repeat(h))
        text = "".join(parts)
        if spanned := held.count("\n"):
            self.rows, self._held = n - spanned, text
        columns = self._split(text, self.rows)
        if columns is None or not holds:
            return columns
        get = columns[0]

        def restored(i: int) -> Sequence[str]:
            column = get(i)
            joined = "".join(column)
            for c, h in holds:
                if h in joined:  # rarely: the quoted fields are mostly not ones the checks read
                    column = list(map(str.replace, column, itertools.repeat(h), itertools.repeat(c)))
            return column

        return [restored]


class _Lines:
    """The fields of a run of lines split on the delimiter alone, read column by column.

    Split so, every line gives ``width - 1`` pieces, and the piece that joins two lines holds
    one line's last field, the line break and the next line's first field: so a column is a
    slice of the pieces, and only the first and last columns need those pieces cut apart.
    The run's lines all have the header's width exactly when there are ``width - 1`` pieces
    a line and every joining piece holds a line break (there are as many as line breaks,
    so each holds one: ``rows``). No second pass over the text marks the line ends; on long
    rows that pass cost as much as the split.
    """

    def __init__(self, pieces: list[str], width: int, crlf: bool) -> None:
        self._pieces, self._stride, self._crlf = pieces, width - 1, crlf
        self._joins = joins = pieces[self._stride :: self._stride]
        whole = len(pieces) == len(joins) * self._stride + 1 and all(
            map(str.__contains__, joins, _CRLF if crlf else _LF)
        )
        self.rows = len(joins) if whole else -1
        self._cut: list[str] | None = None

    def column(self, i: int) -> Sequence[str]:
        stride = self._stride
        if 0 < i < stride:
            return self._pieces[i::stride]
        if self._cut is None:
            # Each joining piece holds one line break: joined on line breaks and split again,
            # they alternate last field, first field (two strings a row; cutting them one by
            # one made four objects a row).
            self._cut = "\n".join(self._joins).split("\n")
        if i == 0:
            return [self._pieces[0], *self._cut[1:-1:2]]
        last = self._cut[::2]
        return list(map(operator.getitem, last, _ALL_BUT_CR)) if self._crlf else last


_LF = itertools.repeat("\n")
_CRLF = itertools.repeat("\r\n")
_ALL_BUT_CR = itertools.repeat(slice(None, -1))


def _escaped_quotes_merged(parts: list[str], outside: list[str]) -> list[str]:
    """``parts`` (text split on the quote) with each escaped quote put back into its field.

    Between a closing quote and the next opening one there is always a delimiter or a line
    break, so an empty piece there is two quotes meeting inside a quoted field: an escaped
    quote. The pieces around it are one field with a quote between them. Only those places
    are touched (found in C), from the back so that earlier indices still hold.
    """
    parts = parts.copy()
    for j in reversed(list(itertools.compress(range(len(outside)), map(operator.not_, outside)))):
        i = 2 * j + 2
        parts[i - 1 : i + 2] = [parts[i - 1] + '"' + parts[i + 1]]
    return parts


_QUOTE = itertools.repeat('"')
_HOLDS = ("\x01", "\x02", "\x03")
"""Stand in for a delimiter, a line feed and a carriage return inside quotes while a run is
split (never in a run that holds them). Not NUL: in a run with a character beyond Latin-1 (a
name), CPython's search for a character whose low byte is zero cannot skip ahead with
``memchr``, and ``"\\x00" in body`` took 20 times as long (37 against 1.8 microseconds a
128 KB run, Python 3.13)."""
_HOLD_LF = _HOLDS[1]


class _Plan:
    """Row numbers, chunk cuts and skips, as the rows come: one call per run or per record."""

    def __init__(
        self,
        result: ScanResult,
        offset,
        chunk_rows: int,
        max_rows: int,
        name: str,
        events: EventFilter | None = None,
    ) -> None:
        self.result = result
        self.events = events
        self.event_index = 0
        """Column of the Event Name, once the header is matched."""
        self.kept_end = 0
        """The physical line the last row to send ended on (a chunk ends there, not after a
        filtered row)."""
        self.offset = offset
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.name = name
        self.duplicates = DuplicateCounter()
        self.rows = 0
        self.in_chunk = self.first_row = self.start = 0
        self.skip: list[tuple[int, int]] = []
        self.previous = 0
        """The physical line the last record ended on."""

    def valid_run(self, n: int, lines_of: Callable[[int], int] = int) -> None:
        """``n`` valid rows right after line ``previous``; the first ``j`` of them span
        ``lines_of(j)`` lines (``j`` unless a quoted field holds a line break)."""
        first, chunk_rows = self.previous, self.chunk_rows
        done = 0
        while done < n:
            if not self.in_chunk:
                self.start, self.first_row = self.offset(first + lines_of(done)), self.rows + 1
            take = min(n - done, chunk_rows - self.in_chunk)
            self.rows += take
            self.in_chunk += take
            done += take
            if self.in_chunk == chunk_rows:
                end = self.offset(first + lines_of(done))
                _close(self.result.chunks, self.start, self.skip, self.in_chunk, self.first_row, end)
                self.in_chunk = 0
                self.skip = []
                _check_rows(self.rows, self.max_rows, self.name)
        self.previous = self.kept_end = first + lines_of(n)

    def records(self, text: _Text, delimiter: str, rules: RowRules, until: int, run: str) -> None:
        """Records one by one up to physical line ``until`` (or past it, to a record's end).

        ``run`` is the text of those lines: split at once and iterated in C when it can be
        (its lines are then consumed up front; ``length_hint`` says how many are left), so
        the loop costs what it did over a ``TextIOWrapper``. With ``run`` empty (one record
        spanning lines), lines are taken one at a time, not the whole buffer split for it.
        """
        pieces = run.splitlines(keepends=True) if run[-1:] == "\n" else []
        if pieces and len(pieces) == run.count("\n") == until - text.line:  # no other line breaks
            it = iter(pieces)
            text.commit(len(run), len(pieces))
            lines: Iterator[str] = itertools.chain(it, text.lines())
        else:
            it = iter(())
            lines = text.lines(bulk=bool(run))
        left = operator.length_hint
        chunks, invalid, offset = self.result.chunks, self.result.invalid, self.offset
        times: list[str] = []
        hashes: list[int] = []
        width, ti, values, key = rules.width, rules.time_index, rules.required_values, rules.duplicate_key
        rows, in_chunk, first_row, start, skip = (
            self.rows,
            self.in_chunk,
            self.first_row,
            self.start,
            self.skip,
        )
        previous, kept_end = self.previous, self.kept_end
        events, ei, filtered = self.events, self.event_index, self.result.filtered_by_event
        last_ts = None
        try:
            for record in records(lines, delimiter):
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
                    previous = text.line - left(it)
                    if previous >= until:
                        break
                    continue  # a blank line is not a row (and harmless inside a chunk)
                rows += 1
                if valid and events is not None and not events.keeps(record[ei]):
                    event = event_key(record[ei])
                    filtered[event] = filtered.get(event, 0) + 1
                elif valid:
                    times.append(ts)
                    hashes.append(hash(key(record)))
                    if not in_chunk:
                        start, first_row = offset(previous), rows
                    kept_end = text.line - left(it)
                    in_chunk += 1
                    if in_chunk == self.chunk_rows:
                        _close(chunks, start, skip, in_chunk, first_row, offset(text.line - left(it)))
                        in_chunk = 0
                        skip = []
                        _check_rows(rows, self.max_rows, self.name)
                else:
                    invalid.add(rows, *rules.why(record))
                    if in_chunk:
                        # Stepped over, not a cut: scattered invalid rows would otherwise split a
                        # file into as many chunks (and API calls) as it has invalid rows.
                        if len(skip) < MAX_SKIPS:
                            skip.append((offset(previous), offset(text.line - left(it))))
                        else:
                            end = offset(kept_end if events is not None else previous)
                            _close(chunks, start, skip, in_chunk, first_row, end)
                            in_chunk = 0
                            skip = []
                previous = text.line - left(it)
                if previous >= until:
                    break
        finally:
            self.duplicates.add(times, hashes)
            self.rows, self.in_chunk, self.first_row, self.start, self.skip = (
                rows,
                in_chunk,
                first_row,
                start,
                skip,
            )
            self.previous, self.kept_end = previous, kept_end

    def finish(self, line: int) -> None:
        result = self.result
        result.rows = self.rows
        _check_rows(self.rows, self.max_rows, self.name)
        end = self.kept_end if self.events is not None else line
        if self.in_chunk:
            _close(result.chunks, self.start, self.skip, self.in_chunk, self.first_row, self.offset(end))
        result.duplicates = self.duplicates.count()


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
