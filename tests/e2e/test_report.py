"""The status report through the real stack: timer, state in Storage, and the HTTP function with keys."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from devstack.generate import GenerateOptions, generate
from tests.e2e.test_pipeline import wait_for_run

pytestmark = pytest.mark.e2e

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "shared" / "reporting" / "report.schema.json").read_text()
)


@pytest.fixture(scope="module")
def day(stack, pipeline, tmp_path_factory):
    """One good export and one rejected file whose name is markup, then the scheduled report."""
    folder = tmp_path_factory.mktemp("report")
    good = generate(folder / "report-day.csv", GenerateOptions(rows=1500, seed=5))
    good_blob = pipeline.drop(good.path, "generic")
    bad = folder / "bad.csv"
    bad.write_text("not,the,header\n1,2,3\n")
    bad_blob = pipeline.drop(bad, "generic", name="<script>alert(1)</script>.csv")
    runs = {blob: wait_for_run(pipeline, blob) for blob in (good_blob, bad_blob)}
    first = pipeline.report_now()
    reports = pipeline.blobs.get_container_client("reports")
    first_html = reports.download_blob("latest.html").readall().decode()
    second = pipeline.report_now()
    return good_blob, bad_blob, runs, first, second, first_html, good.path


def test_scheduled_report_covers_the_day_and_keeps_its_place(day):
    good_blob, bad_blob, runs, first, second, *_ = day
    assert runs[good_blob]["status"] == "complete" and runs[bad_blob]["status"] == "rejected"
    jsonschema.validate(first, SCHEMA)
    files = {f["file_name"]: f for f in first["files"]}
    assert files[good_blob]["records_saved"] == 1500 and files[good_blob]["outcome"] == "OK"
    assert files[bad_blob]["outcome"] == "FAILED" and files[bad_blob]["reason"]
    assert first["status"] == "FAILED"
    # the next report starts where the previous one ended (state kept in Storage)
    assert second["period"]["from"] == first["period"]["to"]
    assert good_blob not in {f["file_name"] for f in second["files"]}


def test_http_function_needs_a_function_key(stack, day):
    assert stack.call_http("report", key="").status_code == 401
    assert stack.call_http("report", key="wrong").status_code == 401


def test_http_function_serves_the_latest_report(stack, day):
    second = day[4]
    as_json = stack.call_http("report")
    assert as_json.status_code == 200 and as_json.headers["Content-Type"].startswith("application/json")
    assert as_json.json()["generated_at"] == second["generated_at"]

    page = stack.call_http("report", format="html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    fresh = stack.call_http("report", format="html", fresh="true")
    assert fresh.status_code == 200 and "<script" not in fresh.text
    sheet = stack.call_http("report", format="csv", fresh="1")
    assert sheet.status_code == 200 and sheet.headers["Content-Type"].startswith("text/csv")
    assert "report_status" in next(csv.reader(io.StringIO(sheet.text)))

    assert stack.call_http("report", format="pdf").status_code == 400


def test_report_files_in_storage(pipeline, day):
    container = pipeline.blobs.get_container_client("reports")
    names = {b.name for b in container.list_blobs()}
    assert {"latest.json", "latest.html", "latest.csv"} <= names
    dated = [n for n in names if n.endswith(".html") and n.count("/") == 3]
    assert dated and all(n.split("/")[-1].startswith("status-") for n in dated)
    first_html = day[5]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in first_html and "<script" not in first_html


def test_no_patient_or_employee_value_in_any_report(stack, day):
    """Values from the export's rows (names, addresses, logins) appear in no format."""
    first, first_html, export = day[3], day[5], day[6]
    with export.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        columns = [header.index(c) for c in ("Patient Last Name", "Patient Address Line 1",
                                             "Email Address (UPN) or SamAccountName")]  # fmt: skip
        values = {row[i] for _, row in zip(range(200), reader, strict=False) for i in columns}
    values = {v for v in values if len(v) >= 6}
    assert len(values) > 50
    sheet = stack.call_http("report", format="csv", fresh="true").text
    for text in (json.dumps(first), first_html, sheet):
        leaked = [v for v in values if v in text]
        assert not leaked, f"{len(leaked)} row value(s) found in a report"
