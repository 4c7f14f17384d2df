"""The public CSV test suites (tests/data/csv-suites: csv-spectrum, W3C CSVW, rvl) through
``validate`` and ``push``: every legal file's cells arrive cell for cell; every broken one is
refused or its rows flagged.

Each suite file is carried inside an audit export as it is, byte for byte: every record gets
the connector's fields in front (valid, so only the suite's bytes can be wrong), the suite's
header is appended to the connector's. What is legal is decided without our code: RFC 4180's
grammar (a quoted field's quotes doubled, no quote in an unquoted one, LF or CRLF line ends,
no NUL) and every record as wide as the header; the cells expected are what ``csv`` reads.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from ehr_cli.main import main
from shared.common.settings import Connector
from shared.delivery.projection import Payload, Projection
from shared.delivery.upload import without
from shared.intake.validation import validate
from shared.push import file_blocks, plan
from tests.shared.intake.exports import GENERIC, Checked, values

SUITES = Path(__file__).resolve().parents[2] / "data" / "csv-suites"
FILES = sorted(p for p in SUITES.rglob("*") if p.suffix in (".csv", ".tsv"))
WIDTH = len(GENERIC.fields)


def delimiter_of(path: Path) -> tuple[str, str]:
    """(delimiter, extension of the export carrying it)."""
    if path.suffix == ".tsv" or path.name.startswith("tab_"):
        return "\t", ".tsv"
    if path.name.startswith("pipe_"):
        return "|", ".psv"
    return ",", ".csv"


def rfc4180(text: str, d: str) -> bool:
    field = rf'(?:"(?:[^"]|"")*"|[^"{re.escape(d)}\r\n]*)'
    record = rf"{field}(?:{re.escape(d)}{field})*"
    return "\x00" not in text and re.fullmatch(rf"{record}(?:\r?\n{record})*(?:\r?\n)?", text) is not None


def raw_records(text: str, d: str) -> list[str]:
    """The file's records as its own bytes (a quoted line break keeps a record's lines together;
    a file ``csv`` cannot read is taken line by line)."""
    lines = text.splitlines(keepends=True) if "\r" not in text.replace("\r\n", "") else text.split("\n")
    lines = [line for line in lines if line]
    try:
        reader = csv.reader(iter(lines), delimiter=d, strict=True)
        out, at = [], 0
        for _ in reader:
            out.append("".join(lines[at : reader.line_num]))
            at = reader.line_num
        return out
    except csv.Error:
        return lines


def carried(path: Path) -> tuple[bytes, str, list[list[str]] | None]:
    """(the export carrying the suite file, its name, the cells expected or None if the file
    is not legal). A file that is no UTF-8 text is carried as it is: what it is must be seen
    from its first bytes. Blank lines before the header are not carried (no cells)."""
    d, ext = delimiter_of(path)
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3 if bom else 0 :].decode()
    except UnicodeDecodeError:
        return data, path.stem + ext, None
    records = raw_records(text, d)
    while records and records[0] in ("\n", "\r\n"):
        records.pop(0)
    header = d.join(f.header for f in GENERIC.fields)
    if not records:
        return header.encode() + b"\n", path.stem + ext, []
    out = [header + d + records[0]]
    if not records[0].endswith("\n"):
        out[0] += "\n"
    for i, raw in enumerate(records[1:]):
        blank = raw in ("\n", "\r\n")
        out.append(raw if blank else d.join(values(i)) + d + raw)
    export = ("\ufeff" if bom else "") + "".join(out)
    expected = None
    if rfc4180(text, d):
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=d, strict=True) if r]
        if all(len(r) == len(rows[0]) for r in rows):
            expected = rows[1:]
    return export.encode(), path.stem + ext, expected


def pushed(export: Path, connector: Connector) -> list[list[str]]:
    """The rows ``push`` would post, parsed back: its plan, then each chunk's payload as built
    for the upload (the worker's projection), without the HTTP."""
    planned = plan(export, connector)
    header = b"".join(file_blocks(export, planned.header_start, planned.header_end - planned.header_start))
    shape = Projection.for_header(header, export.name, connector)
    rows: list[list[str]] = []
    for chunk in planned.chunks:

        def blocks(chunk=chunk):
            return without(
                file_blocks(export, chunk.start, chunk.end - chunk.start, 7), chunk.start, chunk.skip
            )

        with Payload.build(shape, header, blocks, chunk.size, chunk.rows) as payload:
            body = b"".join(payload.parts()).decode("utf-8-sig")
        parsed = list(csv.reader(io.StringIO(body, newline=""), delimiter=shape.delimiter, strict=True))
        rows += [r for r in parsed[1:] if r]
    return rows


MODES: dict[str, dict[str, Any]] = {
    "as sent byte for byte": {"columns": "all"},
    "rewritten by the projection": {"columns": "all", "events": {"exclude": ["Never sent"]}},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SUITES)))
def test_suite_file_through_validate_and_push(path, mode, tmp_path):
    data, name, expected = carried(path)
    export = tmp_path / name
    export.write_bytes(data)
    connector = Connector(name="generic", kind="healthcare", job_id="j", chunk_rows=2, **MODES[mode])
    outcome = Checked(validate([data[i : i + 5] for i in range(0, len(data), 5)], name, connector))
    if expected is None:  # broken: refused, or its rows flagged
        assert not outcome.accepted or len(outcome.result.invalid), outcome.summary()
        return
    if not expected:
        assert outcome.rejected.code == "no-rows"
        return
    assert outcome.accepted, outcome.rejected
    assert not outcome.result.invalid and outcome.result.rows == len(expected)
    assert [r[WIDTH:] for r in pushed(export, connector)] == expected


@pytest.mark.parametrize("path", FILES[:: max(len(FILES) // 8, 1)], ids=lambda p: p.name)
def test_the_validate_command_gives_the_same_verdict(path, tmp_path, capsys):
    data, name, expected = carried(path)
    export = tmp_path / name
    export.write_bytes(data)
    code = main(["validate", str(export)])
    out = capsys.readouterr().out
    assert ("ACCEPTED" in out) == (code == 0)
    if expected:
        assert code == 0, out
