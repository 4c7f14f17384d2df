"""`ehr-ingest report`: the status report on demand, in any of its formats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ehr_cli import context
from ehr_cli.context import Subparsers

FORMATS = ("text", "json", "html", "csv")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the status report now (since the last scheduled one), or the latest written one",
        description="Builds the status report from the ledger, covering everything since the last "
        "scheduled report, without moving the schedule's state (unless --write).",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    parser.add_argument("--output", help="write to this file instead of standard output")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--latest", action="store_true", help="the latest report written by the timer")
    mode.add_argument(
        "--write",
        action="store_true",
        help="do what the timer does: write reports/YYYY/MM/DD/status-*.{json,html,csv} and latest.*",
    )
    parser.add_argument("--settings", help="local.settings.json to use (default: env, then local stack)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    context.apply(args.settings)
    from shared import handlers
    from shared.reporting import report_formats

    rt = handlers.runtime()
    if args.latest:
        fmt = "json" if args.format == "text" else args.format
        body = rt.reporter.latest(fmt)
        if body is None:
            print("no report has been written yet", file=sys.stderr)
            return 1
        if args.format == "text":
            import json

            from shared.reporting.model import Report

            text = report_formats.to_text(Report.from_dict(json.loads(body)))
        else:
            text = body.decode("utf-8")
    else:
        report = (
            handlers.on_report()
            if args.write
            else rt.reporter.preview(poison_queue_length=rt.poison_queue_length())
        )
        render = report_formats.to_text if args.format == "text" else report_formats.RENDERERS[args.format]
        text = render(report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0
