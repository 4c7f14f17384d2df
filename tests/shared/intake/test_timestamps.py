import numpy as np
import pytest

from shared.intake.timestamps import ordinals, parses


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T08:15:03Z",
        "2026-11-22T08:15:03.123Z",
        "2026-11-22T08:15:03+01:00",
        "2026-11-22T08:15:03",
        "2026-11-22T08:15",
        "2026-11-22 08:15:03",  # Epic
        "11/22/2026 08:15:03 AM",
        "11/22/2026 8:15 PM",
        "1/2/2026 13:05",
        "11/22/2026 08:15:03",
        "11/22/2026 12:00:00 am",
    ],
)
def test_forms_real_exports_use(text):
    assert parses(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-22",  # no time of day
        "08:15:03",
        "yesterday 08:15:03",
        "2026-13-22T08:15:03",
        "2026-11-22 25:15:03",
        "2026-11-22X08:15:03",
        "11/31/2026 08:00",
        "13/01/2026 08:00 AM",
        "11/22/2026 13:00 PM",
        "11/22/26 08:00",
        "11/22/2026 08:00 XM",
        "11/22/2026 8:5",
        "22.11.2026 08:15:03",
        "not a timestamp at all",
    ],
)
def test_anything_else_is_refused(text):
    assert not parses(text)


def _table(*stamps: str) -> np.ndarray:
    return np.frombuffer("".join(stamps).encode(), np.uint8).reshape(len(stamps), -1)


@pytest.mark.parametrize(
    "stamps",
    [
        ("2026-11-22T08:15:03Z", "2026-11-22T23:59:59Z", "2024-02-29T00:00:00Z"),
        ("2026-11-22 08:15:03", "2026-01-31 08:15:04"),  # Epic
        ("2026-11-22T08:15:03.123+01:00", "2026-11-22T08:15:02.999+01:00"),
    ],
)
def test_one_layout_is_checked_at_once_and_ordered_as_strings(stamps):
    order = ordinals(_table(*stamps))
    assert order is not None and all(map(parses, stamps))
    assert sorted(range(len(stamps)), key=order.__getitem__) == sorted(
        range(len(stamps)), key=stamps.__getitem__
    )


@pytest.mark.parametrize(
    "stamps",
    [
        ("2026-11-22T08:15:03Z", "2026-02-29T08:15:03Z"),  # not a leap year: invalid
        ("2026-11-22T08:15:03Z", "2026-11-22T24:00:00Z"),
        ("2026-11-22T08:15:03Z", "2026-00-22T08:15:03Z"),
        ("2026-11-22T08:15:03Z", "2026-11-22T08:60:03Z"),
        ("2026-11-22T08:15:03Z", "2026-11-22 08:15:03Z"),  # two layouts
        ("2026-11-22T08:15:03+01:00", "2026-11-22T08:15:03+02:00"),  # two zones
        ("2026-11-22T08:15:03Z", "2026-11-22T08:15:0xZ"),
        ("11/22/2026 08:15:03 AM", "11/22/2026 08:15:04 AM"),  # the US form: parses() decides
    ],
)
def test_anything_not_certainly_valid_is_left_to_parses(stamps):
    assert ordinals(_table(*stamps)) is None
