"""`ehr-ingest validate` and `ehr-ingest suggest-mapping`: the blob stage's checks on a local file.

No Azure and no settings are needed: the same ``shared.intake.validation`` code the function runs
judges the file, so a file that passes here passes in the pipeline (with the same connector
options). Output names rows by number and columns by name, never a field value.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ehr_cli.connector_file import UsageError, build, connector_options
from ehr_cli.context import Subparsers

if TYPE_CHECKING:
    from shared.common.settings import Connector
    from shared.intake.validation import Summary
from shared.common.schema import KINDS, schema_for

READ_BLOCK = 8 * 1024 * 1024
EXIT_ACCEPTED, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Subparsers) -> None:
    v = subparsers.add_parser(
        "validate",
        help="check a local export as the pipeline would (exit 0 accepted, 1 rejected, 2 usage error)",
        description=_validate.__doc__,
    )
    v.add_argument("file", help="the export file")
    v.add_argument("--kind", choices=KINDS, help="connector kind (default: .txt is epic)")
    v.add_argument("--mapping", help="JSON file: {column: field} or a connector object with a mapping")
    v.add_argument(
        "--invalid-rows", choices=("skip", "reject"), help="policy (default: the mapping file's, or skip)"
    )
    v.add_argument(
        "--max-invalid-share", type=float, help="reject above this share of invalid rows (default 0.01)"
    )
    v.add_argument("--chunk-rows", type=int, help="rows per chunk, to see the plan (default 100000)")
    v.add_argument(
        "--date-order",
        choices=("month-first", "day-first"),
        help="how slash dates are written: MM/DD/YYYY (month-first, default) or DD/MM/YYYY",
    )
    v.add_argument("--json", action="store_true", help="print one JSON object (the validation report)")
    v.set_defaults(func=_validate)

    s = subparsers.add_parser(
        "suggest-mapping",
        help="print a column mapping for a sample export, to paste into the connector config",
        description=_suggest.__doc__,
    )
    s.add_argument("file", help="a sample export (only its header line is read)")
    s.add_argument("--kind", choices=KINDS, help="connector kind (default: .txt is epic)")
    s.add_argument("--json", action="store_true", help="print the full analysis as JSON")
    s.set_defaults(func=_suggest)


def _kind(args: argparse.Namespace, path: Path) -> str:
    return args.kind or ("epic" if path.suffix.lower() == ".txt" else "healthcare")


def _connector(args: argparse.Namespace, kind: str) -> Connector:
    options, named_kind = connector_options(args.mapping)
    for name in ("invalid_rows", "max_invalid_share", "chunk_rows", "date_order"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return build("local", args.kind or named_kind or kind, "", options)


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as src:
        while block := src.read(READ_BLOCK):
            yield block


def _validate(args: argparse.Namespace) -> int:
    """Validate a local export without Azure: header, dialect, limits, every row.

    Exit status: 0 when the pipeline would accept the file, 1 when it would reject it,
    2 on a usage error (a missing file, a bad mapping file or option).
    """
    from shared.intake.validation import validate

    path = Path(args.file)
    try:
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
        connector = _connector(args, _kind(args, path))
    except UsageError as exc:
        print(f"ehr-ingest validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    outcome = validate(_blocks(path), path.name, connector)
    if args.json:
        for piece in outcome.report_json():
            sys.stdout.write(piece.decode())
    else:
        _print_report(outcome.summary())
    return EXIT_ACCEPTED if outcome.accepted else EXIT_REJECTED


def _print_report(report: Summary) -> None:
    verdict = "ACCEPTED" if report.accepted else "REJECTED"
    print(f"{report.file}: {verdict} ({report.kind} connector)")
    for reason in report.reasons:
        print(f"  reason [{reason.code}]: {reason.message}")
    print(
        f"  rows: {report.rows_total:,} total, {report.rows_valid:,} valid, "
        f"{report.rows_invalid:,} invalid ({report.invalid_row_policy} policy), "
        f"{report.duplicate_rows:,} repeating an earlier {_repeated(report.kind)}"
    )
    if report.rows_filtered:
        by_event = ", ".join(f"{e}: {n:,}" for e, n in report.filtered_by_event.items())
        print(f"  {report.rows_filtered:,} valid rows left out by the events filter ({by_event})")
    for note in report.notes:
        print(f"  note: {note}")
    if report.columns_dropped:
        print(f"  columns not sent (no schema field): {', '.join(report.columns_dropped)}")
    if report.accepted:
        print(f"  would upload {report.rows_to_send:,} rows in {report.chunks:,} chunk(s)")
    for problem in report.invalid_summary:
        listed = ", ".join(f"{r:,}" for r in problem.first_rows)
        more = ", ..." if problem.rows > len(problem.first_rows) else ""
        told = any(problem.reason in reason.message for reason in report.reasons)
        print(f"  {problem.rows:,} invalid row(s) [{problem.code}], row {listed}{more}")
        if not told:  # a file-wide problem is already the rejection's reason: said once
            print(f"    {problem.reason}")
    if report.rows_invalid > sum(len(p.first_rows) for p in report.invalid_summary):
        print("  (--json lists every invalid row)")


def _repeated(kind: str | None) -> str:
    """What a duplicate row repeats, in the kind's words."""
    return schema_for(kind).duplicate_words if kind else "employee+patient+timestamp"


def _suggest(args: argparse.Namespace) -> int:
    """Read a sample export's header and suggest the connector's column mapping.

    Columns are matched to the schema exactly, case- and whitespace-insensitively, or
    fuzzily; unmatched columns and missing mandatory fields are listed. Paste the printed
    "mapping" into the connector's entry in CONNECTORS.
    """
    from shared.intake.mapping import suggest

    path = Path(args.file)
    try:
        columns = _header(path, _kind(args, path))
    except UsageError as exc:
        print(f"ehr-ingest suggest-mapping: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = suggest(schema_for(_kind(args, path)), columns)
    if not result.is_header:
        problem = (
            f"the first line of {path.name} names no {result.kind} field: it looks like a data row, "
            "not a header (the connector needs a header line); none of its values are printed"
        )
        if args.json:
            print(json.dumps({"kind": result.kind, "error": problem, "columns": len(columns)}, indent=1))
        else:
            print(f"ehr-ingest suggest-mapping: {problem}", file=sys.stderr)
        return EXIT_REJECTED
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
        return EXIT_ACCEPTED if not result.missing_mandatory else EXIT_REJECTED
    for column, key in result.exact.items():
        print(f"  exact       {column!r} -> {key}")
    for column, key in result.normalised.items():
        print(f"  normalised  {column!r} -> {key}")
    for column, (key, score) in result.fuzzy.items():
        print(f"  fuzzy {score:.2f}  {column!r} -> {key}   (check this one)")
    for column in result.unmatched:
        print(f"  unmatched   {column!r} (matches no schema field)")
    for header in result.missing_mandatory:
        print(f"  MISSING     mandatory field {header!r}: no column maps to it")
    print("\nPaste into the connector's entry in CONNECTORS:")
    print(json.dumps({"mapping": result.mapping}, indent=1))
    return EXIT_ACCEPTED if not result.missing_mandatory else EXIT_REJECTED


def _header(path: Path, kind: str) -> list[str]:
    from shared.common import dialect
    from shared.common.errors import Rejected

    try:
        with path.open("rb") as src:
            head = src.read(1024 * 1024)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    try:
        bom = dialect.check_encoding(head[:64], path.name)
        text = head[bom:].decode("utf-8", errors="strict")
    except (Rejected, UnicodeDecodeError) as exc:
        raise UsageError(f"{path.name} is not UTF-8 text: {exc}") from None
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = dialect.detect(path.name, kind, first_line)
    except Rejected:  # a sample under another name: take the commonest candidate
        delimiter = max((",", "\t", "|"), key=first_line.count)
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:
        raise UsageError(f"{path.name} has no readable header line: {exc}") from None
