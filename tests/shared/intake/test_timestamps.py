import pytest

from shared.intake.timestamps import parses


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
