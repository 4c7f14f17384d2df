"""NCRONTAB parsing and next occurrences, checked against NCrontab's documented behaviour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from devstack.host.ncrontab import Schedule, next_after


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def occurrences(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule, result = Schedule.parse(expression), []
    for _ in range(count):
        start = schedule.next_after(start)
        result.append(start)
    return result


def test_daily_report_schedule_fires_at_six_utc() -> None:
    assert next_after("0 0 6 * * *", at(2025, 3, 1, 5, 59, 59)) == at(2025, 3, 1, 6, 0, 0)
    assert next_after("0 0 6 * * *", at(2025, 3, 1, 6, 0, 0)) == at(2025, 3, 2, 6, 0, 0)


def test_strictly_after_and_microseconds_ignored() -> None:
    assert next_after("* * * * * *", at(2025, 1, 1, 0, 0, 0)) == at(2025, 1, 1, 0, 0, 1)
    start = at(2025, 1, 1, 0, 0, 0).replace(microsecond=999_999)
    assert next_after("* * * * * *", start) == at(2025, 1, 1, 0, 0, 1)


def test_steps_ranges_and_lists() -> None:
    assert occurrences("*/15 * * * * *", at(2025, 1, 1, 0, 0, 0), 4) == [
        at(2025, 1, 1, 0, 0, 15),
        at(2025, 1, 1, 0, 0, 30),
        at(2025, 1, 1, 0, 0, 45),
        at(2025, 1, 1, 0, 1, 0),
    ]
    assert occurrences("0 10-20/5 9 * * *", at(2025, 1, 1), 4) == [
        at(2025, 1, 1, 9, 10),
        at(2025, 1, 1, 9, 15),
        at(2025, 1, 1, 9, 20),
        at(2025, 1, 2, 9, 10),
    ]
    assert occurrences("0 0 1,13,22 * * *", at(2025, 1, 1, 12), 3) == [
        at(2025, 1, 1, 13),
        at(2025, 1, 1, 22),
        at(2025, 1, 2, 1),
    ]


def test_value_with_step_runs_to_field_maximum() -> None:
    # NCrontab: "50/5" is 50, 55 (up to 59); "5/1" is just 5.
    assert occurrences("50/5 * * * * *", at(2025, 1, 1), 3) == [
        at(2025, 1, 1, 0, 0, 50),
        at(2025, 1, 1, 0, 0, 55),
        at(2025, 1, 1, 0, 1, 50),
    ]
    assert Schedule.parse("5/1 * * * * *").seconds == (5,)


def test_month_and_day_names() -> None:
    # 2025-06-02 is a Monday.
    assert next_after("0 30 9 * Jun Mon", at(2025, 1, 1)) == at(2025, 6, 2, 9, 30)
    assert next_after("0 0 0 * * SUNDAY", at(2025, 6, 2)) == at(2025, 6, 8)
    assert next_after("0 0 0 1 september *", at(2025, 1, 1)) == at(2025, 9, 1)
    assert next_after("0 0 0 * * mon-fri", at(2025, 6, 7)) == at(2025, 6, 9)  # Sat -> Mon


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    # NCrontab ANDs them (Vixie cron would OR): the next Friday the 13th after 2025-01-01.
    assert next_after("0 0 0 13 * 5", at(2025, 1, 1)) == at(2025, 6, 13)


def test_short_months_and_leap_days_are_skipped() -> None:
    assert occurrences("0 0 0 31 * *", at(2025, 1, 31), 2) == [at(2025, 3, 31), at(2025, 5, 31)]
    assert next_after("0 0 12 29 2 *", at(2025, 1, 1)) == at(2028, 2, 29, 12)


def test_rollover_across_year_end() -> None:
    assert next_after("59 59 23 31 12 *", at(2025, 12, 31, 23, 59, 59)) == at(2026, 12, 31, 23, 59, 59)
    assert next_after("0 0 0 1 1 *", at(2025, 12, 31, 23, 59, 59)) == at(2026, 1, 1)


def test_timezones_are_converted_to_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    start = datetime(2025, 7, 1, 7, 59, 0, tzinfo=paris_summer)  # 05:59 UTC
    assert next_after("0 0 6 * * *", start) == at(2025, 7, 1, 6)
    assert next_after("0 0 6 * * *", datetime(2025, 7, 1, 5, 0)) == at(2025, 7, 1, 6)  # naive
    assert next_after("0 0 6 * * *", start).tzinfo == UTC


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 6 * *",  # five fields
        "0 0 6 * * * *",  # seven fields
        "60 * * * * *",
        "* 60 * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * 32 * *",
        "* * * * 13 *",
        "* * * * * 7",  # NCrontab's day of week is 0-6
        "* * * * Foo *",
        "*/0 * * * * *",
        "10-5 * * * * *",
        "1,,2 * * * * *",
        "a * * * * *",
        "%REPORT_SCHEDULE%",
    ],
)
def test_invalid_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ValueError):
        Schedule.parse(expression)


def test_impossible_date_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="never occurs"):
        next_after("0 0 0 30 2 *", at(2025, 1, 1))
