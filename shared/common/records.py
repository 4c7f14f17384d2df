"""Records from lines of delimited text: what ``csv.reader`` yields, faster on ordinary lines.

Both stages read records this way (the scan to validate, the worker to send only the
schema's columns), so they agree on where a record ends: lines split on LF only, a quoted
field may span lines.

A record is bounded before it is built: ``csv`` would otherwise hold a whole record in
memory, however many lines an unterminated quote makes it span (40 MB of ``"a\\n",`` fields
took 518 MB as one record). No audit row comes near these bounds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

MAX_RECORD_CHARS = 1024 * 1024
"""A record, however many lines it spans, no longer than one line may be (``scan``)."""
MAX_RECORD_LINES = 10_000
MAX_RECORD_FIELDS = 10_000
"""Of a record ``csv`` builds, counted as delimiters (quoted or not) plus one before it splits
them. A header's own limit is lower (``header.MAX_COLUMNS``) and says so in its own words."""


class RecordTooLong(ValueError):
    """A record past one of the bounds; the message says which, and names no value."""


NUL_BYTE, BARE_QUOTE = "nul-byte", "bare-quote"


class Flagged(list[str]):
    """A record that must never be sent as it is; ``code`` says why (``NUL_BYTE``,
    ``BARE_QUOTE``). Only ``records(..., screen=True)`` (the scan) yields them."""

    code = ""


def records(lines: Iterator[str], delimiter: str, screen: bool = False) -> Iterator[list[str]]:
    """A line with no quote and no stray carriage return parses the same with ``str.split`` as
    with ``csv`` (strict); any other line hands over to a ``csv.reader`` for that one record,
    which pulls exactly the physical lines the record spans. A blank line is ``[]``.

    With ``screen``, a record holding a NUL byte or a quote ``csv`` would read as text (a
    quote inside an unquoted value, text after a closing quote: RFC 4180 allows neither)
    comes as a ``Flagged`` record instead of being taken as it reads.
    """
    for line in lines:
        cr = line.find("\r")
        if '"' in line or (cr != -1 and cr != len(line) - 2):
            yield _quoted(line, lines, delimiter) if screen else _read(line, lines, delimiter)
        elif line == "\n" or line == "\r\n":
            yield []
        else:
            record = line.split(delimiter)  # one line: bounded by the scan's line limit
            last = record[-1]
            if last[-1:] == "\n":
                record[-1] = last[:-2] if cr != -1 else last[:-1]
            yield _flagged(record, NUL_BYTE) if screen and "\x00" in line else record


def _read(line: str, lines: Iterator[str], delimiter: str) -> list[str]:
    """The record beginning with ``line``, by ``csv``: it pulls the lines a quoted value spans."""
    return next(csv.reader(_bounded(line, lines, delimiter), delimiter=delimiter, strict=True), [])


def _quoted(line: str, lines: Iterator[str], delimiter: str) -> list[str]:
    """``_read``, screened. A bare quote leaves a quote in a value (cheap to see, and then
    checked on the line) or, after a closing quote, makes strict ``csv`` fail on that line."""
    try:
        record = _read(line, lines, delimiter)
    except csv.Error:
        if not _bare_quote(line, delimiter):
            raise
        return _flagged(next(csv.reader([line], delimiter=delimiter), []), BARE_QUOTE)
    values = "".join(record)
    if '"' in values and _bare_quote(line, delimiter):
        return _flagged(record, BARE_QUOTE)
    return _flagged(record, NUL_BYTE) if "\x00" in values else record


def _flagged(record: list[str], code: str) -> Flagged:
    flagged = Flagged(record)
    flagged.code = code
    return flagged


def _bare_quote(line: str, delimiter: str) -> bool:
    """True if ``line`` (a record's first line) has a quote ``csv`` would not read as quoting:
    one inside a value that does not open with a quote, or text after a closing quote. A
    quoted value going on to the next line ends the check (its lines are csv's to join)."""
    i, end = 0, len(line.rstrip("\r\n"))
    while i <= end:
        if line.startswith('"', i):
            j = i + 1
            while (j := line.find('"', j)) != -1 and line.startswith('"', j + 1):
                j += 2
            if j == -1:
                return False
            i = j + 1
            if i < end and line[i] != delimiter:
                return True
        else:
            k = line.find(delimiter, i, end)
            k = end if k == -1 else k
            if line.find('"', i, k) != -1:
                return True
            i = k
        i += 1
    return False


def _bounded(first: str, lines: Iterator[str], delimiter: str) -> Iterator[str]:
    """``first`` and the lines after it, for ``csv`` to pull as many as one record spans; the
    line that would take the record past a bound raises instead of being handed over."""
    chars, delimiters = len(first), first.count(delimiter)
    _check(chars, 1, delimiters)
    yield first
    for count, line in enumerate(lines, 2):
        chars += len(line)
        delimiters += line.count(delimiter)
        _check(chars, count, delimiters)
        yield line


def _check(chars: int, lines: int, delimiters: int) -> None:
    if chars > MAX_RECORD_CHARS:
        raise RecordTooLong(f"is longer than {MAX_RECORD_CHARS:,} characters")
    if lines > MAX_RECORD_LINES:
        raise RecordTooLong(f"spans more than {MAX_RECORD_LINES:,} lines")
    if delimiters >= MAX_RECORD_FIELDS:
        raise RecordTooLong(f"has more than {MAX_RECORD_FIELDS:,} fields")
