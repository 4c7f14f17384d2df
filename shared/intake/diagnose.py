"""What is wrong with a file that cannot be read as delimited UTF-8 text, in an operator's words:
the cause named (what wrote it that way) and the fix. Never a value from the file."""

from __future__ import annotations

import csv

from shared.common.dialect import RESAVE
from shared.common.errors import Rejected

CR_FIX = (
    "the connectors read LF or CRLF line ends: convert it (e.g. `tr '\\r' '\\n' < FILE > FIXED`, or "
    "open it in Excel and save as 'CSV UTF-8') and drop that file"
)


def not_utf8(name: str, offset: int, line: int, tail: bytes, bom: int) -> Rejected:
    """The first byte that is not UTF-8: where it is (byte, line, row) and what the text
    looks like instead."""
    where = f"byte {offset + max(bom, 0):,}, on line {line:,}" + (
        " (the header)" if line == 1 else f" (data row {line - 1:,} if no value spans lines)"
    )
    if len(tail) < 4 and _cut_short(tail):
        return Rejected("encoding", f"{name} ends in the middle of a UTF-8 character (at {where}): it was "
                        "cut short; export or copy it again")  # fmt: skip
    looks = "ANSI/Windows-1252 text" if _windows_1252(tail) else "text in an encoding other than UTF-8"
    return Rejected(
        "encoding",
        f"{name} is not UTF-8: {where} is not valid UTF-8. It looks like {looks} (what Excel's "
        "plain 'CSV (Comma delimited)' and many Windows tools write). "
        + RESAVE.format(source="WINDOWS-1252", powershell="Default"),
    )


def _cut_short(tail: bytes) -> bool:
    try:
        tail.decode()
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


def _windows_1252(tail: bytes) -> bool:
    """The bytes read as Windows-1252 text (it leaves only five bytes undefined)."""
    line = tail.split(b"\n", 1)[0]
    try:
        line.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def malformed(name: str, row: int, exc: csv.Error) -> Rejected:
    """``csv`` refused the quoting: the words of its error turned into the cause and fix."""
    text = str(exc)
    if "new-line character" in text:
        return Rejected("line-endings", f"{name}: a line ends with a carriage return alone (CR) in or "
                        f"after data row {row:,}; {CR_FIX}")  # fmt: skip
    if "field larger than field limit" in text or "unexpected end of data" in text:
        cause = "a quote opened in or after data row {row:,} is never closed (the quoted value runs on)"
        return Rejected(
            "malformed",
            f"{name}: {cause.format(row=row)}; close the quote or quote the value properly in the "
            "exporter, and export again",
        )
    return Rejected(
        "malformed",
        f"{name}: the quoting in or after data row {row:,} cannot be read ({text}); values holding "
        "the delimiter, a quote or a line break must be quoted, quotes inside doubled: fix the exporter",
    )


def long_line(name: str, limit: int, at: int, block: bytes) -> Rejected:
    """A line past any audit row's length: CR-only line ends, or no delimited text at all."""
    if block.count(b"\r") > block.count(b"\n"):
        return line_ends_rejected(name)
    return Rejected(
        "line-too-long",
        f"{name} has a line longer than {limit:,} bytes near byte {at:,}; no audit row is that long: "
        "is the file delimited text with line breaks? Export the audit log as CSV",
    )


def first_line(name: str, first: str) -> None:
    """Refuse a file whose lines end with a CR alone (old Mac tools), or whose header holds a
    NUL byte (no name has one: a binary file, or one pasted together from several)."""
    if "\r" in first.rstrip("\r\n"):
        raise line_ends_rejected(name)
    if not first.strip():
        raise Rejected(
            "header",
            f"{name} begins with a blank line: the header must be the first line; remove the blank "
            "line(s) above it and drop the file again",
        )
    if first.lower().startswith("sep="):
        raise Rejected(
            "header",
            f'{name} begins with Excel\'s "sep=" hint line, not the header: remove that line (the '
            "connector reads the header from the first line) and drop the file again",
        )
    if "\x00" in first:
        raise Rejected(
            "encoding",
            f"{name}: the header line holds a NUL byte, which no column name has: the file is not the "
            "text export it should be; export the audit log again as UTF-8 delimited text",
        )


def line_ends_rejected(name: str) -> Rejected:
    return Rejected(
        "line-endings",
        f"{name} ends its lines with a carriage return alone (CR, as classic Mac OS tools write); {CR_FIX}",
    )
