"""The scan's fast path against ``csv.reader`` and against the row-by-row path, on random exports.

Random RFC 4180 input (quotes, doubled quotes, delimiters and newlines inside quotes, CRLF
and LF mixed, a BOM, a trailing empty line, a final line without newline), cut into random
blocks and read in small pieces so that runs, fallbacks and block edges fall everywhere.
Bounded and without deadline: not flaky on a busy machine.
"""

import csv
import io
import re
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.common.events import parse_events
from shared.common.schema import GENERIC
from shared.intake import scan as scanning
from shared.intake.scan import scan

WIDTH = len(GENERIC.fields)
HEADER = [f.header for f in GENERIC.fields]
TIMES = ["2026-11-22T08:15:03Z", "2026-11-22 08:15:04", "11/22/2026 8:15 AM", "2026-11-22T08:15:03"]

# Beyond ASCII: é and Å, à (Latin-1) and ễ beyond it, which makes the run it is in a string of
# two bytes a character, as names in real exports do.
piece = st.sampled_from(["a", "b", " ", ",", '"', '""', "\n", "\r\n", "\r", "é", "|", "ễ", "Å", "à", "\x00"])
field = st.lists(piece, max_size=4).map("".join)
plain_field = st.sampled_from(["", "x", "y", "Elm St", "é", "12 Elm St, Apt 3", "Nguyễn", "Åsa"])
timestamp = st.one_of(st.sampled_from(TIMES), st.sampled_from(["", "soon", "2026-13-01T08:00:00"]))


@st.composite
def rows(draw):
    """A row of the header's width, mostly plain (so runs pass), sometimes odd or broken."""
    kind = draw(st.sampled_from(["plain"] * 6 + ["tricky"] * 3 + ["short", "long", "blank", "bare"]))
    if kind == "blank":
        return []
    if kind == "bare":  # written by hand: a quote inside an unquoted value (csv.writer never does)
        return (
            "2026-11-22T08:15:03Z,Bare,"
            + ",".join(["x"] * (WIDTH - 3))
            + draw(st.sampled_from([',x"y', ',"x"y', ',x"', ",5'11\""])),
        )
    values = [draw(st.sampled_from(TIMES[:2])) if draw(st.booleans()) else draw(timestamp)]
    values += [draw(plain_field if kind != "tricky" else field) for _ in range(WIDTH - 1)]
    values[1] = values[1] or draw(st.sampled_from(["", "Open"]))  # event name: usually set
    values[18] = draw(st.sampled_from(["", "u1", "u2", "u1", "ễ1"]))  # employee: some duplicates
    if kind == "short":
        del values[draw(st.integers(1, WIDTH - 1))]
    elif kind == "long":
        values.append(draw(field))
    return values


@st.composite
def exports(draw):
    body = draw(st.lists(rows(), max_size=40))
    quote_all = draw(st.booleans())
    out = io.StringIO()
    for values in [HEADER, *body]:
        ending = draw(st.sampled_from(["\n", "\r\n"]))
        if isinstance(values, tuple):
            out.write(values[0] + ending)
        elif values:
            quoting: Literal[0, 1] = (
                csv.QUOTE_ALL if quote_all and draw(st.integers(0, 9)) else csv.QUOTE_MINIMAL
            )
            line = io.StringIO()  # CRLF as the writer's terminator: it then quotes any CR or LF
            csv.writer(line, lineterminator="\r\n", quoting=quoting).writerow(values)
            out.write(line.getvalue()[:-2] + ending)
        else:
            out.write(ending)
    text = out.getvalue()
    if draw(st.booleans()):
        text += "\n"  # a trailing empty line
    elif draw(st.booleans()):
        text = text.rstrip("\r\n")  # a final line without newline
    bom = draw(st.booleans())
    data = ("\ufeff" if bom else "") + text
    return data.encode(), 3 if bom else 0


def records_by_csv(data: bytes, bom: int) -> tuple[list[list[str]], list[int]]:
    """Records as ``csv.reader`` parses them, with the byte offset each one ends at."""
    lines = re.findall(r"[^\n]*\n|[^\n]+$", data[bom:].decode())  # physical lines, as csv sees them
    line_ends, total = [], bom
    for line in lines:
        total += len(line.encode())
        line_ends.append(total)
    reader = csv.reader(iter(lines))  # not strict: a bare quote is the scan's to flag, not an error
    records, ends = [], []
    for record in reader:
        records.append(record)
        ends.append(line_ends[reader.line_num - 1])
    return records, ends


def run_scan(data, cut, chunk_rows, monkeypatch, fast=True, events=None):
    with monkeypatch.context() as m:
        m.setattr(scanning._Source, "TEXT_PIECE", cut * 3 + 1)
        m.setattr(scanning, "MAX_SKIPPED_RUNS", 2)
        if not fast:
            m.setattr(scanning._Runs, "valid", lambda self, body: False)
        blocks = [data[i : i + cut] for i in range(0, len(data), cut)]
        return scan(blocks, "x.csv", GENERIC, chunk_rows, events=events)


def summary(result):
    return (
        result.rows,
        result.header_end,
        result.duplicates,
        list(result.invalid),
        [(c.start, c.end, c.rows, c.first_row, c.skip) for c in result.chunks],
        result.sha256,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(export=exports(), cut=st.integers(1, 700), chunk_rows=st.integers(1, 7))
def test_fast_path_matches_csv_reader_and_the_row_by_row_path(export, cut, chunk_rows, monkeypatch):
    data, bom = export
    result = run_scan(data, cut, chunk_rows, monkeypatch)
    # The same verdicts, row numbers, offsets, skips and duplicate count as row by row.
    assert summary(result) == summary(run_scan(data, cut, chunk_rows, monkeypatch, fast=False))

    records, ends = records_by_csv(data, bom)
    assert result.columns == records[0] and result.header_end == ends[0]
    numbered = [r for r in records[1:] if r]
    assert result.rows == len(numbered)
    nul = {n for n, r in enumerate(numbered, 1) if "\x00" in "".join(r)}  # flagged, whatever the width
    assert {n for n, code, _ in result.invalid if code == "nul-byte"} == nul
    bare = {n for n, code, _ in result.invalid if code == "bare-quote"}
    assert bare == {n for n, r in enumerate(numbered, 1) if r[1] == "Bare"}
    widths = {n: len(r) for n, r in enumerate(numbered, 1) if len(r) != WIDTH and n not in nul | bare}
    counted = {n: d for n, code, d in result.invalid if code in ("field-count", "trailing-delimiter")}
    assert counted == widths
    # Every chunk starts and ends on a record boundary, and what the workers would upload
    # (each range less its skips) parses back to exactly the valid rows, in order.
    boundaries = set(ends)
    invalid = {n for n, _, _ in result.invalid}
    uploaded = []
    for c in result.chunks:
        assert c.start in boundaries and c.end in boundaries
        kept, position = [], c.start
        for start, end in c.skip:
            assert start in boundaries and end in boundaries
            kept.append(data[position:start])
            position = end
        kept.append(data[position : c.end])
        part = [r for r in csv.reader(io.StringIO(b"".join(kept).decode(), newline="")) if r]
        assert len(part) == c.rows
        uploaded += part
    assert uploaded == [r for n, r in enumerate(numbered, 1) if n not in invalid]
    keys = [(r[18], r[5], r[0]) for r in uploaded]  # employee, patient, timestamp
    assert result.duplicates == len(keys) - len(set(keys))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    export=exports(),
    cut=st.integers(1, 700),
    chunk_rows=st.integers(1, 7),
    events=st.sampled_from([{"exclude": ["Open"]}, {"include": ["Open"]}, {"exclude": ["x", "y"]}]),
)
def test_with_an_events_filter_the_fast_path_matches_the_row_by_row_path(
    export, cut, chunk_rows, events, monkeypatch
):
    # Filtered rows are counted in bulk on the fast path, one by one on the other: the same
    # counts by event, and chunks that begin and end on rows that are sent.
    data, _ = export
    chosen = parse_events(events, "test")
    fast = run_scan(data, cut, chunk_rows, monkeypatch, events=chosen)
    slow = run_scan(data, cut, chunk_rows, monkeypatch, fast=False, events=chosen)
    assert summary(fast) == summary(slow)
    assert fast.filtered_by_event == slow.filtered_by_event
