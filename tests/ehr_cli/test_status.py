"""`ehr-ingest status` renders ledger runs as a table: newest first, counts only."""

from __future__ import annotations

from ehr_cli.main import build_parser
from ehr_cli.status import table
from shared.reporting.report import file_entry
from tests.shared.reporting.test_report import chunks, ledger, run


def test_table_of_recent_runs_newest_first():
    entries = [file_entry(r, c) for r, c in ledger()]
    text = table(entries)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["received", "(UTC)", "connector"]
    assert "generic/audit-2026-11-22.csv" in text and "10/10" in text and "1,000" in text
    assert "rejected (missing-columns)" in text
    assert lines[-1].startswith("2026-11-16")  # the week-old run is last


def test_empty_ledger():
    assert "no runs" in table([])


def test_open_run_has_no_duration():
    entry = file_entry(run("x", "epic/x.txt", status="uploading", chunks=2), chunks(1, state="pending"))
    assert table([entry]).splitlines()[-1].rstrip().endswith("-")


def test_cli_has_status_and_report():
    parser = build_parser()
    assert parser.parse_args(["status", "--days", "3"]).days == 3
    args = parser.parse_args(["report", "--format", "html", "--output", "r.html"])
    assert (args.format, args.output, args.latest, args.write) == ("html", "r.html", False, False)
