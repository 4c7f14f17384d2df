"""The demo: start the stack, drop a generic and an Epic export and an HR employee-profile file,
watch every row arrive, report."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from devstack.generate import GenerateOptions, GenerateResult, default_extension, generate
from devstack.profiles import ProfileOptions, generate_profiles
from devstack.stack import DEFAULT_WORK, Stack
from shared.reporting.model import Report
from shared.reporting.report_formats import to_text


@dataclass
class Dropped:
    connector: str
    blob: str
    rows: int
    job_id: str


class Pipeline:
    """Test and demo helper: drop files into a running stack and wait for their runs."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # The operator's side (drops, reading results) uses the stack's key; the app never has one.
        self.blobs = stack.admin_client(BlobServiceClient)
        from azure.data.tables import TableServiceClient

        self.tables = stack.admin_client(TableServiceClient)

    def drop(self, path: Path, connector: str, name: str | None = None) -> str:
        container = self.blobs.get_container_client("exports")
        if not container.exists():
            container.create_container()
        blob = f"{connector}/{name or path.name}"
        with path.open("rb") as data:
            container.upload_blob(blob, data, overwrite=True)
        return blob

    def runs(self) -> list[dict[str, Any]]:
        table = self.tables.get_table_client("ingestledger")
        try:
            return [dict(e) for e in table.query_entities("PartitionKey eq 'run'")]
        except Exception:  # table not created yet: nothing planned yet
            return []

    def rows_received(self) -> dict[str, int]:
        jobs = self.stack.emulator_stats().get("jobs", {})
        return {job: info.get("rows", 0) for job, info in jobs.items()}

    def duplicates(self) -> int:
        return sum(j.get("duplicate_rows", 0) for j in self.stack.emulator_stats().get("jobs", {}).values())

    def latest_report(self) -> dict[str, Any] | None:
        blob = self.blobs.get_blob_client("reports", "latest.json")
        if not blob.exists():
            return None
        return json.loads(blob.download_blob().readall())

    def save_report(self, folder: Path) -> Path:
        """Copy reports/latest.* out of Storage; returns the HTML file's path."""
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in ("html", "json", "csv"):
            data = self.blobs.get_blob_client("reports", f"latest.{fmt}").download_blob().readall()
            (folder / f"latest.{fmt}").write_bytes(data)
        return folder / "latest.html"

    def report_now(self, timeout: float = 60) -> dict[str, Any]:
        before = (self.latest_report() or {}).get("generated_at")
        self.stack.run_function("daily_report")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.latest_report()
            if report and report.get("generated_at") != before:
                return report
            time.sleep(0.25)
        raise TimeoutError("the report function did not write a report")


def _progress(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>9,}/{total:,}"


def print_report(report: dict[str, Any], html: Path | None = None) -> None:
    """The report as a terminal table, and where the HTML version is."""
    print()
    print(to_text(Report.from_dict(report)), end="")
    if html is not None:
        print(f"\nHTML report: {html}  (open it in a browser; also at reports/latest.html in Storage)")


DEMO_WORK = DEFAULT_WORK.parent / "demo"
"""Where ``./dev demo`` keeps its stack: apart from ``ehr-ingest stack up``'s."""


def run_demo(
    rows: int, epic_rows: int, chunk_rows: int, work: Path, timeout: float = 600, keep: bool = True
) -> int:
    """Start a stack, drop a generic and an Epic export, watch every row arrive, report. The
    stack keeps running afterwards (unless ``keep`` is False) so its runs can be looked at."""
    if (work / "stack.json").exists():
        Stack.load(work).down()
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    print(f"starting the local stack in {work} (Azurite, cloud emulator, function host)...")
    stack = Stack(work, chunk_rows=chunk_rows).up()
    try:
        print(f"  up in {time.monotonic() - started:.1f} s")
        code = _show(Pipeline(stack), rows, epic_rows, timeout, started)
    except BaseException:
        keep = False  # a demo that broke leaves nothing running
        raise
    finally:
        if not keep:
            stack.down()
            print("local stack stopped")
    if keep:
        _how_to_look(work)
    return code


def _show(pipeline: Pipeline, rows: int, epic_rows: int, timeout: float, started: float) -> int:
    """Drop the exports, watch them arrive, report; 0 when every row arrived once and all is OK."""
    work = pipeline.stack.work
    dropped = [_drop(pipeline, f) for f in _generate(work / "exports", rows, epic_rows)]
    ok = _watch(pipeline, dropped, timeout)
    report = pipeline.report_now()
    print_report(report, pipeline.save_report(work / "report"))
    received = pipeline.rows_received()
    total = sum(d.rows for d in dropped)
    accepted = sum(min(received.get(d.job_id, 0), d.rows) for d in dropped)
    duplicates = pipeline.duplicates()
    print(
        f"\n{accepted:,} of {total:,} rows accepted by the emulated ingestion API "
        f"({duplicates} duplicates) in {time.monotonic() - started:.1f} s"
    )
    return 0 if ok and accepted == total and duplicates == 0 and report["status"] == "OK" else 1


def _generate(folder: Path, rows: int, epic_rows: int) -> list[tuple[str, GenerateResult]]:
    folder.mkdir()
    files: list[tuple[str, GenerateResult]] = []
    exports: tuple[tuple[str, str, int, dict[str, Any]], ...] = (
        ("generic", "healthcare", rows, {"bom": True, "crlf": True}),
        ("epic", "epic", epic_rows, {}),
    )
    for connector, kind, n, opts in exports:
        delimiter = "|" if kind == "epic" else ","
        path = folder / f"audit-{connector}-2026-11-22{default_extension(kind, delimiter)}"
        result = generate(path, GenerateOptions(kind=kind, rows=n, delimiter=delimiter, seed=7, **opts))
        print(f"generated {path.name}: {result.rows:,} rows, {result.bytes / 1e6:.1f} MB")
        files.append((connector, result))
    # Profiles of 720 of the generic export's 750 employees (same seed), in the HR page's sample
    # spelling: the report's coverage line then counts the 30 without one.
    profiles = generate_profiles(
        folder / "hr-employee-profiles.csv", ProfileOptions(rows=720, spelling="sample", seed=7)
    )
    print(f"generated {profiles.path.name}: {profiles.rows:,} employee profiles")
    files.append(("hr", profiles))
    return files


def _drop(pipeline: Pipeline, file: tuple[str, GenerateResult]) -> Dropped:
    connector, result = file
    blob = pipeline.drop(result.path, connector)
    print(f"dropped into exports/{blob}")
    return Dropped(connector, blob, result.rows, pipeline.stack.state["jobs"][connector])


def _how_to_look(work: Path) -> None:
    settings = "" if work == DEMO_WORK else f" --settings {work / 'local.settings.json'}"
    commands = (
        (f"ehr-ingest status{settings}", "the runs"),
        (f"ehr-ingest report --latest{settings}", "the report above (--format html|json|csv)"),
        (f"ehr-ingest stack down --work {work}", "stops it"),
    )
    width = max(len(command) for command, _ in commands)
    print("\nThe local stack keeps running with the demo's runs in its ledger:")
    for command, what in commands:
        print(f"  {command:<{width}}   {what}")


def _watch(pipeline: Pipeline, dropped: list[Dropped], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    tty = sys.stdout.isatty()
    last_print = 0.0
    while time.monotonic() < deadline:
        received = pipeline.rows_received()
        runs = {r["blob"]: r for r in pipeline.runs()}
        lines = []
        for d in dropped:
            status = runs.get(d.blob, {}).get("status", "waiting")
            lines.append(f"  {d.blob[:44]:<44} {status:<10} {_progress(received.get(d.job_id, 0), d.rows)}")
        finished = all(runs.get(d.blob, {}).get("status") in ("complete", "rejected") for d in dropped)
        now = time.monotonic()
        if tty:
            sys.stdout.write("\n".join(lines) + (f"\x1b[{len(lines) - 1}A\r" if not finished else "\n"))
            sys.stdout.flush()
        elif finished or now - last_print > 2:
            print("\n".join(lines), flush=True)
            last_print = now
        if finished:
            return all(runs[d.blob]["status"] == "complete" for d in dropped)
        time.sleep(0.5)
    print("\ntimed out waiting for the uploads")
    return False
