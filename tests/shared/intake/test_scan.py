import csv
import io

import pytest

from shared.common.errors import Rejected
from shared.common.schema import EPIC, GENERIC
from shared.intake.scan import scan


def export(schema, rows, delimiter=",", newline="\n", bom=False, tricky_row=None):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow([f.header for f in schema.fields])
    for i in range(rows):
        values = [f"r{i}c{j}" for j in range(len(schema.fields))]
        values[0] = f"2026-11-22T08:{i // 60 % 60:02d}:{i % 60:02d}Z"
        if i == tricky_row:
            values[9] = f'12 "Main"{delimiter} Street\r\nApt é{delimiter}4'
        writer.writerow(values)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def written(rows, newline="\n"):
    """A generic export of ``rows`` (each a function of its index giving its values)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow([f.header for f in GENERIC.fields])
    writer.writerows(rows)
    return out.getvalue().encode()


def plain_row(i):
    return [f"r{i}c{j}" for j in range(len(GENERIC.fields))]


def blocks(data, size):
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("block", [1, 7, 1000, 1 << 20])
@pytest.mark.parametrize(("bom", "newline"), [(False, "\n"), (True, "\r\n")])
def test_chunks_cover_every_row_once_on_record_boundaries(block, bom, newline):
    data = export(GENERIC, 10, newline=newline, bom=bom, tricky_row=4)
    result = scan(blocks(data, block), "x.csv", GENERIC, chunk_rows=3)
    assert result.rows == 10 and [c.rows for c in result.chunks] == [3, 3, 3, 1]
    assert result.header_start == (3 if bom else 0)
    assert result.chunks[0].start == result.header_end and result.chunks[-1].end == len(data)
    parsed = []
    for c in result.chunks:
        parsed += list(csv.reader(io.StringIO(data[c.start : c.end].decode(), newline="")))
    assert [r[1] for r in parsed] == [f"r{i}c1" for i in range(10)]
    assert "Street" in parsed[4][9]


def test_epic_pipe_txt_and_trailing_empty_line():
    data = export(EPIC, 5, delimiter="|") + b"\n"
    result = scan(blocks(data, 64), "epic.txt", EPIC, chunk_rows=100)
    assert result.delimiter == "|" and result.rows == 5 and len(result.chunks) == 1


def test_sha256_of_whole_content():
    import hashlib

    data = export(GENERIC, 3, bom=True)
    assert scan([data], "x.csv", GENERIC, 10).sha256 == hashlib.sha256(data).hexdigest()


def test_invalid_utf8_rejected_with_position():
    data = export(GENERIC, 2) + b"\xff\xfe bad"
    with pytest.raises(Rejected) as err:
        scan(blocks(data, 50), "x.csv", GENERIC, 10)
    assert err.value.code == "encoding"


def test_empty_file_rejected():
    with pytest.raises(Rejected, match="empty"):
        scan([], "x.csv", GENERIC, 10)


@pytest.mark.parametrize("hold", ["\x01", "\x1e", "\x1f"])
def test_delimiter_in_quotes_of_a_checked_column_counts_duplicates_as_csv_does(hold):
    # A delimiter inside quotes is part of its value, in a checked column too, and control
    # characters are just characters ("\x1e" is what the fast path gathers a column's strings
    # with: a run holding it goes row by row): "Doe\x01 Jane" is not "Doe, Jane".
    def row(i):
        values = plain_row(i)
        values[0] = "2026-11-22T08:15:03Z"
        values[5] = f"p{i // 2 % 10}"
        values[9] = f"12 Elm St{hold}, Apt é{i}"
        values[18] = "Doe, Jane" if i % 2 else f"Doe{hold} Jane"  # quoted / not: two employees
        return values

    data = written(map(row, range(40)))
    keys = [(r[18], r[5], r[0]) for r in csv.reader(io.StringIO(data.decode(), newline=""))][1:]
    result = scan([data], "x.csv", GENERIC, chunk_rows=100)
    assert result.rows == 40 and not result.invalid
    assert result.duplicates == len(keys) - len(set(keys)) == 20


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_line_breaks_and_escaped_quotes_stay_on_the_fast_path(newline, monkeypatch):
    # Records spanning lines, escaped quotes and CR/LF inside quotes (in a checked column too)
    # are checked a run at once, and chunks are still cut where csv's records end.
    from shared.intake import scan as scanning

    def row(i):
        values = plain_row(i)
        values[0] = f"2026-11-22T08:00:{i % 10:02d}Z"
        values[5] = f"p{i % 50}"
        values[9] = "Apt 3\r\nc/o Doe" if i % 7 == 0 else 'Unit 4 "garden", rear' if i % 5 == 0 else "x"
        values[18] = "Doe\nJane" if i % 2 else "Doe Jane"  # two employees, one quoted
        return values

    data = written(map(row, range(300)), newline)

    def summary(result):
        return result.rows, result.duplicates, list(result.invalid), result.chunks

    def row_by_row(*args):
        pytest.fail("row by row")

    with monkeypatch.context() as m:
        m.setattr(scanning._RowByRow, "take", row_by_row)
        fast = scan([data], "x.csv", GENERIC, chunk_rows=13)
    with monkeypatch.context() as m:
        m.setattr(scanning._Runs, "valid", lambda self, body: False)
        assert summary(fast) == summary(scan([data], "x.csv", GENERIC, chunk_rows=13))
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
    keys = [(r[18], r[5], r[0]) for r in records]
    assert fast.rows == 300 and fast.duplicates == len(keys) - len(set(keys)) == 250
    uploaded = [
        r for c in fast.chunks for r in csv.reader(io.StringIO(data[c.start : c.end].decode(), newline=""))
    ]
    assert uploaded == records


def test_only_invalid_rows_go_row_by_row_and_filtered_ones_are_counted_in_bulk(monkeypatch):
    # A few invalid rows among many valid ones are each taken alone (their reasons recorded),
    # the rest stays on the fast path; rows the events filter leaves out never go row by row.
    from shared.common.events import parse_events
    from shared.intake import scan as scanning

    def row(i):
        values = plain_row(i)
        values[0] = f"2026-11-22T08:{i // 60 % 60:02d}:{i % 60:02d}Z"
        values[1] = "Chart Opened" if i % 3 else "Login"
        values[18] = "" if i in (5, 1500, 2999) else f"user{i % 7}@example.org"  # three invalid
        return values

    data = written(map(row, range(3000)))
    taken_alone = []
    take = scanning._RowByRow.take

    def one_by_one(slow, text, *args):
        before = slow.cutter.rows
        take(slow, text, *args)
        taken_alone.append(slow.cutter.rows - before)

    with monkeypatch.context() as m:
        m.setattr(scanning._RowByRow, "take", one_by_one)
        result = scan(
            [data], "x.csv", GENERIC, chunk_rows=400, events=parse_events({"exclude": ["Login"]}, "t")
        )
    assert taken_alone == [1, 1, 1]
    assert [n for n, _, _ in result.invalid] == [6, 1501, 3000]
    assert result.filtered_by_event == {"login": 999}  # rows 0, 3, ..., 2997 less the invalid 1500
    assert result.rows_to_send == sum(c.rows for c in result.chunks) == 3000 - 3 - 999
