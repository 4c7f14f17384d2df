"""How an export is written: delimiter, encoding, BOM. Decided from its name and first bytes."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePosixPath

from shared.common.errors import Rejected

BY_EXTENSION = {".csv": ",", ".tsv": "\t", ".psv": "|"}
EPIC_DELIMITERS = ("|", "\t")
NAMES = {",": "comma", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    bom_length: int
    """Bytes of UTF-8 byte-order mark to skip (0 or 3)."""


RESAVE = (
    "In Excel: File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'; or convert it, e.g. "
    "`iconv -f {source} -t UTF-8 FILE > FILE.utf8.csv` (PowerShell: "
    "`Get-Content FILE -Encoding {powershell} | Set-Content OUT.csv -Encoding utf8`), and drop that file."
)

_SIGNATURES = (
    # (leading bytes, code, what it is, what to do): read from the formats' own specifications
    # (RFC 1952 for gzip, PKWARE's APPNOTE for ZIP, [MS-CFB] for the old .xls).
    (b"\x1f\x8b", "compressed", "gzip-compressed", "decompress it (gunzip, 7-Zip) and drop the file inside"),
    (b"PK\x03\x04", "compressed", "a ZIP archive", "extract it and drop the delimited text file inside"),
    (b"\xd0\xcf\x11\xe0", "spreadsheet", "an old Excel workbook (.xls)", ""),
)
SPREADSHEET_FIX = (
    "the connectors read delimited text: open it in Excel, File > Save As > 'CSV UTF-8 (Comma "
    "delimited) (*.csv)', and drop that file"
)


def check_encoding(head: bytes, name: str) -> int:
    """Return the BOM length; reject what is no UTF-8 text, naming what it is and the fix.

    Told apart by their first bytes, whatever the file's extension: gzip, ZIP (an .xlsx is
    one, its first entry an Office part), the old binary .xls, UTF-16/32 (with a BOM, or
    without one: NUL bytes in every other place). UTF-16 is not converted on the way: a chunk is
    a byte range of the blob as dropped, read again by the worker with one ranged GET, so the
    worker would have to convert too and every offset would stop being the file's; the message
    says how to re-save instead."""
    if head.startswith(b"PK\x03\x04") and (b"[Content_Types].xml" in head or b"xl/" in head):
        raise Rejected(
            "spreadsheet", f"{name} is an Excel workbook (.xlsx), not delimited text: {SPREADSHEET_FIX}"
        )
    for magic, code, what, fix in _SIGNATURES:
        if head.startswith(magic):
            raise Rejected(code, f"{name} is {what}, not delimited text: {fix or SPREADSHEET_FIX}")
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise Rejected("encoding", f"{name} is UTF-32 text; the connectors read UTF-8. " + _resave("UTF-32"))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head):
        raise Rejected(
            "encoding",
            f"{name} is UTF-16 text (what Excel's 'Unicode Text' writes); the connectors read "
            "UTF-8. " + _resave("UTF-16"),
        )
    if b"\x00" in head:
        raise Rejected(
            "encoding",
            f"{name} has NUL bytes in its first line: it is not a text export (a binary file, or "
            "text in an encoding other than UTF-8). Export the audit log as UTF-8 delimited text.",
        )
    return len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0


def _resave(source: str) -> str:
    return RESAVE.format(source=source, powershell="Unicode" if source == "UTF-16" else "UTF32")


def _utf16_without_bom(head: bytes) -> bool:
    """Text of ASCII characters in UTF-16 has a NUL in every other byte (odd ones: LE)."""
    even, odd = head[0::2], head[1::2]
    return len(head) >= 4 and (even.count(0) >= len(even) * 0.8 or odd.count(0) >= len(odd) * 0.8)


def detect(name: str, kind: str, header_line: str) -> str:
    """The delimiter: fixed by extension for the generic connector (HR: .csv only), sniffed
    for Epic .txt."""
    ext = PurePosixPath(name).suffix.lower()
    if kind == "epic" and ext == ".txt":
        counts = {d: header_line.count(d) for d in EPIC_DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        if counts[best] == 0:
            raise Rejected(
                "delimiter",
                f"{name}: the header line has neither pipes nor tabs"
                + (f" (it has {found})" if (found := _other_separators(header_line)) else "")
                + "; the Epic connector reads pipe- or tab-separated .txt files: export it with "
                "pipes or tabs (Clarity's 'Export to file' delimiter option)",
            )
        return best
    if kind == "epic":
        raise Rejected("extension", f"{name}: Epic exports must be .txt files")
    if kind == "hr" and ext != ".csv":
        raise Rejected("extension", f"{name}: the HR connector takes .csv files only")
    if ext not in BY_EXTENSION:
        raise Rejected(
            "extension",
            f"{name}: unsupported file type {ext or '(none)'}; the Healthcare connector reads .csv "
            "(commas), .tsv (tabs) or .psv (pipes): export the audit log as one of those",
        )
    return BY_EXTENSION[ext]


def _other_separators(line: str) -> str:
    return " and ".join(word for mark, word in ((",", "commas"), (";", "semicolons")) if mark in line)
