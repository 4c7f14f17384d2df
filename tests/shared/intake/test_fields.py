"""A run's fields found over its bytes: the same values as ``csv``, or None where ``csv``
would read the run another way (the scan then takes it row by row)."""

import csv
import io

import pytest

from shared.intake import fields
from shared.intake.duplicates import row_hashes

WIDTH = 4


def by_csv(run: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(run.decode(), newline=""), strict=True))


@pytest.mark.parametrize(
    "run",
    [
        b"a,b,c,d\ne,,g,h\n",
        b"a,b,c,d\r\ne,f,g,\r\n",
        b'a,"b,1",c,d\ne,"",g,"h"\n',  # a quoted delimiter, an empty quoted value
        b'a,"line\nbreak",c,d\ne,f,g,"x\r\ny"\n',  # records spanning lines
        b'a,"say ""hi""",c,d\ne,"""",g,h\n',  # doubled quotes
        b'"a","b","c","d"\r\n"e","f,\n","","h"\r\n',  # every field quoted (SQL exporters)
        'Nguyễn,é,"Å,sa",d\n'.encode(),
    ],
)
def test_values_are_those_csv_gives(run):
    found = fields.split(run, ",", WIDTH)
    assert found is not None
    rows = by_csv(run)
    assert found.rows == len(rows)
    assert [found.strings(c) for c in range(WIDTH)] == [list(col) for col in zip(*rows, strict=True)]
    assert (found.key_hashes([1, 0]) == row_hashes([(r[1], r[0]) for r in rows])).all()
    assert found.lines_of(found.rows) == run.count(b"\n")


def test_records_spanning_lines_map_to_their_physical_lines():
    run = b'a,"1\n2\n3",c,d\ne,f,g,h\ni,"4\n5",k,l\n'
    found = fields.split(run, ",", WIDTH)
    assert found is not None and found.rows == 3
    assert [found.lines_of(j) for j in range(4)] == [0, 3, 4, 6]


@pytest.mark.parametrize(
    "run",
    [
        b"a,b,c\ne,f,g,h\n",  # a short line
        b"a,b,c,d,e\nf,g,h\n",  # a long one and a short one: the right total
        b"a,b,c,d\n\ne,f,g,h\n",  # a blank line
        b'a,b"x,c,d\n',  # a quote inside an unquoted field
        b'a,"b"x,c,d\n',  # text after a closing quote
        b"a,b\rx,c,d\n",  # a carriage return that ends no line
        b"a,\x1eb,c,d\n",  # the separator strings() uses
    ],
)
def test_runs_csv_reads_otherwise_are_declined(run):
    assert fields.split(run, ",", WIDTH) is None


@pytest.mark.parametrize(
    ("run", "at"),
    [
        (b'a,b,c,d\ne,"f\ng,h\n', 8),  # a record going on past the run
        (b'a,b,c,d\ne,"f\ng",h,i\nj,b"x,c,d\n', 8 + 12),  # a quote csv reads otherwise
        (b"a,b,c,d\ne,f\nj,k,l,m\n", 8),  # a record of another width
        (b'a,"b\nc",d,e\n\nf,g,h,i\n', 12),  # a blank line after a record spanning two
        (b"a,b,c,d\r\ne,f\r,g,h\r\n", 9),  # a CR that ends no line
        (b"a,b,c,d\ne,f,g,\x1e\n", 8),
    ],
)
def test_trouble_is_where_the_first_record_split_cannot_take_begins(run, at):
    assert fields.split(run, ",", WIDTH) is None
    assert fields.trouble(run, ",", WIDTH) == at
    assert fields.split(run[:at], ",", WIDTH) is not None


def test_one_length_values_make_a_table():
    found = fields.split(b"2026-11-22T08:15:03Z,b,c,d\n2026-11-22T08:15:04Z,b,,d\n", ",", WIDTH)
    assert found is not None
    table = found.fixed(0)
    assert table is not None and table.tobytes() == b"2026-11-22T08:15:03Z2026-11-22T08:15:04Z"
    assert found.fixed(2) is None  # "c" and ""
    assert found.empty([2]).tolist() == [False, True] and not found.empty([0, 1, 3]).any()
    assert found.begins(1) == 27
