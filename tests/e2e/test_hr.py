"""The HR connector's employee profiles through the whole stack (function host, queue, emulated
ingestion API): either spelling of Microsoft's columns, only profile columns and profile rows
sent, each exactly once; a repeated file skipped; a file missing a mandatory column refused."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from devstack.generate import GenerateOptions, generate
from devstack.profiles import ProfileOptions, generate_profiles
from ehr_cli.main import main
from shared.common import hashsets
from shared.common import ledger as states
from shared.common.settings import Connector
from shared.intake import plan
from shared.intake.coverage import CoverageRecorder
from shared.intake.plan import PlanOptions, plan_export
from shared.reporting.coverage import CoverageSource
from shared.reporting.report import Reporter
from shared.reporting.report_formats import to_text
from tests.e2e.test_phi import wait_for
from tests.e2e.test_projection import EXTRA, delta, job_counts
from tests.e2e.test_upload_cli import push_args

pytestmark = pytest.mark.e2e
REPORT_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "shared/reporting/report.schema.json").read_text()
)


def with_salary(path, options: ProfileOptions):
    """A profile file with a non-profile column (``Salary``) whose every value holds the marker."""
    generate_profiles(path, options)
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*rows[0][:2], "Salary", *rows[0][2:]])
        writer.writerows([*r[:2], f"{EXTRA}{i}", *r[2:]] for i, r in enumerate(rows[1:]))
    return path


@pytest.fixture
def watched(stack):
    stack.set_faults(watch=EXTRA)
    yield stack
    stack.set_faults(watch="")


@pytest.mark.parametrize(("spelling", "seed"), [("page", 271), ("sample", 272)])
def test_profiles_are_uploaded_once_with_only_profile_columns(watched, pipeline, tmp_path, spelling, seed):
    options = ProfileOptions(rows=1600, spelling=spelling, other_scenarios=40, bad_rows=2, seed=seed)
    export = with_salary(tmp_path / f"profiles-{spelling}.csv", options)
    before = job_counts(watched, "hr")
    run = wait_for(pipeline, pipeline.drop(export, "hr"), ("complete", "rejected"), timeout=180)
    profiles = 1600 - 40 - 2
    assert run["status"] == "complete", run.get("reason")
    assert run["records_saved"] == profiles and run["rows_filtered"] == 40
    assert json.loads(run["columns_dropped"]) == ["Salary"]
    assert run["chunks"] == -(-profiles // 700)
    got = delta(before, job_counts(watched, "hr"))
    assert got == {
        "rows": profiles, "duplicate_rows": 0, "non_schema_columns": 0, "ragged_rows": 0, "watched_rows": 0,
    }  # fmt: skip

    again = wait_for(pipeline, pipeline.drop(export, "hr", name=f"again-{spelling}.csv"), ("duplicate",))
    assert again["duplicate_of"] == run["RowKey"]
    assert job_counts(watched, "hr")["rows"] == before["rows"] + profiles

    report = pipeline.report_now()
    entry = next(f for f in report["files"] if f["file_name"] == f"hr/{export.name}")
    assert entry["records_saved"] == profiles and entry["filtered_by_event"] == {"(other events)": 40}
    jsonschema.validate(report, REPORT_SCHEMA)
    (fresh,) = report["freshness"]
    assert fresh["connector"] == "hr" and fresh["status"] == "OK" and fresh["days_since_upload"] < 1
    assert (
        report["coverage"]["profile_runs"] >= 1
        and "employees who opened records" in report["coverage"]["line"]
    )


def test_a_profile_file_missing_a_mandatory_column_is_refused_naming_it(pipeline, tmp_path):
    export = tmp_path / "no-zip.csv"
    generate_profiles(export, ProfileOptions(rows=20, seed=273))
    rows = list(csv.reader(export.open(encoding="utf-8", newline="")))
    zip_at = rows[0].index("EmployeeZipCode")
    with export.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([v for i, v in enumerate(r) if i != zip_at] for r in rows)
    run = wait_for(pipeline, pipeline.drop(export, "hr"), ("rejected",))
    assert run["reason_code"] == "missing-columns" and "EmployeeZipCode" in run["reason"]


def test_push_kind_hr_sends_the_profiles_once(watched, env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")  # a vault on 127.0.0.1
    export = with_salary(
        tmp_path / "push-profiles.csv", ProfileOptions(rows=1200, other_scenarios=30, seed=274)
    )
    job = watched.state["jobs"]["hr"]
    before = watched.emulator_stats()["jobs"][job]
    assert main([*push_args(watched, export, tmp_path / "state", job), "--kind", "hr"]) == 0
    got = delta(before, watched.emulator_stats()["jobs"][job])
    assert got == {
        "rows": 1170, "duplicate_rows": 0, "non_schema_columns": 0, "ragged_rows": 0, "watched_rows": 0,
    }  # fmt: skip
    out = capsys.readouterr().out
    assert "columns not sent (no schema field): Salary" in out and EXTRA not in out


def test_unchanged_profiles_dropped_again_later_are_a_refresh_not_a_duplicate(bench, tmp_path, monkeypatch):
    """Purview deletes profiles not refreshed within 30 days: the same file a day later is sent."""
    export = generate_profiles(tmp_path / "same.csv", ProfileOptions(rows=300, seed=uuid.uuid4().int % 10**9))
    job = bench.stack.state["jobs"]["hr"]
    connectors = {"hr": Connector(name="hr", kind="hr", job_id=job, chunk_rows=200)}
    uploader = bench.uploader(connectors=connectors)
    before = bench.stack.emulator_stats()["jobs"][job]["rows"]

    def drop(name: str) -> str:
        blob = bench.container.get_blob_client(f"hr/{name}")
        blob.upload_blob(export.path.read_bytes())
        outcome = plan_export(blob, connectors, bench.ledger, bench.queue)
        bench.drain(uploader)
        return outcome.status

    assert drop("monday.csv") == states.UPLOADING
    assert drop("monday-again.csv") == states.DUPLICATE
    monkeypatch.setattr(plan, "REFRESH_AFTER", timedelta(0))
    assert drop("two-weeks-later.csv") == states.UPLOADING
    assert bench.stack.emulator_stats()["jobs"][job]["rows"] - before == 600


def test_the_report_counts_coverage_from_hashes_of_the_stages_own_runs(bench, tmp_path):
    """Audit logins and profile EmailAddresses of the same (fake) people, through both stages in
    this process with a coverage container of their own: the report's counts are the sets'."""
    audit = generate(tmp_path / "cov.csv", GenerateOptions(rows=2500, bad_rows=5, seed=277, quote_rate=0.2))
    profiles = generate_profiles(
        tmp_path / "cov-hr.csv", ProfileOptions(rows=600, seed=277, other_scenarios=20)
    )
    jobs = bench.stack.state["jobs"]
    connectors = {
        "generic": Connector(name="generic", kind="healthcare", job_id=jobs["generic"], chunk_rows=1000),
        "hr": Connector(name="hr", kind="hr", job_id=jobs["hr"], chunk_rows=1000),
    }
    hashes = bench.blobs.get_container_client(f"coverage-{uuid.uuid4().hex[:8]}")
    options = PlanOptions(coverage=CoverageRecorder(hashes, lambda: b"a test key of 32 bytes, no more."))
    for connector, export in (("generic", audit.path), ("hr", profiles.path)):
        blob = bench.container.get_blob_client(f"{connector}/{uuid.uuid4().hex[:6]}-{export.name}")
        blob.upload_blob(export.read_bytes())
        assert plan_export(blob, connectors, bench.ledger, bench.queue, options).status == states.UPLOADING
    bench.drain(bench.uploader(connectors=connectors))

    reporter = Reporter(bench.ledger, bench.blobs.get_container_client("reports"), ["generic", "hr"],
                        hr_connectors=["hr"], coverage=CoverageSource(hashes, 7))  # fmt: skip
    report = reporter.preview()
    rows = list(csv.reader(audit.path.open(encoding="utf-8", newline="")))
    upn = rows[0].index("Email Address (UPN) or SamAccountName")
    bad = set(audit.bad_row_numbers)
    seen = {r[upn].casefold() for n, r in enumerate(rows[1:], 1) if n not in bad and len(r) == len(rows[0])}
    listed = list(csv.reader(profiles.path.open(encoding="utf-8", newline="")))
    current = {r[0].casefold() for r in listed[1:] if r[-1] == "Employee profile" and r[0]}
    coverage = report.coverage
    assert coverage is not None
    assert (coverage.employees, coverage.with_profile) == (len(seen), len(seen & current))
    assert 0 < coverage.with_profile < coverage.employees and coverage.profiles == len(current)
    assert report.freshness[0].connector == "hr" and report.freshness[0].status == "OK"
    assert f"{len(seen & current):,} of {len(seen):,} employees" in to_text(report)


def test_hash_sets_round_trip_and_are_deleted_past_their_retention(pipeline):
    container = pipeline.blobs.get_container_client(f"coverage-{uuid.uuid4().hex[:8]}")
    upns, bare = {bytes(range(16)), bytes(range(1, 17))}, {bytes(range(2, 18))}
    name = hashsets.write(container, (hashsets.AUDIT, "generic", "run1"), (upns, bare), "fp", overflow=False)
    now = states.now()
    (entry,) = hashsets.listing(container, now)
    assert (entry.name, entry.kind, entry.connector, entry.run_id) == (name, "audit", "generic", "run1")
    assert (entry.count, entry.unmatched, entry.fingerprint) == (2, 1, "fp")
    assert hashsets.digests(container, entry) == (upns, bare)
    assert hashsets.listing(container, now + hashsets.RETENTION + timedelta(minutes=1)) == []
    assert list(container.list_blobs()) == []  # deleted, not only left out
