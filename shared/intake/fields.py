"""Where every field of a run of lines starts and ends, found over its bytes with numpy.

The scan checks a file a run of whole lines at a time. A bare ``csv.reader`` makes a string
of every field of every row (23 a row); the checks read only a few columns. So a run is not
split into strings at all: the positions of its delimiters and line breaks (numpy, over the
bytes), with those inside quotes left out, give every field's bounds as a (rows, width)
table, which the checks read column by column: lengths for the required fields, a table of
bytes for the timestamps, hashes of the bytes in place for the duplicate keys. A string is
made only where a check needs one (timestamps of mixed forms, Event Names).

Positions are byte offsets: the delimiters, the quote, CR and LF are ASCII, and in UTF-8 no
byte of a character beyond ASCII is below 0x80, so they are found in the bytes exactly where
they are in the text. Quoting follows ``csv`` (RFC 4180): a quoted field opens with a quote at
its start and closes with one right before a delimiter or a line break, and a quote inside it
is doubled. Anything else with a quote (a quote inside an unquoted field, text after a closing
quote) is left to ``csv`` row by row (``split`` answers None, and ``trouble`` says where the
first such record begins), as are a carriage return that is not part of a CRLF and a line of
another width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.intake.duplicates import PAD, field_hashes, row_hashes

QUOTE, CR, LF = ord('"'), ord("\r"), ord("\n")
RECORD = "\x1e"
"""Separates the values of a column gathered into one string (``strings``); ``split``
declines a run that holds it, so that string splits back exactly."""
_RECORD = ord(RECORD)


@dataclass(frozen=True)
class Fields:
    """The fields of a run of whole records: ``start[r, c]`` and ``end[r, c]`` bound the value
    of column ``c`` of record ``r`` (inside its quotes if it is quoted)."""

    padded: np.ndarray
    """The run's bytes and then ``PAD``."""
    start: np.ndarray
    end: np.ndarray
    record_ends: np.ndarray
    """The line feed that ends each record."""
    line_ends: np.ndarray | None
    """Every line feed, when a quoted field holds one (records span lines); else None."""
    escaped: bool
    """Some quoted value holds a doubled quote (its string must be unescaped)."""
    quotes: np.ndarray | None = None
    """Where the quotes are, if any (where the doubled ones are, when ``escaped``)."""

    @property
    def rows(self) -> int:
        return len(self.start)

    @property
    def data(self) -> np.ndarray:
        return self.padded[: -len(PAD)]

    def lines_of(self, j: int) -> int:
        """Physical lines the first ``j`` records span: ``j`` unless a quoted field holds a line feed."""
        if self.line_ends is None or j == 0:
            return j
        return int(np.searchsorted(self.line_ends, self.record_ends[j - 1])) + 1

    def begins(self, j: int) -> int:
        """The byte offset record ``j`` begins at (the run's length for ``rows``)."""
        return int(self.record_ends[j - 1]) + 1 if j else 0

    def empty(self, columns: list[int]) -> np.ndarray:
        """Per record, True if any of ``columns`` is empty."""
        return (self.end[:, columns] <= self.start[:, columns]).any(1)

    def fixed(self, column: int) -> np.ndarray | None:
        """The bytes of ``column`` as a (rows, length) table when every value has one length
        (timestamps from one exporter do); else None."""
        start, end = self.start[:, column], self.end[:, column]
        length = int(end[0] - start[0])
        if not length or not (end - start == length).all():
            return None
        return self.data[start[:, None] + np.arange(length)]

    def longer(self, columns: list[int], size: int) -> np.ndarray:
        """Per record, True if a value of ``columns`` holds more than ``size`` bytes as written
        (a doubled quote counted twice)."""
        longer: np.ndarray = (self.end[:, columns] - self.start[:, columns] > size).any(1)
        return longer

    def key_hashes(self, columns: list[int], rows: np.ndarray | None = None) -> np.ndarray:
        """Per record (or per record ``rows`` selects), the hash of the values of ``columns``
        (``duplicates.field_hashes``).

        A value holding a doubled quote is not its bytes: those rows (rare) are hashed from
        their unescaped strings, as row by row."""
        start, end = self.start[:, columns], self.end[:, columns]
        if rows is not None:
            start, end = start[rows], end[rows]
        hashes = field_hashes(self.padded, start, end - start)
        if self.escaped and self.quotes is not None:
            held = np.searchsorted(self.quotes, start) != np.searchsorted(self.quotes, end)
            odd = np.flatnonzero(held.any(1))
            keys = [list(map(self._value, start[r], end[r])) for r in odd]
            hashes[odd] = row_hashes(keys)
        return hashes

    def _value(self, start: int, end: int) -> str:
        """One value as ``csv`` gives it (doubled quotes made single)."""
        return self.data[start:end].tobytes().decode().replace('""', '"')

    def strings(self, column: int) -> list[str]:
        """The values of ``column``, one string a record, as ``csv`` gives them: gathered into
        one string with numpy, decoded and split in C."""
        start, end = self.start[:, column], self.end[:, column]
        size = end - start + 1  # each value and the byte after it, which becomes RECORD
        at = np.cumsum(size) - size
        out = self.data[np.repeat(start - at, size) + np.arange(int(at[-1] + size[-1]))]
        out[at + size - 1] = _RECORD
        values = out.tobytes().decode()
        if self.escaped and '"' in values:
            values = values.replace('""', '"')
        return values.split(RECORD)[:-1]


def split(run: bytes, delimiter: str, width: int) -> Fields | None:
    """The fields of ``run`` (whole lines, ending with a line feed), or None unless every
    record has ``width`` fields and quoting ``csv`` reads the same way (see the module)."""
    if _RECORD in run or 0 in run or width < 2:  # a NUL byte: its row is flagged row by row
        return None
    padded = np.frombuffer(run + PAD, np.uint8)
    data = padded[: len(run)]
    if CR in run and not _crs_end_lines(data):
        return None
    d = ord(delimiter)
    feeds = data == LF
    lines = int(np.count_nonzero(feeds))
    quotes = np.flatnonzero(data == QUOTE) if QUOTE in run else None
    if quotes is not None and run[0] == QUOTE and (found := _every_field_quoted(data, quotes, d, width)):
        start, end, ends = found
        return Fields(padded, start, end, ends, _line_feeds(feeds, lines, len(ends)), False)
    grid = _grid(data, feeds, lines, quotes, d, width)
    if grid is None:
        return None
    start, end, escaped = _bounds(data, grid, quotes)
    return Fields(padded, start, end, grid[:, -1], _line_feeds(feeds, lines, len(grid)), escaped, quotes)


def _grid(
    data: np.ndarray, feeds: np.ndarray, lines: int, quotes: np.ndarray | None, d: int, width: int
) -> np.ndarray | None:
    """The separator after each field (delimiter, or the line feed ending the record), as a
    (rows, width) table; None unless every record has ``width`` fields."""
    seps = np.flatnonzero((data == d) | feeds)
    records = lines
    if quotes is not None:
        if not _quoting_as_csv(data, quotes, d):
            return None
        seps, inside = _outside_quotes(seps, quotes)
        records -= int(np.count_nonzero(data[inside] == LF))
    rows, extra = divmod(len(seps), width)
    if extra or not rows or rows != records:
        return None
    grid = seps.reshape(rows, width)
    if not (data[grid[:, -1]] == LF).all():  # with as many line feeds as rows: one ends each
        return None
    return grid


def _bounds(
    data: np.ndarray, grid: np.ndarray, quotes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(start, end, escaped) of every value: between the separators, less a CR ending the
    line and the quotes around a quoted value; ``escaped`` if a quoted value holds a
    doubled quote."""
    start = np.empty_like(grid)
    start[:, 1:] = grid[:, :-1] + 1
    start[0, 0] = 0
    start[1:, 0] = grid[:-1, -1] + 1
    end = grid.copy()
    end[:, -1] -= data[end[:, -1] - 1] == CR
    if quotes is None:
        return start, end, False
    quoted = data[start] == QUOTE
    start += quoted
    end -= quoted
    return start, end, len(quotes) > 2 * int(quoted.sum())


def _every_field_quoted(
    data: np.ndarray, quotes: np.ndarray, d: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(start, end, record ends) of a run whose every field is quoted (SQL exporters), or None.

    Then the quotes alone give the fields, without finding the delimiters: taken in pairs,
    each pair must be one field, the next opening right after the delimiter (or the CRLF or
    LF, every ``width`` fields) that follows the closing quote. Whatever is inside the quotes
    (a delimiter, a line break) is then the value's; a doubled quote breaks the pattern.
    """
    rows, extra = divmod(len(quotes), 2 * width)
    if extra or not rows:
        return None
    opening, closing = quotes[0::2], quotes[1::2]
    after = data[closing + 1]  # the run ends with a line feed, never a quote
    grid = after.reshape(rows, width)
    if not (grid[:, :-1] == d).all():
        return None
    ends = closing[width - 1 :: width] + 1
    crlf = grid[:, -1] == CR
    ends += crlf  # the line feed of each record (every CR is followed by one)
    if ends[-1] + 1 != len(data) or not (data[ends] == LF).all():
        return None
    nxt = closing + 2
    nxt[width - 1 :: width] = ends + 1
    if opening[0] != 0 or not (opening[1:] == nxt[:-1]).all():
        return None
    return (opening + 1).reshape(rows, width), closing.reshape(rows, width), ends


def _outside_quotes(seps: np.ndarray, quotes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The separators outside quotes, and those inside. Quotes taken in pairs bound what is
    inside them (a doubled quote splits a value into two pairs with nothing between), so
    only the few pairs holding a separator are looked at, not every separator."""
    low = np.searchsorted(seps, quotes[0::2])
    count = np.searchsorted(seps, quotes[1::2]) - low
    if not count.any():
        return seps, seps[:0]
    held = count > 0
    low, count = low[held], count[held]
    at = np.cumsum(count) - count
    inside = np.repeat(low - at, count) + np.arange(int(count.sum()))
    keep = np.ones(len(seps), bool)
    keep[inside] = False
    return seps[keep], seps[inside]


def _line_feeds(feeds: np.ndarray, lines: int, rows: int) -> np.ndarray | None:
    """Every line feed's position when there are more lines than records (a quoted value
    holds a line feed), else None: ``lines_of`` counts with them."""
    return np.flatnonzero(feeds) if lines != rows else None


def trouble(run: bytes, delimiter: str, width: int) -> int:
    """Where the first record ``split`` cannot take begins (a byte offset in ``run``), asked
    once ``split`` has declined the run: the records before it can be taken as a run, that
    one goes row by row, and the fast path goes on after it.

    The first byte that makes ``split`` decline whatever the widths is found first; the
    quotes before it are sound, so they tell which line feeds end records. The answer is the
    start of the record holding that byte, or of an earlier record of another width,
    whichever comes first.
    """
    data = np.frombuffer(run, np.uint8)
    d = ord(delimiter)
    quotes = np.flatnonzero(data == QUOTE)
    stop = _first_unreadable(run, data, quotes, d)
    quotes = quotes[quotes < stop]
    seps = np.flatnonzero((data[:stop] == d) | (data[:stop] == LF))
    seps = seps[(np.searchsorted(quotes, seps) & 1) == 0]
    ends = seps[data[seps] == LF]  # the line feeds that end records, before ``stop``
    counts = np.diff(np.searchsorted(seps, ends), prepend=-1)
    if len(other := np.flatnonzero(counts != width)):
        return int(ends[other[0] - 1]) + 1 if other[0] else 0
    return int(ends[-1]) + 1 if len(ends) and stop < len(run) else 0


def _stray_crs(data: np.ndarray) -> np.ndarray:
    """The carriage returns not followed by a line feed (a CR at the very end included)."""
    crs = np.flatnonzero(data == CR)
    stray: np.ndarray = crs[data[np.minimum(crs + 1, len(data) - 1)] != LF]
    return stray


def _first_unreadable(run: bytes, data: np.ndarray, quotes: np.ndarray, d: int) -> int:
    """The first byte that makes ``split`` decline the run whatever the widths (the record
    separator, a NUL byte, a CR ending no line, a quote ``csv`` reads otherwise, an opening quote whose
    value goes on past the run), or the run's length."""
    first = [len(run)]
    if _RECORD in run:
        first.append(run.index(_RECORD))
    if 0 in run:
        first.append(run.index(0))
    if len(stray := _stray_crs(data)):
        first.append(int(stray[0]))
    if len(quotes) % 2:
        first.append(int(quotes[-1]))  # opens a value that goes on past the run
    if len(unsound := _unsound_quotes(data, quotes[: len(quotes) // 2 * 2], d)):
        first.append(int(unsound[0]))
    return min(first)


def _quoting_as_csv(data: np.ndarray, quotes: np.ndarray, d: int) -> bool:
    """True if every quote is one ``csv`` reads as quoting, so that a delimiter or line feed is
    inside quotes exactly when an odd number of quotes comes before it."""
    return not len(quotes) % 2 and not len(_unsound_quotes(data, quotes, d))


def _unsound_quotes(data: np.ndarray, quotes: np.ndarray, d: int) -> np.ndarray:
    """The quotes (of an even number) ``csv`` does not read as quoting, in order.

    Counted from the run's start, a quote at an even position must open a field (at the run's
    start or right after a delimiter or line feed) or be the second of a doubled quote (right
    after a quote); one at an odd position must close a field (right before a delimiter, a line
    feed or a CRLF) or be the first of a doubled quote (right before a quote).
    """
    opening, closing = quotes[0::2], quotes[1::2]
    before = data[np.maximum(opening - 1, 0)]
    first = opening == 0
    opens = first | (before == d) | (before == LF) | ((before == QUOTE) & ~first)
    size = len(data)
    after = data[np.minimum(closing + 1, size - 1)]
    then = data[np.minimum(closing + 2, size - 1)]
    inside = closing + 1 < size
    closes = inside & ((after == d) | (after == LF) | (after == QUOTE) | ((after == CR) & (then == LF)))
    if opens.all() and closes.all():
        return quotes[:0]
    return np.sort(np.concatenate((opening[~opens], closing[~closes])))


def _crs_end_lines(data: np.ndarray) -> bool:
    """True if every carriage return is followed by a line feed. A CR outside quotes must be
    (``csv`` reads no other); one inside quotes need not, but a run holding such a value goes
    row by row rather than pay for finding which are inside."""
    return not len(_stray_crs(data))
