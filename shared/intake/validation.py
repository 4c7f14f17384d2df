"""Validate an export as its connector requires, and say why in a machine-readable report.

One function runs the scan and applies the connector's invalid-row policy, for the blob
stage and for ``ehr-ingest validate`` alike, so both always agree. The report names the
file, row numbers, columns and counts: never a field value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.common import header
from shared.common.errors import Rejected
from shared.common.schema import schema_for
from shared.common.settings import Connector
from shared.intake.rows import Problem
from shared.intake.scan import MAX_BYTES, MAX_ROWS, ScanResult, scan

REPORT_SCHEMA = "ehr-ingest-validation/1"


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Summary:
    """A file's verdict and counts, without the per-row list: what the blob stage records in
    the ledger, ``validate`` prints and the validation report begins with."""

    file: str
    connector: str | None
    kind: str | None
    accepted: bool
    rows_total: int
    rows_valid: int
    rows_invalid: int
    invalid_row_policy: str | None
    rows_skipped: int
    """Invalid rows an accepted file leaves out (a rejected file sends nothing)."""
    invalid_by_reason: dict[str, int]
    duplicate_rows: int
    rows_filtered: int
    filtered_by_event: dict[str, int]
    rows_to_send: int
    columns_dropped: list[str]
    sha256: str | None
    chunks: int
    reasons: list[Reason]
    invalid_summary: list[Problem] = field(default_factory=list)
    """The invalid rows by reason, each summarised once (count, first rows, cause and fix)."""
    notes: list[str] = field(default_factory=list)
    """Lines left out that are not rows (a query tool's), in an operator's words."""
    schema: str = REPORT_SCHEMA
    row_numbers: str = "1-based data rows; the header is not counted"

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form, its schema first."""
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}


@dataclass
class Validation:
    name: str
    connector: Connector | None
    """None when the file is in no configured connector's folder."""
    result: ScanResult | None = None
    rejected: Rejected | None = None

    @property
    def accepted(self) -> bool:
        return self.rejected is None

    def summary(self) -> Summary:
        """The verdict without the per-row list: file-level reasons and counts."""
        r, c = self.result, self.connector
        rows_total = r.rows if r else 0
        rows_invalid = len(r.invalid) if r else 0
        return Summary(
            file=self.name,
            connector=c.name if c else None,
            kind=c.kind if c else None,
            accepted=self.accepted,
            rows_total=rows_total,
            rows_valid=rows_total - rows_invalid,
            rows_invalid=rows_invalid,
            invalid_row_policy=c.invalid_rows if c else None,
            rows_skipped=rows_invalid if self.accepted else 0,
            invalid_by_reason=r.invalid.counts() if r else {},
            invalid_summary=problems(r),
            duplicate_rows=r.duplicates if r else 0,
            rows_filtered=r.rows_filtered if r else 0,
            filtered_by_event=dict(sorted(r.filtered_by_event.items())) if r else {},
            rows_to_send=r.rows_to_send if r and self.accepted else 0,
            columns_dropped=self.columns_dropped(),
            notes=list(r.notes) if r else [],
            sha256=r.sha256 if r and r.sha256 else None,
            chunks=len(r.chunks) if r and self.accepted else 0,
            reasons=[Reason(self.rejected.code, self.rejected.message)] if self.rejected else [],
        )

    def columns_dropped(self) -> list[str]:
        """Columns that never leave (names only): every non-schema one, unless ``columns: all``."""
        r, c = self.result, self.connector
        if r is None or c is None or c.columns == "all":
            return []
        return header.unsent(r.columns, r.found)

    def invalid_rows(self) -> Iterator[dict[str, Any]]:
        """Per invalid row its number, code and reason, generated one at a time."""
        r = self.result
        if r is None or r.rules is None:
            return
        for number, code, detail in r.invalid:
            yield {"row": number, "code": code, "reason": r.rules.reason(code, detail, r.columns)}

    def report(self) -> dict[str, Any]:
        """The whole machine-readable report as one object (fine for tests and small files)."""
        return {**self.summary().to_dict(), "invalid_rows": list(self.invalid_rows())}

    def report_json(self, **extra: Any) -> Iterator[bytes]:
        """The same report as JSON text in pieces of about 64 KB: memory stays flat even when
        millions of rows are invalid, so it can be streamed into a blob or to stdout."""
        head = json.dumps({**self.summary().to_dict(), **extra}, indent=1)
        piece = [head[: head.rindex("}")].rstrip() + ',\n "invalid_rows": [']
        size, sep = 0, "\n  "
        for entry in self.invalid_rows():
            text = sep + json.dumps(entry)
            piece.append(text)
            size += len(text)
            sep = ",\n  "
            if size > 65536:
                yield "".join(piece).encode()
                piece, size = [], 0
        piece.append("\n ]\n}\n")
        yield "".join(piece).encode()


def validate(
    blocks: Iterable[bytes],
    name: str,
    connector: Connector,
    *,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    logins: bool = False,
) -> Validation:
    """Scan and judge a file; never raises ``Rejected`` (the verdict is in the result).
    ``logins`` collects the distinct employee logins of the rows to send (coverage)."""
    outcome = Validation(name, connector)
    try:
        outcome.result = scan(
            blocks,
            name,
            schema_for(connector.kind),
            connector.chunk_rows,
            mapping=connector.mapping,
            required=connector.required,
            max_bytes=max_bytes,
            max_rows=max_rows,
            events=connector.events,
            logins=logins,
            day_first=connector.day_first,
        )
        judge(outcome.result, name, connector)
    except Rejected as exc:
        outcome.rejected = exc
    return outcome


def problems(result: ScanResult | None) -> list[Problem]:
    """The invalid rows by reason, each summarised once (count, first rows, cause and fix)."""
    if result is None or result.rules is None:
        return []
    return result.invalid.problems(result.rules, result.columns, result.rows)


def judge(result: ScanResult, name: str, connector: Connector) -> None:
    """Apply the connector's policy to a complete scan; raises ``Rejected`` with the reason,
    which names the commonest problem of its invalid rows once, not row by row."""
    invalid = len(result.invalid)
    if result.rows == 0:
        raise Rejected("no-rows", f"{name} has a header but no data rows: export the day's audit log again")
    found = problems(result)
    main = f" Commonest: {found[0].describe(result.rows)}." if found else ""
    if invalid and connector.invalid_rows == "reject":
        raise Rejected(
            "invalid-rows",
            f"{name} has {invalid:,} invalid row(s) of {result.rows:,} and connector "
            f"{connector.name} rejects files with any (its invalid_rows setting).{main} "
            "The report lists every row.",
        )
    if invalid == result.rows:
        raise Rejected("invalid-rows", f"{name}: none of its {result.rows:,} rows is valid.{main}")
    if invalid / result.rows > connector.max_invalid_share:
        raise Rejected(
            "too-many-invalid-rows",
            f"{name} has {invalid:,} invalid row(s) of {result.rows:,} ({invalid / result.rows:.1%}), "
            f"more than connector {connector.name} allows (max_invalid_share "
            f"{connector.max_invalid_share:.1%}).{main} The report lists every row.",
        )
