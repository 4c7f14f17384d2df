"""Records as ``csv`` reads them, each bounded before it is built."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator

import pytest

from shared.common.records import MAX_RECORD_FIELDS, MAX_RECORD_LINES, RecordTooLong, records


def test_records_read_as_csv_reads_them():
    text = 'a,b,c\n"x\ny",",",""""\n\nd,e,f\r\n'
    assert list(records(iter(io.StringIO(text, newline="")), ",")) == [
        *csv.reader(io.StringIO(text, newline=""), strict=True)
    ]


def test_an_unterminated_quote_stops_at_the_line_bound_not_at_the_end_of_the_file():
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        yield 'a,"b\n'
        for _ in itertools.count():
            pulled += 1
            yield "a\n"

    with pytest.raises(RecordTooLong, match="spans more than 10,000 lines"):
        next(records(endless(), ","))
    assert pulled == MAX_RECORD_LINES  # the line past the bound was never handed to csv


def test_fields_are_counted_before_csv_splits_them():
    with pytest.raises(RecordTooLong, match="more than 10,000 fields"):
        next(records(iter(['"x",' * MAX_RECORD_FIELDS + "\n"]), ","))
    with pytest.raises(RecordTooLong, match="more than 10,000 fields"):
        next(records(iter(['"x\n",' * MAX_RECORD_FIELDS + "\n"]), ","))
    fields = ['"x"'] * (MAX_RECORD_FIELDS - 1) + ["x\n"]
    assert len(next(records(iter([",".join(fields)]), ","))) == MAX_RECORD_FIELDS


def test_characters_are_bounded_across_lines():
    lines = ['"\n'] + ["y" * 100_000 + '","\n'] * 11 + ['"\n']  # fields under csv's own limit
    with pytest.raises(RecordTooLong, match="longer than 1,048,576 characters"):
        next(records(iter(lines), ","))
