"""Every `ehr-ingest` subcommand an operator runs against a local stack, as they run it: the
installed command with real arguments, in a process of its own, checked by what it prints."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.ehr_cli.command import Done, ehr_ingest

pytestmark = pytest.mark.e2e


def ok(done: Done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def status_when(settings: Path, *done: str, timeout: float = 180) -> str:
    """``ehr-ingest status`` once every name in ``done`` shows as complete (as an operator
    would watch it)."""
    deadline = time.monotonic() + timeout
    while True:
        table = ok(ehr_ingest("status", "--settings", settings))
        rows = [line for line in table.splitlines() if any(name in line for name in done)]
        if len(rows) == len(done) and all(" complete " in row for row in rows):
            return table
        if time.monotonic() > deadline:
            raise AssertionError(f"not complete in {timeout} s:\n{table}")
        time.sleep(1)


def test_stack_up_generate_drop_status_report_and_down(tmp_path):
    work = tmp_path / "stack"
    up = ok(ehr_ingest("stack", "up", "--work", work, "--chunk-rows", "400"))
    settings = work / "local.settings.json"
    try:
        assert "local stack up: emulator https://" in up and f"settings: {settings}" in up
        export = tmp_path / "day.csv"
        made = ok(ehr_ingest("generate", "--rows", "1000", "--seed", "4", "--output", export))
        assert made.startswith(f"wrote {export}: 1000 rows, 0 bad")
        dropped = ok(ehr_ingest("drop", export, "--connector", "generic", "--settings", settings))
        assert "as exports/generic/day.csv" in dropped

        table = status_when(settings, "generic/day.csv")
        assert table.splitlines()[0].split()[:3] == ["received", "(UTC)", "connector"]
        assert "1,000" in table and "3/3" in table

        as_csv = tmp_path / "r.csv"
        written = ok(ehr_ingest("report", "--format", "csv", "--output", as_csv, "--settings", settings))
        assert f"report written to {as_csv}" in written and "generic/day.csv" in as_csv.read_text()
        none_yet = ehr_ingest("report", "--latest", "--settings", settings)
        assert none_yet.returncode == 1 and "no report has been written yet" in none_yet.stderr
        now = ok(ehr_ingest("report", "--write", "--settings", settings))
        assert now.startswith("Status report ") and "generic/day.csv" in now
        assert ok(ehr_ingest("report", "--latest", "--settings", settings)) == now  # read back
    finally:
        assert "local stack stopped" in ok(ehr_ingest("stack", "down", "--work", work))
    assert "no local stack recorded" in ok(ehr_ingest("stack", "down", "--work", work))


def test_demo_leaves_its_runs_to_status_and_report(tmp_path):
    work = tmp_path / "demo"
    demo = ehr_ingest("demo", "--rows", "600", "--epic-rows", "400", "--chunk-rows", "200", "--work", work)
    try:
        out = ok(demo)
        # 600 + 400 audit rows and the 720 employee profiles the demo always drops
        assert "1,720 of 1,720 rows accepted by the emulated ingestion API (0 duplicates)" in out
        covered = re.search(r"([\d,]+) of ([\d,]+) employees who opened records in the last 7 days", out)
        assert covered is not None and 0 < int(covered[1].replace(",", "")) < int(covered[2].replace(",", ""))
        assert "The local stack keeps running" in out and "stops it" in out
        assert f"ehr-ingest stack down --work {work} " in out
        settings = work / "local.settings.json"
        generic, epic = "generic/audit-generic-2026-11-22.csv", "epic/audit-epic-2026-11-22.txt"
        table = status_when(settings, generic, epic)
        assert "600" in table and "400" in table
        report = ok(ehr_ingest("report", "--latest", "--settings", settings))
        assert report.startswith("Status report") and report.splitlines()[0].endswith(": OK")
        assert "audit-generic-2026-11-22.csv" in report and "audit-epic-2026-11-22.txt" in report
        assert "hr-employee-profiles.csv" in report and "hr: OK, last upload" in report
    finally:
        ok(ehr_ingest("stack", "down", "--work", work))
