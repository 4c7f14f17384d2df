import itertools

import pytest

from shared.common.errors import Rejected
from shared.common.settings import Connector
from shared.intake.names import MAX_NAME_CHARS, REPORT_SUFFIX, name_problem, printable, quarantined_name
from shared.intake.plan import connector_for

CONNECTORS = {"generic": Connector("generic", "healthcare", "job")}


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused_and_never_printed(char):
    name = f"generic/a{char}b.csv"
    with pytest.raises(Rejected) as err:
        connector_for(name, CONNECTORS)
    assert err.value.code == "unsafe-name" and "control characters" in err.value.message
    assert char not in err.value.message and "generic/a?b.csv" in err.value.message
    assert printable(name) == "generic/a?b.csv"


def test_a_name_whose_reports_would_pass_1024_characters_is_refused():
    longest = "generic/" + "a" * (MAX_NAME_CHARS - 8)
    assert connector_for(longest, CONNECTORS).name == "generic"
    # what the pipeline derives from an accepted name stays within Azure's 1,024 characters
    assert len(f"validation/{longest}.{'r' * 12}.json") <= 1024
    assert len(quarantined_name(longest) + REPORT_SUFFIX) <= 1024
    with pytest.raises(Rejected) as err:
        connector_for(longest + "a", CONNECTORS)
    assert "961 characters long" in err.value.message and len(err.value.message) < 400


def test_ordinary_names_are_kept():
    for name in ("generic/x.csv", "generic/médecine 日本 ü.csv", "generic/a..b.csv"):
        assert name_problem(name) is None and quarantined_name(name) == name


def test_no_quarantined_copy_takes_a_reports_name_or_another_copys():
    stems = ["generic/x.csv", "generic/x", "refused-names/ab"]
    tails = [
        "",
        REPORT_SUFFIX,
        "~",
        "~~",
        REPORT_SUFFIX + "~",
        REPORT_SUFFIX * 2,
        "\x01",
        "a" * MAX_NAME_CHARS,
    ]
    names = {s + t for s, t in itertools.product(stems, tails)}
    copies = {quarantined_name(n) for n in names}
    assert len(copies) == len(names)  # no two files share a copy
    assert not any(c.endswith(REPORT_SUFFIX) for c in copies)  # so no copy is any file's report
    assert not copies & {c + REPORT_SUFFIX for c in copies}
    assert quarantined_name("generic/x.csv.report.json") == "generic/x.csv.report.json~"
    assert all(name_problem(c) is None for c in copies)
