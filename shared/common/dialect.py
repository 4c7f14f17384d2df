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


def check_encoding(head: bytes, name: str) -> int:
    """Return the BOM length; reject encodings the connectors do not take."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)):
        raise Rejected(
            "encoding",
            f"{name} is UTF-16/UTF-32 encoded; export it as UTF-8 (with or without BOM)",
        )
    if b"\x00" in head:
        raise Rejected(
            "encoding",
            f"{name} contains NUL bytes near its start (UTF-16 without BOM?); export it as UTF-8",
        )
    return len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0


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
                f"{name}: the header line has neither pipes nor tabs; Epic exports must be "
                "pipe- or tab-separated",
            )
        return best
    if kind == "epic":
        raise Rejected("extension", f"{name}: Epic exports must be .txt files")
    if kind == "hr" and ext != ".csv":
        raise Rejected("extension", f"{name}: the HR connector takes .csv files only")
    if ext not in BY_EXTENSION:
        raise Rejected(
            "extension",
            f"{name}: unsupported file type {ext or '(none)'}; use .csv, .tsv or .psv",
        )
    return BY_EXTENSION[ext]
