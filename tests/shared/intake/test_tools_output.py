"""Exports as Epic's documentation spells the columns and as SSMS writes query results."""

import pytest

from tests.shared.intake.exports import EPIC, GENERIC, check, sent_bytes, values, written


def test_epic_headers_as_the_connector_page_spells_them_are_matched():
    header = [f.header.replace(".", ". ") for f in EPIC.fields]  # "EMP. SYSTEM_LOGIN"
    assert "EMP. SYSTEM_LOGIN" in header and "PATIENT. CITY" in header
    data = written([values(i, EPIC) for i in range(5)], EPIC, delimiter="|", header=header)
    outcome = check(data, "clarity.txt", "epic")
    assert outcome.accepted, outcome.rejected
    assert outcome.result.found["employee_upn"] == 18


def ssms(rows, footer=True, completion=True, delimiter=","):
    """What SSMS's "Results to File" writes with a custom delimiter: a dashes line under the
    header, then after the rows a blank line and "(N rows affected)", from SSMS 18 also the
    completion time."""
    data = written(rows, delimiter=delimiter)
    head, body = data.split(b"\r\n", 1)
    widths = [len(f.header) for f in GENERIC.fields]
    rule = delimiter.join("-" * w for w in widths).encode()
    tail = b""
    if footer:
        tail += f"\r\n({len(rows)} rows affected)\r\n".encode()
    if completion:
        tail += b"\r\nCompletion time: 2026-11-23T06:00:01.8273645-05:00\r\n"
    return head + b"\r\n" + rule + b"\r\n" + body + tail


@pytest.mark.parametrize("footer", [True, False])
@pytest.mark.parametrize("completion", [True, False])
def test_ssms_dashes_line_and_footer_are_left_out_with_a_note(footer, completion):
    rows = [values(i) for i in range(150)]  # under 200 rows: three stray lines would reject it
    data = ssms(rows, footer, completion)
    outcome = check(data)
    assert outcome.accepted, outcome.rejected
    result = outcome.result
    assert result.rows == 150 and not result.invalid
    assert any("dashes" in n for n in result.notes)
    assert any("rows affected" in n for n in result.notes) == (footer or completion)
    sent = sent_bytes(data, outcome)
    assert b"---" not in sent and b"affected" not in sent and b"Completion" not in sent
    assert sent.count(b"\r\n") >= 150


def test_the_validate_report_carries_the_notes():
    summary = check(ssms([values(i) for i in range(3)])).summary()
    assert len(summary.notes) == 2
