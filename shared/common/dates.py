"""Slash dates (``MM/DD/YYYY HH:MM[:SS] [AM|PM]``, or ``DD/MM`` for a day-first connector):
read by the scan to validate them, and by the projection to send day-first ones as ISO 8601."""

from __future__ import annotations

from datetime import datetime


def iso(text: str, day_first: bool) -> str:
    """``text`` as ISO 8601 if it is a slash timestamp (read in the given order); any other
    form as it is."""
    when = slash_datetime(text, day_first) if "/" in text else None
    return text if when is None else when.isoformat()


def slash_datetime(text: str, day_first: bool) -> datetime | None:
    """The date and time of ``MM/DD/YYYY HH:MM[:SS] [AM|PM]`` (``DD/MM`` when ``day_first``)."""
    date, _, rest = text.partition(" ")
    parts = date.split("/")
    if len(parts) != 3 or len(parts[2]) != 4 or not rest or len(parts[0]) > 2 or len(parts[1]) > 2:
        return None
    clock, _, half = rest.partition(" ")
    hms = clock.split(":")
    if len(hms) not in (2, 3) or any(len(p) != 2 for p in hms[1:]) or not 1 <= len(hms[0]) <= 2:
        return None
    try:
        first, second_, year = int(parts[0]), int(parts[1]), int(parts[2])
        hour, minute, second = int(hms[0]), int(hms[1]), int(hms[2]) if len(hms) == 3 else 0
    except ValueError:
        return None
    month, day = (second_, first) if day_first else (first, second_)
    if half:
        if half.upper() not in ("AM", "PM") or not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.upper() == "PM" else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
