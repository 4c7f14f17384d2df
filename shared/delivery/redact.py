"""Take the export's values out of what the ingestion API says, before it is stored or logged.

The API's reason for refusing a chunk is often only in its reply, so operators need it, and
the ledger and the logs keep the first 500 characters. But a reply could quote a value it
refused: a patient's name, an employee's login. Every field value of the rows that were sent
that occurs in the reply is replaced before anyone sees it. Whole values, not words: the
reply's own words ("the", "not") stay readable even where a comment field holds them too.
This runs only on a refusal, and reads the chunk's bytes once more.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator

from shared.delivery.upload import UploadError

REMOVED = "[value removed]"
MIN_VALUE_CHARS = 3
"""Shorter values ("M", "42") say nothing about anyone and would blank out the reply."""


def redact(text: str, sent: Iterable[bytes], delimiter: str, keep: Iterable[str] = ()) -> str:
    """``text`` with every field value of the ``sent`` rows that occurs in it replaced.

    ``sent`` is the uploaded rows as they stream (no header); ``keep`` are values to leave,
    such as the column names.
    """
    if len(text) < MIN_VALUE_CHARS:
        return text
    kept = set(keep)
    found: set[str] = set()
    for row in csv.reader(_lines(sent), delimiter=delimiter, strict=False):
        for value in row:
            value = value.strip()
            if len(value) >= MIN_VALUE_CHARS and value in text and value not in kept:
                found.add(value)
    for value in sorted(found, key=len, reverse=True):  # "Ann Lee" before "Ann"
        text = text.replace(value, REMOVED)
    return text


def redact_reply(err: UploadError, sent: Iterable[bytes], header: bytes, delimiter: str) -> UploadError:
    """The same error with the API's reply redacted against the rows that were sent."""
    if not err.api_said:
        return err
    columns = next(csv.reader([header.decode("utf-8-sig", "replace")], delimiter=delimiter), [])
    return err.with_api_said(redact(err.api_said, sent, delimiter, (c.strip() for c in columns)))


def _lines(blocks: Iterable[bytes]) -> Iterator[str]:
    """Lines with their ends (``csv`` needs them inside quoted fields), decoded as they stream."""
    tail = ""
    for piece in codecs.iterdecode(blocks, "utf-8", errors="replace"):
        lines = (tail + piece).splitlines(keepends=True)
        tail = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    if tail:
        yield tail
