"""Records from lines of delimited text: what ``csv.reader`` yields, faster on ordinary lines.

Both stages read records this way (the scan to validate, the worker to send only the
schema's columns), so they agree on where a record ends: lines split on LF only, a quoted
field may span lines.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator


def records(lines: Iterator[str], delimiter: str) -> Iterator[list[str]]:
    """A line with no quote and no stray carriage return parses the same with ``str.split`` as
    with ``csv`` (strict); any other line hands over to a ``csv.reader`` for that one record,
    which pulls exactly the physical lines the record spans. A blank line is ``[]``.
    """
    for line in lines:
        cr = line.find("\r")
        if '"' in line or (cr != -1 and cr != len(line) - 2):
            yield next(csv.reader(itertools.chain((line,), lines), delimiter=delimiter, strict=True), [])
        elif line == "\n" or line == "\r\n":
            yield []
        else:
            record = line.split(delimiter)
            last = record[-1]
            if last[-1:] == "\n":
                record[-1] = last[:-2] if cr != -1 else last[:-1]
            yield record
