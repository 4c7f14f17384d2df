"""No silent misreading: date order, NUL bytes, bare quotes."""

import csv
import io

import pytest

from shared.common.settings import Connector
from shared.delivery.projection import Projection
from tests.shared.intake.exports import check, sent_bytes, values, written


def day_first_rows(days=range(1, 20)):
    return [values(i, when=f"{d:02d}/11/2026 08:15:03") for i, d in enumerate(days)]


def test_a_day_first_file_under_month_first_is_refused_whole_naming_order_and_setting():
    outcome = check(written(day_first_rows()))
    assert not outcome.accepted and outcome.rejected.code == "date-order"
    message = outcome.rejected.message
    assert "month-first" in message and '"date_order": "day-first"' in message
    assert "data row 13" in message  # the first row whose day is over 12
    assert "11/2026" not in message  # no value printed


def test_under_day_first_the_same_file_is_accepted_and_read_day_first():
    data = written(day_first_rows())
    outcome = check(data, date_order="day-first")
    assert outcome.accepted and outcome.result.rows_valid == 19


def test_a_month_first_file_under_day_first_is_refused_whole():
    rows = [values(i, when=f"11/{d:02d}/2026 08:15 PM") for i, d in enumerate(range(1, 20))]
    outcome = check(written(rows), date_order="day-first")
    assert outcome.rejected.code == "date-order" and '"date_order": "month-first"' in outcome.rejected.message


def test_a_bad_date_order_setting_is_refused():
    with pytest.raises(ValueError, match="date_order must be one of month-first, day-first"):
        Connector(name="c", kind="healthcare", job_id="j", date_order="dmy")


def test_day_first_timestamps_leave_as_iso_8601():
    data = written(day_first_rows([3, 25]))
    connector = Connector(name="c", kind="healthcare", job_id="j", date_order="day-first")
    line, rows = data.split(b"\n", 1)
    shape = Projection.for_header(line + b"\n", "x.csv", connector)
    assert not shape.passthrough
    out = io.BytesIO()
    shape.write([rows], out)
    sent = list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))
    assert [r[0] for r in sent[1:]] == ["2026-11-03T08:15:03", "2026-11-25T08:15:03"]
    assert sent[1][1:] == values(0)[1:]


def test_month_first_files_still_leave_byte_for_byte():
    connector = Connector(name="c", kind="healthcare", job_id="j")
    line = written([]).split(b"\n")[0] + b"\n"
    assert Projection.for_header(line, "x.csv", connector).passthrough


@pytest.mark.parametrize("where", [0, 9, 22])
def test_a_nul_byte_anywhere_flags_its_row_and_it_is_never_sent(where):
    rows = [values(i) for i in range(300)]
    rows[150][where] = rows[150][where][:2] + "\x00" + rows[150][where][2:]
    data = written(rows)
    outcome = check(data)
    assert outcome.accepted and outcome.result.rows == 300
    assert [(r["row"], r["code"]) for r in outcome.invalid_rows()] == [(151, "nul-byte")]
    assert "NUL byte" in next(outcome.invalid_rows())["reason"]
    sent = sent_bytes(data, outcome)
    assert b"\x00" not in sent and sent.count(b"\n") == 299


def test_a_nul_byte_in_a_quoted_value_is_flagged_too():
    rows = [values(i) for i in range(50)]
    rows[7][9] = 'Flat 2, "Elm"\x00 House'
    outcome = check(written(rows, quoting=csv.QUOTE_ALL))
    assert [(r["row"], r["code"]) for r in outcome.invalid_rows()] == [(8, "nul-byte")]


@pytest.mark.parametrize(
    "raw", ['This "quotes" must be escaped', "5'11\" tall", '"Elm" House', 'Elm "House'], ids=str
)
def test_a_bare_quote_in_an_unquoted_field_flags_its_row(raw):
    rows = [values(i) for i in range(200)]
    data = written(rows)
    lines = data.split(b"\r\n")
    cells = lines[41].split(b",")
    cells[9] = raw.encode()
    lines[41] = b",".join(cells)
    data = b"\r\n".join(lines)
    outcome = check(data)
    assert outcome.accepted, outcome.rejected
    assert [(r["row"], r["code"]) for r in outcome.invalid_rows()] == [(41, "bare-quote")]
    assert raw.encode() not in sent_bytes(data, outcome)


def test_properly_quoted_quotes_are_no_bare_quotes():
    rows = [values(i) for i in range(20)]
    rows[3][9] = 'This "quotes" are escaped'
    outcome = check(written(rows))
    assert outcome.accepted and not outcome.result.invalid


def test_day_first_parsing_and_contradiction():
    from shared.intake.timestamps import contradicts, parses

    assert parses("25/11/2026 08:15", day_first=True) and not parses("25/11/2026 08:15")
    assert contradicts("25/11/2026 08:15") and not contradicts("05/11/2026 08:15")
    assert contradicts("11/25/2026 8:15 PM", day_first=True)
    assert not contradicts("2026-11-25T08:15:00Z", day_first=True)
