"""Faults test_upload_faults does not cover, end to end through the host: the host killed with SIGKILL
and restarted, Azurite restarted, the blob event delivered twice, the same file under two names
at once, a file overwritten during its run, the token endpoint and Key Vault down for a while.

Each ends with every valid row accepted by the emulator (counted per job, duplicates by row
digest), the ledger consistent and the report agreeing with it. This module kills and restarts
things, so it has a stack of its own: small chunks, a 3 s queue lease (a dead host's messages
come back fast), two messages at a time, short retry delays.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from devstack.azurite import Azurite
from devstack.demo import Pipeline
from devstack.generate import GenerateOptions, generate
from devstack.stack import Stack
from shared.common import ledger as states

pytestmark = pytest.mark.e2e

CHUNK = 300
SETTINGS = {
    "AzureFunctionsJobHost__extensions__queues__batchSize": "2",
    "AzureFunctionsJobHost__extensions__queues__newBatchThreshold": "1",
    "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
    "UPLOAD_BACKOFF_SECONDS": "0.1",
    "UPLOAD_BACKOFF_MAX_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(
        tmp_path_factory.mktemp("crash"), chunk_rows=CHUNK, queue_lease_seconds=3, extra_settings=SETTINGS
    ).up()
    yield s
    s.down()


@pytest.fixture(scope="module")
def pipeline(stack):
    return Pipeline(stack)


@pytest.fixture(autouse=True)
def no_faults(stack):
    yield
    stack.set_faults(
        latency_seconds=0, error_rate=0, throttle_rate=0, token_error_rate=0, keyvault_error_rate=0
    )


def export(tmp_path, rows, name=None):
    name = name or f"audit-{uuid.uuid4().hex[:8]}.csv"
    return generate(tmp_path / name, GenerateOptions(rows=rows, seed=uuid.uuid4().int % 10**9))


def job_stats(stack):
    return stack.emulator_stats()["jobs"][stack.state["jobs"]["generic"]]


def runs_of(pipeline, blob):
    return [r for r in pipeline.runs() if r["blob"] == blob]


def wait_runs(pipeline, blob, statuses, count=1, timeout=120):
    """The ``count`` runs of ``blob`` once all have a status in ``statuses``."""
    deadline = time.monotonic() + timeout
    runs: list = []
    while time.monotonic() < deadline:
        runs = runs_of(pipeline, blob)
        if len(runs) >= count and all(r.get("status") in statuses for r in runs):
            return runs
        time.sleep(0.3)
    raise AssertionError(f"runs of {blob}: {[r.get('status') for r in runs]}, expected {count} in {statuses}")


def wait_uploaded(pipeline, blob, at_least, timeout=60):
    """Block until ``at_least`` chunks of the blob's run are uploaded (the run is under way)."""
    table = pipeline.tables.get_table_client("ingestledger")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of(pipeline, blob)
        if runs:
            chunks = list(table.query_entities("PartitionKey eq @p", parameters={"p": runs[0]["RowKey"]}))
            if sum(c["state"] == states.UPLOADED for c in chunks) >= at_least:
                return
        time.sleep(0.1)
    raise AssertionError(f"{blob}: fewer than {at_least} chunks uploaded in time")


def assert_once(before, after, rows, repeated_rows=0):
    received = after["rows"] - before["rows"]
    duplicates = after["duplicate_rows"] - before["duplicate_rows"]
    assert received - duplicates == rows  # every row arrived
    assert duplicates == repeated_rows


def test_sigkill_mid_run_repeats_at_most_the_chunks_in_flight(stack, pipeline, tmp_path):
    rows = 20 * CHUNK
    data = export(tmp_path, rows)
    before = job_stats(stack)
    stack.set_faults(latency_seconds=0.3)
    stack.reset_peaks()
    blob = pipeline.drop(data.path, "generic")
    wait_uploaded(pipeline, blob, 4)
    stack.kill_host()
    in_flight = job_stats(stack)["peak_in_flight"]
    stack.set_faults(latency_seconds=0)
    stack.start_host()

    (run,) = wait_runs(pipeline, blob, ("complete",))
    after = job_stats(stack)
    repeated = after["duplicate_rows"] - before["duplicate_rows"]
    assert repeated % CHUNK == 0 and repeated // CHUNK <= in_flight <= 3  # batchSize 2 + threshold 1
    assert_once(before, after, rows, repeated)
    assert run["records_saved"] == rows and run["chunks"] == 20


def test_azurite_restart_mid_run_loses_nothing(stack, pipeline, tmp_path):
    rows = 12 * CHUNK
    data = export(tmp_path, rows)
    before = job_stats(stack)
    stack.set_faults(latency_seconds=0.2)
    stack.reset_peaks()
    blob = pipeline.drop(data.path, "generic")
    wait_uploaded(pipeline, blob, 2)
    azurite = Azurite.from_state(stack.state["azurite"]).restart()
    stack.state["azurite"] = azurite.state()
    stack.set_faults(latency_seconds=0)

    (run,) = wait_runs(pipeline, blob, ("complete",))
    # Only a ledger write failing after the API's 2xx could repeat a chunk; the worker waits
    # Storage out (test_storage_faults.py), so none repeats.
    assert_once(before, job_stats(stack), rows)
    assert run["records_saved"] == rows


def test_the_same_blob_event_delivered_three_times_is_one_run(stack, pipeline, tmp_path):
    rows = 3 * CHUNK
    data = export(tmp_path, rows)
    before = job_stats(stack)
    blob = pipeline.drop(data.path, "generic")
    again = [
        threading.Thread(target=stack.run_function, args=("plan_export", f"exports/{blob}")) for _ in range(2)
    ]
    for t in again:
        t.start()
    for t in again:
        t.join(10)

    (run,) = wait_runs(pipeline, blob, ("complete",))
    time.sleep(1)  # a late repeat would show up as a second run or more rows
    assert len(runs_of(pipeline, blob)) == 1
    assert_once(before, job_stats(stack), rows)
    assert run["records_saved"] == rows


def test_the_same_file_dropped_under_two_names_at_once_is_uploaded_once(stack, pipeline, tmp_path):
    """test_validation.py covers one name after the other; here both events race."""
    rows = 3 * CHUNK
    data = export(tmp_path, rows)
    before = job_stats(stack)
    first = pipeline.drop(data.path, "generic", "twin-a.csv")
    second = pipeline.drop(data.path, "generic", "twin-b.csv")

    (a,) = wait_runs(pipeline, first, ("complete", "duplicate"))
    (b,) = wait_runs(pipeline, second, ("complete", "duplicate"))
    assert sorted([a["status"], b["status"]]) == ["complete", "duplicate"]
    assert_once(before, job_stats(stack), rows)


def test_a_file_overwritten_during_its_run_stops_that_run_and_uploads_the_new_version(
    stack, pipeline, tmp_path
):
    old = export(tmp_path, 12 * CHUNK, "overwritten.csv")
    before = job_stats(stack)
    stack.set_faults(latency_seconds=0.3)
    blob = pipeline.drop(old.path, "generic")
    wait_uploaded(pipeline, blob, 2)
    (tmp_path / "v2").mkdir()
    new = export(tmp_path / "v2", 4 * CHUNK, "overwritten.csv")
    pipeline.drop(new.path, "generic")
    stack.set_faults(latency_seconds=0)

    runs = wait_runs(pipeline, blob, ("complete", "failed"), count=2)
    etag = pipeline.blobs.get_blob_client("exports", blob).get_blob_properties().etag
    (current,) = [r for r in runs if r["etag"] == etag]
    (stopped,) = [r for r in runs if r["etag"] != etag]
    assert current["status"] == "complete" and current["records_saved"] == 4 * CHUNK
    assert stopped["status"] == "failed" and 0 < stopped["records_saved"] < 12 * CHUNK
    table = pipeline.tables.get_table_client("ingestledger")
    errors = {
        c["last_error"]
        for c in table.query_entities("PartitionKey eq @p", parameters={"p": stopped["RowKey"]})
    }
    assert any("was replaced while it was being uploaded" in e for e in errors)
    # the old version's uploaded chunks and the whole new version, each once
    assert_once(before, job_stats(stack), stopped["records_saved"] + 4 * CHUNK)


@pytest.mark.parametrize("service", ["token", "keyvault"])
def test_token_endpoint_or_key_vault_down_for_a_while(stack, pipeline, tmp_path, service):
    rows = 3 * CHUNK
    data = export(tmp_path, rows)
    stack.stop_host()  # a fresh worker: no secret or token cached yet
    stack.set_faults(**{f"{service}_error_rate": 1})
    stack.start_host()
    outages = stack.emulator_stats()["outages"].get(service, 0)
    before = job_stats(stack)
    blob = pipeline.drop(data.path, "generic")
    deadline = time.monotonic() + 60
    while stack.emulator_stats()["outages"].get(service, 0) < outages + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.emulator_stats()["outages"].get(service, 0) >= outages + 2
    assert job_stats(stack)["rows"] == before["rows"]  # nothing could be sent meanwhile
    stack.set_faults(**{f"{service}_error_rate": 0})

    (run,) = wait_runs(pipeline, blob, ("complete",))
    assert run["records_saved"] == rows
    assert_once(before, job_stats(stack), rows)


def test_the_report_agrees_with_the_ledger(pipeline):
    report = pipeline.report_now()
    by_run = {f["run_id"]: f for f in report["files"]}
    for run in pipeline.runs():
        entry = by_run[run["RowKey"]]
        assert entry["status"] == run["status"] and entry["file_name"] == run["blob"]
        if run["status"] in ("complete", "failed"):
            assert entry["records_saved"] == run["records_saved"]
            assert entry["chunks_uploaded"] + entry["chunks_failed"] == entry["chunks"]
