"""Validation through the whole stack: quarantine, skipped rows, duplicate content, unknown folders."""

from __future__ import annotations

import json
import time

import pytest

from devstack.generate import GenerateOptions, generate

pytestmark = pytest.mark.e2e

FINISHED = ("complete", "rejected", "duplicate")


def wait_for_run(pipeline, blob, timeout=180):
    deadline = time.monotonic() + timeout
    runs: dict = {}
    while time.monotonic() < deadline:
        runs = {r["blob"]: r for r in pipeline.runs()}
        if runs.get(blob, {}).get("status") in FINISHED:
            return runs[blob]
        time.sleep(0.3)
    raise AssertionError(f"run for {blob} did not finish; ledger says {runs.get(blob)}")


def blob_text(pipeline, container, name):
    return pipeline.blobs.get_blob_client(container, name).download_blob().readall().decode()


def exists(pipeline, container, name):
    return pipeline.blobs.get_blob_client(container, name).exists()


def test_invalid_rows_are_skipped_and_the_valid_ones_arrive_exactly_once(stack, pipeline, tmp_path):
    export = generate(tmp_path / "skip-2026-11-23.csv", GenerateOptions(rows=3000, bad_rows=21, seed=41))
    job = stack.state["jobs"]["generic"]
    before = stack.emulator_stats()["jobs"][job]

    blob = pipeline.drop(export.path, "generic")
    run = wait_for_run(pipeline, blob)

    assert run["status"] == "complete", run.get("reason")
    assert run["rows_valid"] == run["records_saved"] == export.valid_rows
    assert run["rows_skipped"] == 21 and run["rows_in_file"] == 3000
    # Scattered invalid rows are stepped over inside chunks, not cut at: 5 chunks, not 26.
    assert run["chunks"] == -(-export.valid_rows // stack.chunk_rows)
    after = stack.emulator_stats()["jobs"][job]
    assert after["rows"] - before["rows"] == export.valid_rows
    assert after["duplicate_rows"] == before["duplicate_rows"]

    container, _, name = run["validation_report"].partition("/")
    report = json.loads(blob_text(pipeline, container, name))
    assert report["accepted"] and [r["row"] for r in report["invalid_rows"]] == export.bad_row_numbers
    assert exists(pipeline, "exports", blob)  # an accepted file stays where it was dropped


def test_rejected_file_is_quarantined_with_its_report(pipeline, tmp_path):
    export = generate(tmp_path / "no-zip.csv", GenerateOptions(rows=50, seed=42))
    lines = export.path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("Patient Zip Code", "Postcode")
    export.path.write_text("".join(lines))
    other = generate(tmp_path / "fine-2026-11-23.csv", GenerateOptions(rows=40, seed=43))

    blob = pipeline.drop(export.path, "generic")
    fine = pipeline.drop(other.path, "generic")
    run = wait_for_run(pipeline, blob)

    assert run["status"] == "rejected" and run["reason_code"] == "missing-columns"
    assert "Patient Zip Code" in run["reason"] and run["quarantined"] == blob
    deadline = time.monotonic() + 30
    while exists(pipeline, "exports", blob) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not exists(pipeline, "exports", blob)
    assert blob_text(pipeline, "quarantine", blob) == export.path.read_text()
    report = json.loads(blob_text(pipeline, "quarantine", blob + ".report.json"))
    assert report["accepted"] is False and report["reasons"][0]["code"] == "missing-columns"
    assert report["run_id"] == run["RowKey"]
    assert wait_for_run(pipeline, fine)["status"] == "complete"  # no effect on other files


def test_unknown_folder_is_rejected_and_quarantined(pipeline, tmp_path):
    export = generate(tmp_path / "cerner.csv", GenerateOptions(rows=10, seed=44))
    blob = pipeline.drop(export.path, "cerner")
    run = wait_for_run(pipeline, blob)
    assert run["status"] == "rejected" and run["reason_code"] == "unknown-connector"
    assert "generic" in run["reason"] and exists(pipeline, "quarantine", blob)
    report = json.loads(blob_text(pipeline, "quarantine", blob + ".report.json"))
    assert report["connector"] is None and "not a configured connector" in report["reasons"][0]["message"]


def test_same_content_under_another_name_is_skipped(stack, pipeline, tmp_path):
    export = generate(tmp_path / "daily-2026-11-23.csv", GenerateOptions(rows=800, seed=45))
    job = stack.state["jobs"]["generic"]
    first = wait_for_run(pipeline, pipeline.drop(export.path, "generic"))
    assert first["status"] == "complete"
    before = stack.emulator_stats()["jobs"][job]["rows"]

    again = wait_for_run(pipeline, pipeline.drop(export.path, "generic", name="daily-copy.csv"))

    assert again["status"] == "duplicate" and again["duplicate_of"] == first["RowKey"]
    assert "generic/daily-2026-11-23.csv" in again["reason"]
    assert stack.emulator_stats()["jobs"][job]["rows"] == before


def test_same_content_is_planned_again_when_the_earlier_run_failed(stack, pipeline, tmp_path):
    """Dropping the file again is how an operator retries a run whose chunks failed for good."""
    export = generate(tmp_path / "retry-2026-11-23.csv", GenerateOptions(rows=300, seed=46))
    first = wait_for_run(pipeline, pipeline.drop(export.path, "generic"))
    assert first["status"] == "complete"
    table = pipeline.tables.get_table_client("ingestledger")
    chunk = next(iter(table.query_entities("PartitionKey eq @p", parameters={"p": first["RowKey"]})))
    table.update_entity({"PartitionKey": chunk["PartitionKey"], "RowKey": chunk["RowKey"], "state": "failed"})

    again = wait_for_run(pipeline, pipeline.drop(export.path, "generic", name="retry-again.csv"))

    assert again["status"] == "complete" and again["records_saved"] == 300
