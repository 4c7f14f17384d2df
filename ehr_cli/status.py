"""`ehr-ingest status`: recent runs from the ledger as a table, newest first."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import timedelta

from ehr_cli import context
from ehr_cli.context import Subparsers
from shared.reporting.model import FileEntry
from shared.reporting.report_formats import when

COLUMNS = ("received (UTC)", "connector", "file", "status", "rows", "saved", "chunks", "failed", "secs")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("status", help="recent runs from the ledger, as a table")
    parser.add_argument("--days", type=float, default=7, help="runs received in the last N days (default 7)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    parser.add_argument("--settings", help="local.settings.json to use (default: env, then local stack)")
    parser.set_defaults(func=run)


def rows(entries: Iterable[FileEntry]) -> list[tuple[str, ...]]:
    """Pure: report file entries as table rows, newest first."""
    out: list[tuple[str, ...]] = []
    for f in sorted(entries, key=lambda e: e.received_at or "", reverse=True):
        secs = f.duration_seconds
        out.append(
            (
                when(f.received_at)[:19].replace("T", " "),
                f.connector,
                f.file_name,
                f.status + (f" ({f.reason_code})" if f.reason_code else ""),
                f"{f.rows:,}",
                f"{f.records_saved:,}",
                f"{f.chunks_uploaded}/{f.chunks}",
                str(f.chunks_failed + f.chunks_poisoned),
                f"{secs:.1f}" if secs is not None else "-",
            )
        )
    return out


def table(entries: Iterable[FileEntry]) -> str:
    body = rows(entries)
    if not body:
        return "no runs in the ledger for this period\n"
    cells = [COLUMNS, *body]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    numeric = {4, 5, 6, 7, 8}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([line(COLUMNS), "  ".join("-" * w for w in widths), *map(line, body)]) + "\n"


def run(args: argparse.Namespace) -> int:
    context.apply(args.settings)
    from shared import handlers
    from shared.common import ledger as states
    from shared.reporting.report import file_entry

    ledger = handlers.runtime().ledger
    runs = ledger.runs(since=states.now() - timedelta(days=args.days))
    runs.sort(key=lambda r: r.received_at or states.now(), reverse=True)
    entries = [file_entry(run, ledger.chunks(run.run_id)) for run in runs[: args.limit]]
    print(table(entries), end="")
    return 0
