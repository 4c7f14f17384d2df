"""The scan counts the rows the connector's events filter leaves out, and plans chunks of the
rows to send: a chunk neither begins nor ends with a filtered row."""

import csv
import io

from shared.common.events import parse_events
from shared.common.schema import GENERIC
from shared.intake.scan import scan


def export(events):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.header for f in GENERIC.fields])
    for i, event in enumerate(events):
        values = [f"r{i}c{j}" for j in range(len(GENERIC.fields))]
        values[0] = f"2026-11-22T08:00:{i % 60:02d}Z"
        values[1] = event
        writer.writerow(values)
    return out.getvalue().encode()


def test_filtered_rows_are_counted_by_event_and_left_out_of_chunks():
    events = ["Print", "View", "print ", "View", "View", "Print", "View", "PRINT"]
    data = export(events)
    result = scan([data], "x.csv", GENERIC, 2, events=parse_events({"exclude": ["print"]}, "c"))
    assert result.rows == 8 and result.rows_valid == 8
    assert result.filtered_by_event == {"print": 4} and result.rows_to_send == 4
    assert [c.rows for c in result.chunks] == [2, 2]
    sent = []
    for c in result.chunks:
        text = data[c.start : c.end].decode()
        records = list(csv.reader(io.StringIO(text)))
        assert records[0][1] == "View" and records[-1][1] == "View"  # no filtered row at either end
        sent += [r[1] for r in records]
    assert sent.count("View") == 4


def test_a_file_of_filtered_rows_only_has_no_chunks():
    result = scan(
        [export(["Print"] * 3)], "x.csv", GENERIC, 10, events=parse_events({"include": ["View"]}, "c")
    )
    assert result.rows_valid == 3 and result.rows_to_send == 0 and result.chunks == []


def test_filtered_rows_of_unlisted_events_are_counted_in_one_bucket_never_by_their_text():
    """The Event Name column may hold free text (a mapping mistake, a comment): only the
    connector's own list of names is ever counted by name, in the bulk path and row by row."""
    from shared.common.events import OTHER

    free_text = [f"ZphiQ{i:05d} Denise O'Brien" for i in range(3000)]
    data = export(["View", *free_text, "View"])
    result = scan([data], "x.csv", GENERIC, 500, events=parse_events({"include": ["view"]}, "c"))
    assert result.filtered_by_event == {OTHER: 3000} and result.rows_to_send == 2
    data = export(["Print", "ZphiQ text", "Print", "View"])
    result = scan([data], "x.csv", GENERIC, 2, events=parse_events({"exclude": ["print", "ZphiQ text"]}, "c"))
    assert result.filtered_by_event == {"print": 2, "zphiq text": 1}  # listed by the hospital itself
