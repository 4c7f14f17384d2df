"""Is a row's timestamp one the connectors can read? Checked for every row, so it is cheap.

The forms real exports use (facts.md): ISO 8601 with or without zone (``2026-11-22T08:15:03Z``,
``2026-11-22T08:15:03.123+01:00``, ``2026-11-22T08:15:03``), Epic's ``2026-11-22 08:15:03``
and the US ``MM/DD/YYYY HH:MM[:SS] [AM|PM]`` (month and day may be one digit). A connector
whose exports write ``DD/MM/YYYY`` says so (``day-first``): a slash date is then read day
first, and sent as ISO 8601 (``iso``), since the Purview connector cannot know the order.

The ISO forms go to ``datetime.fromisoformat`` (C, well under a microsecond); the US form
has a small hand-written parser. No regular expressions on the per-row path. A run of rows
whose timestamps all share one ISO layout is checked at once with numpy (``ordinals``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from datetime import datetime
from operator import itemgetter

import numpy as np

from shared.common.dates import slash_datetime as _slash

_fromiso = datetime.fromisoformat
_at4, _at10 = itemgetter(4), itemgetter(10)


def accepted_forms(day_first: bool = False) -> str:
    """The forms ``parses`` takes, in an operator's words (for messages)."""
    slash = "DD/MM/YYYY" if day_first else "MM/DD/YYYY"
    return (
        "ISO 8601 (2026-11-22T08:15:03Z, with or without a zone or a fraction of a second), "
        f"Epic's 2026-11-22 08:15:03, or {slash} HH:MM[:SS] [AM|PM]"
    )


def parses(text: str, day_first: bool = False) -> bool:
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
    return _slash(text, day_first) is not None


def all_parse(texts: Collection[str], day_first: bool = False) -> bool:
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
    return all(parses(t, day_first) for t in texts)


def contradicts(text: str, day_first: bool = False) -> bool:
    """True if ``text`` is a slash timestamp that reads only in the other date order (a
    month over 12): the connector's ``date_order`` is wrong for the file, not this row."""
    return _slash(text, day_first) is None and _slash(text, not day_first) is not None


_DATE_TIME = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
"""Where the digits of ``YYYY-MM-DDTHH:MM:SS`` are."""
_DAYS = np.zeros(100, np.int32)
_DAYS[1:13] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
MAX_FRACTION = 4
"""Digits of a fraction of a second ``ordinals`` takes (the ordinal must fit in 63 bits)."""


def ordinals(stamps: np.ndarray) -> np.ndarray | None:
    """Integers that order as the timestamps do, if every one is certainly a valid ISO 8601 or
    Epic timestamp; None if ``parses`` must look at them (None never means invalid).

    ``stamps`` holds one timestamp a row, all of one length (UTF-8 bytes). They are taken at
    once when they share one layout: the first row's, which ``parses`` accepts, with only the
    digits of the date, the time of day and a fraction of a second varying; everything else
    (separators, the zone) the same in every row. Then the date and time are range-checked as
    ``datetime`` does (leap years included). Equal layouts make equal strings order as their
    digits, so the ordinal also gives a run's earliest and latest timestamp.
    """
    rows, width = stamps.shape
    if not rows or width < 19:
        return None
    first = stamps[0]
    digit = (first >= 48) & (first <= 57)
    places = _DATE_TIME
    if width > 19 and first[19] == ord("."):
        end = 20
        while end < width and digit[end]:
            end += 1
        if not 20 < end <= 20 + MAX_FRACTION:
            return None
        places = np.concatenate((_DATE_TIME, np.arange(20, end)))
    if not digit[places].all() or not parses(first.tobytes().decode()):
        return None
    fixed = np.ones(width, bool)
    fixed[places] = False
    if not (stamps[:, fixed] == first[fixed]).all():
        return None
    values = stamps[:, places] - np.uint8(48)
    if (values > 9).any():
        return None
    v = values.astype(np.int32)
    year = v[:, 0] * 1000 + v[:, 1] * 100 + v[:, 2] * 10 + v[:, 3]
    month, day = v[:, 4] * 10 + v[:, 5], v[:, 6] * 10 + v[:, 7]
    hour, minute, second = v[:, 8] * 10 + v[:, 9], v[:, 10] * 10 + v[:, 11], v[:, 12] * 10 + v[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _DAYS[month] + (leap & (month == 2))
    ok = (year >= 1) & (month >= 1) & (day >= 1) & (day <= days) & (hour < 24) & (minute < 60) & (second < 60)
    if not ok.all():
        return None
    ordinal: np.ndarray = v.astype(np.int64) @ (10 ** np.arange(v.shape[1] - 1, -1, -1, dtype=np.int64))
    return ordinal
