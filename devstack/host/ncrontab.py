"""Six-field NCRONTAB schedules (``sec min hour day month day-of-week``), as Azure Functions uses.

Why our own parser: the timer trigger's schedule must behave locally exactly as it will in
Azure, and Python's cron libraries default to five fields and to Vixie-cron semantics. This
follows NCrontab, the library the Functions host uses:

* fields: second 0-59, minute 0-59, hour 0-23, day 1-31, month 1-12 (or names), day of week
  0-6 with Sunday = 0 (or names); ``7`` is rejected, as NCrontab rejects it;
* each field is ``*`` or a comma list of ``v``, ``a-b``, ``*/n``, ``a-b/n`` or ``v/n``
  (``v/n`` means from ``v`` to the field's maximum, every ``n``);
* a name is any prefix of the English name, case-insensitive, first match wins
  (``jan``, ``Mon``, ``September``);
* day of month AND day of week must both match (NCrontab semantics; Vixie cron ORs them);
* times are UTC: ``WEBSITE_TIME_ZONE`` is not supported on Linux Consumption or Flex.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

MAX_SEARCH_DAYS = 366 * 8 + 2
"""Far enough to find a 29 February even across a non-leap century year (2100)."""


@dataclass(frozen=True)
class _Field:
    label: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def parse(self, text: str) -> frozenset[int]:
        if not text:
            raise ValueError(f"empty {self.label} field")
        values: set[int] = set()
        for part in text.split(","):
            values.update(self._parse_part(part))
        return frozenset(values)

    def _parse_part(self, part: str) -> range:
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = self._number(step_text, "step")
            if step < 1:
                raise ValueError(f"{self.label} step must be at least 1: {step_text!r}")
        if part == "*":
            first, last = self.low, self.high
        elif "-" in part:
            first_text, last_text = part.split("-", 1)
            first, last = self._value(first_text), self._value(last_text)
            if first > last:
                raise ValueError(f"{self.label} range {part!r} runs backwards")
        else:
            first = self._value(part)
            last = self.high if step > 1 else first  # NCrontab: "5/1" is just 5
        return range(first, last + 1, step)

    def _number(self, text: str, what: str) -> int:
        if not text.isdigit():
            raise ValueError(f"{self.label} {what} {text!r} is not a number")
        return int(text)

    def _value(self, text: str) -> int:
        if text[:1].isalpha() and self.names:
            lowered = text.lower()
            for index, name in enumerate(self.names):
                if name.lower().startswith(lowered):
                    return self.low + index
            raise ValueError(f"{text!r} is not a known {self.label} name")
        value = self._number(text, "value")
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.label} value {value} is outside {self.low}-{self.high}")
        return value


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 6, _DAYS),
)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; ``next_after`` gives the next occurrence strictly after a time."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ValueError(
                f"{expression!r} is not a six-field NCRONTAB expression "
                "(second minute hour day month day-of-week)"
            )
        sec, minute, hour, day, month, dow = (f.parse(p) for f, p in zip(_FIELDS, parts, strict=True))
        return cls(
            expression, tuple(sorted(sec)), tuple(sorted(minute)), tuple(sorted(hour)),
            day, month, dow,
        )  # fmt: skip

    def _date_matches(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python: Monday = 0; cron: Sunday = 0
        return day.month in self.months and day.day in self.days and weekday in self.weekdays

    def _first_time_from(self, earliest: time) -> time | None:
        for hour in self.hours:
            if hour < earliest.hour:
                continue
            for minute in self.minutes:
                if hour == earliest.hour and minute < earliest.minute:
                    continue
                for second in self.seconds:
                    if (hour, minute) == (earliest.hour, earliest.minute) and (second < earliest.second):
                        continue
                    return time(hour, minute, second)
        return None

    def next_after(self, when: datetime) -> datetime:
        """The first occurrence strictly after ``when`` (naive values are taken as UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        start = when.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day, earliest = start.date(), start.time().replace(tzinfo=None)
        for _ in range(MAX_SEARCH_DAYS):
            if self._date_matches(day):
                found = self._first_time_from(earliest)
                if found is not None:
                    return datetime.combine(day, found, tzinfo=UTC)
            day, earliest = day + timedelta(days=1), time(0, 0, 0)
        raise ValueError(f"schedule {self.expression!r} never occurs")


def parse(expression: str) -> Schedule:
    return Schedule.parse(expression)


def next_after(expression: str, when: datetime) -> datetime:
    """Convenience: parse and compute in one call."""
    return Schedule.parse(expression).next_after(when)
