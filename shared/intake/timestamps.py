"""Is a row's timestamp one the connectors can read? Checked for every row, so it is cheap.

The forms real exports use (facts.md): ISO 8601 with or without zone (``2026-11-22T08:15:03Z``,
``2026-11-22T08:15:03.123+01:00``, ``2026-11-22T08:15:03``), Epic's ``2026-11-22 08:15:03``
and the US ``MM/DD/YYYY HH:MM[:SS] [AM|PM]`` (month and day may be one digit).

The ISO forms go to ``datetime.fromisoformat`` (C, well under a microsecond); the US form
has a small hand-written parser. No regular expressions on the per-row path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from datetime import datetime
from operator import itemgetter

_fromiso = datetime.fromisoformat
_at4, _at10 = itemgetter(4), itemgetter(10)


def parses(text: str) -> bool:
    """True if ``text`` is a complete date and time in one of the accepted forms."""
    if len(text) < 12:  # shorter than any date with a time of day ("1/2/2026 1:05")
        return False
    if text[4] == "-":
        if text[10] not in "T ":
            return False
        try:
            _fromiso(text)
        except ValueError:
            return False
        return True
    return _us(text)


def all_parse(texts: Collection[str]) -> bool:
    """True if every one of ``texts`` ``parses``: the scan's check of many rows at once.

    When all are ISO-shaped (the common case: one exporter writes one form) the checks
    ``parses`` makes one by one run over the whole collection in C; otherwise, or to be
    sure, it falls back to ``parses`` for each.
    """
    if not texts:
        return True
    if min(map(len, texts)) >= 12 and set(map(_at4, texts)) == {"-"} and set(map(_at10, texts)) <= {"T", " "}:
        try:
            deque(map(_fromiso, texts), maxlen=0)
        except ValueError:
            return False
        return True
    return all(map(parses, texts))


def _us(text: str) -> bool:
    date, _, rest = text.partition(" ")
    parts = date.split("/")
    if len(parts) != 3 or len(parts[2]) != 4 or not rest:
        return False
    clock, _, half = rest.partition(" ")
    hms = clock.split(":")
    if len(hms) not in (2, 3) or any(len(p) != 2 for p in hms[1:]) or not 1 <= len(hms[0]) <= 2:
        return False
    try:
        month, day, year = int(parts[0]), int(parts[1]), int(parts[2])
        hour, minute, second = int(hms[0]), int(hms[1]), int(hms[2]) if len(hms) == 3 else 0
    except ValueError:
        return False
    if len(parts[0]) > 2 or len(parts[1]) > 2:
        return False
    if half:
        if half.upper() not in ("AM", "PM") or not 1 <= hour <= 12:
            return False
        hour = hour % 12 + (12 if half.upper() == "PM" else 0)
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True
