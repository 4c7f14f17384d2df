"""What of a chunk leaves the hospital: the schema's columns and the allowed events only.

HIPAA's minimum-necessary rule: a column the connector does not read (an SSN, a diagnosis)
and an event the hospital did not choose to send are dropped here, before a byte is posted,
in the queue worker and in ``push`` alike. Which columns the connector reads comes from the
same header match the blob stage validated with (``shared.common.header``), so both stages
agree on the file's columns.

A file whose columns are all the schema's and whose connector filters no events is sent as
it is, byte for byte (no parse, no copy). Otherwise every record is parsed with ``csv``
(quoted fields, doubled quotes and newlines inside quotes come back as they were meant)
and written again with the file's delimiter, minimal quoting and the header's line ending.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Buffer, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from shared.common import dialect, header
from shared.common.dates import iso
from shared.common.events import EventFilter
from shared.common.records import records
from shared.common.schema import schema_for
from shared.common.settings import Connector


@dataclass(frozen=True)
class Sent:
    rows: int
    """Data rows written: what the API receives."""
    filtered: int
    """Rows left out by the connector's ``events`` filter."""


@dataclass(frozen=True)
class Projection:
    delimiter: str
    columns: tuple[str, ...]
    """The file's header, as parsed."""
    keep: tuple[int, ...] | None
    """Indices of the columns sent, in the file's order; None sends every column."""
    event_column: int
    events: EventFilter | None
    """None also when the file has no column for the filter to read (HR without HRScenario)."""
    newline: str
    time_column: int = 0
    day_first: bool = False
    """Slash dates are DD/MM/YYYY: each row's timestamp is sent as ISO 8601 instead."""

    @classmethod
    def for_header(cls, line: bytes, name: str, connector: Connector) -> Projection:
        """From the export's header line (as the blob stage cut it) and its connector."""
        text = line.decode("utf-8-sig")
        delimiter = dialect.detect(name, connector.kind, text)
        columns = next(csv.reader([text], delimiter=delimiter), [])
        schema = schema_for(connector.kind)
        found = header.match(schema, columns, name, connector.mapping)
        keep = None
        if connector.columns == "schema" and len(found) != len(columns):
            keep = tuple(sorted(found.values()))
        newline = "\r\n" if text.endswith("\r\n") else "\n"
        column = found.get(schema.event_key)
        events = connector.events if column is not None else None
        time_column = found.get(schema.time_key) if schema.time_key else None
        return cls(
            delimiter,
            tuple(columns),
            keep,
            column or 0,
            events,
            newline,
            time_column or 0,
            connector.day_first and time_column is not None,
        )

    @property
    def passthrough(self) -> bool:
        """Nothing to drop: the bytes go as they are."""
        return self.keep is None and self.events is None and not self.day_first

    def write(self, rows: Iterable[bytes], out: IO[bytes]) -> Sent:
        """The header and the rows as sent, into ``out``; the counts of what was written.

        Records are read as the scan reads them (``shared.common.records``). A record none of
        whose kept fields needs quoting (most audit rows) is joined with ``str.join``; any
        other is written by ``csv``, which quotes just the fields that need it."""
        columns, keep, events, column = self.columns, self.keep, self.events, self.event_column
        delimiter, newline, width = self.delimiter, self.newline, len(self.columns)
        time_column = self.time_column if self.day_first else -1
        batch = io.StringIO()
        writer = csv.writer(batch, delimiter=delimiter, lineterminator=newline)
        writer.writerow(columns if keep is None else [columns[i] for i in keep])
        put, sent, filtered = batch.write, 0, 0
        for record in records(_lines(rows), delimiter):
            if len(record) != width:
                if not record:
                    continue  # a blank line is not a row
                raise ValueError(
                    f"row {sent + filtered + 1} of the chunk has {len(record)} fields and the header "
                    f"{width}: the chunk is not the rows the blob stage validated"
                )
            if events is not None and not events.keeps(record[column]):
                filtered += 1
                continue
            if time_column >= 0:
                record[time_column] = iso(record[time_column], day_first=True)
            fields = record if keep is None else [record[i] for i in keep]
            line = delimiter.join(fields)
            if '"' in line or "\n" in line or "\r" in line or line.count(delimiter) != len(fields) - 1:
                writer.writerow(fields)
            else:
                put(line + newline)
            sent += 1
            if not sent % 4096:
                out.write(batch.getvalue().encode())
                batch.seek(0)
                batch.truncate()
        out.write(batch.getvalue().encode())
        return Sent(sent, filtered)


SPOOL_MEMORY = 1024 * 1024
"""A projected chunk beyond this goes to an unnamed temporary file (unlinked at creation, gone
with the invocation): 32 uploads of 100,000-row chunks would not fit an instance's memory."""
PIECE = 256 * 1024


@dataclass
class Payload:
    """The bytes of one upload, with their length (the API gets a Content-Length, as from the
    sample script): built once per invocation, read again for each POST and for redaction."""

    header: bytes
    """The header line as sent."""
    length: int
    sent: Sent
    _rows: Callable[[], Iterator[bytes]]

    def parts(self) -> Iterator[bytes]:
        yield self.header
        yield from self._rows()

    def rows(self) -> Iterator[bytes]:
        """The data rows as sent, without the header."""
        return self._rows()

    @classmethod
    @contextmanager
    def build(
        cls, shape: Projection, line: bytes, rows: Callable[[], Iterator[bytes]], size: int, planned: int
    ) -> Iterator[Payload]:
        """``rows`` streams the chunk's rows from Storage (``size`` bytes, ``planned`` rows)."""
        if shape.passthrough:
            yield cls(line, len(line) + size, Sent(planned, 0), rows)
            return
        with tempfile.SpooledTemporaryFile(SPOOL_MEMORY) as spool:
            sent = shape.write(rows(), spool)
            length = spool.tell()
            spool.seek(0)
            head = spool.readline()

            def projected() -> Iterator[bytes]:
                spool.seek(len(head))
                while piece := spool.read(PIECE):
                    yield piece

            yield cls(head, length, sent, projected)


class _Blocks(io.RawIOBase):
    """Streamed blocks as a raw stream, so the text layer decodes in C and nothing is joined."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        super().__init__()
        self._blocks = iter(blocks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        while not self._view:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._view = memoryview(block)
        out = memoryview(buffer).cast("B")
        n = min(len(out), len(self._view))
        out[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


def _lines(blocks: Iterable[bytes]) -> Iterator[str]:
    """Lines split on LF only, as the blob stage's scan splits them; ``csv`` joins the lines
    of a quoted field."""
    return io.TextIOWrapper(io.BufferedReader(_Blocks(blocks), 1 << 20), encoding="utf-8", newline="\n")
