"""Exports written the way hospital systems write them, for the tests of real-world files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from shared.common.errors import Rejected
from shared.common.schema import EPIC, GENERIC, Schema
from shared.common.settings import Connector
from shared.intake.scan import ScanResult
from shared.intake.validation import Summary, Validation, validate


def values(i: int, schema: Schema = GENERIC, when: str | None = None) -> list[str]:
    """One audit row of fake values; ``when`` replaces its timestamp."""
    row = [f"r{i}c{j}" for j in range(len(schema.fields))]
    row[0] = when or f"2026-11-22T08:{i // 60 % 60:02d}:{i % 60:02d}Z"
    row[1] = "Chart Review"
    row[9] = f"{i} Elm St"
    row[18] = f"user{i % 7}@hospital.example"
    return row


def written(
    rows: list[list[str]],
    schema: Schema = GENERIC,
    delimiter: str = ",",
    newline: str = "\r\n",
    header: list[str] | None = None,
    quoting: Literal[0, 1, 2, 3, 4, 5] = csv.QUOTE_MINIMAL,
) -> bytes:
    """A CSV export as Python's csv (and so Excel) writes it: CRLF, minimal quoting."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    writer.writerow(header or [f.header for f in schema.fields])
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class Checked:
    """A verdict as the tests read it: the rejection or the scan asserted there when read."""

    outcome: Validation

    @property
    def accepted(self) -> bool:
        return self.outcome.accepted

    @property
    def rejected(self) -> Rejected:
        assert self.outcome.rejected is not None, "the file was accepted"
        return self.outcome.rejected

    @property
    def result(self) -> ScanResult:
        assert self.outcome.result is not None, "the file was refused before its rows were read"
        return self.outcome.result

    def summary(self) -> Summary:
        return self.outcome.summary()

    def invalid_rows(self) -> Iterator[dict[str, Any]]:
        return self.outcome.invalid_rows()


def check(data: bytes, name: str = "x.csv", kind: str = "healthcare", **options: Any) -> Checked:
    name_ = "generic" if kind == "healthcare" else "epic"
    connector = Connector(name=name_, kind=kind, job_id="j", **options)
    return Checked(validate([data[i : i + 4096] for i in range(0, len(data), 4096)], name, connector))


def sent_bytes(data: bytes, outcome: Checked) -> bytes:
    """What the chunks deliver: their ranges less the rows they skip."""
    out = b""
    for chunk in outcome.result.chunks:
        at = chunk.start
        for start, end in chunk.skip:
            out += data[at:start]
            at = end
        out += data[at : chunk.end]
    return out


__all__ = ["EPIC", "GENERIC", "check", "sent_bytes", "values", "written"]
