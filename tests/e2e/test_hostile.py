"""Hostile input through the whole stack: odd blob names, malformed queue messages.

Runs on the strict stack (maxDequeueCount 2, visibilityTimeout 0), so a message that can never
succeed reaches the poison queue in seconds.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devstack.generate import GenerateOptions, generate
from shared.common.messages import ChunkMessage
from shared.common.settings import Settings
from shared.intake.names import MAX_NAME_CHARS
from tests.e2e.test_phi import wait_for
from tests.e2e.upload_bench import Bench

pytestmark = pytest.mark.e2e

LONG = "generic/" + "a" * (MAX_NAME_CHARS - len("generic/") - len(".csv")) + ".csv"
TOO_LONG = "generic/" + "a" * (1020 - len("generic/") - len(".csv")) + ".csv"


def exports(pipeline):
    container = pipeline.blobs.get_container_client("exports")
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    return container


@pytest.mark.parametrize(
    ("name", "reason"),
    [(TOO_LONG, "characters long, more than the 960"), ("generic/a\tb\x7f\x85.csv", "control characters")],
    ids=["1020-chars", "control-characters"],
)
def test_names_that_would_overflow_or_forge_log_lines_are_refused_with_a_reason(
    strict_stack, strict_pipeline, tmp_path, name, reason
):
    """Not planned (the reports' names would pass 1,024 characters, the run go to poison): the
    file is rejected and kept in quarantine under a name of its own, with its report. (Control
    characters XML 1.0 cannot carry make Azurite's blob listing fail, which Azure encodes
    instead; tests/shared/intake/test_names.py covers those.)"""
    pipeline = strict_pipeline
    export = generate(tmp_path / "odd.csv", GenerateOptions(rows=30, seed=7))
    with export.path.open("rb") as data:
        exports(pipeline).upload_blob(name, data, overwrite=True)
    run = wait_for(pipeline, name, ("rejected",))
    assert run["reason_code"] == "unsafe-name" and reason in run["reason"]
    assert not set("\t\x7f\x85") & set(run["reason"])
    quarantine = pipeline.blobs.get_container_client("quarantine")
    kept = quarantine.get_blob_client(run["quarantined"])
    assert kept.download_blob().readall() == export.path.read_bytes()
    report = quarantine.get_blob_client(run["quarantined"] + ".report.json").download_blob().readall()
    assert b"unsafe-name" in report


def test_a_file_named_like_a_report_does_not_overwrite_it(strict_stack, strict_pipeline, tmp_path):
    """x.csv is rejected, then x.csv.report.json is rejected too: both copies and both reports
    stay, each under its own name."""
    pipeline = strict_pipeline
    export = generate(tmp_path / "bad.csv", GenerateOptions(rows=30, seed=8))
    bad = export.path.read_text().replace("Patient Zip Code", "Postcode", 1).encode()
    exports(pipeline).upload_blob("generic/x.csv", bad, overwrite=True)
    first = wait_for(pipeline, "generic/x.csv", ("rejected",))
    exports(pipeline).upload_blob("generic/x.csv.report.json", b"not an export", overwrite=True)
    second = wait_for(pipeline, "generic/x.csv.report.json", ("rejected",))
    quarantine = pipeline.blobs.get_container_client("quarantine")

    def text(name: str) -> bytes:
        return quarantine.get_blob_client(name).download_blob().readall()

    assert first["quarantined"] == "generic/x.csv" and text("generic/x.csv") == bad
    assert first["RowKey"].encode() in text("generic/x.csv.report.json")
    assert second["quarantined"] == "generic/x.csv.report.json~"
    assert text("generic/x.csv.report.json~") == b"not an export"
    assert second["RowKey"].encode() in text("generic/x.csv.report.json~.report.json")


@pytest.mark.parametrize(
    "name",
    [
        "generic/../traversal.csv",
        "generic/médecine 日本 ü.csv",
        "generic/with  spaces, %20, #hash and ?query.csv",
        LONG,
    ],
    ids=["traversal", "unicode", "spaces", "longest-accepted"],
)
def test_odd_blob_names_are_uploaded_once_under_their_own_name(strict_stack, strict_pipeline, tmp_path, name):
    stack, pipeline = strict_stack, strict_pipeline
    export = generate(tmp_path / "odd.csv", GenerateOptions(rows=300, seed=len(name)))
    job = stack.state["jobs"]["generic"]
    before = stack.emulator_stats()["jobs"][job]
    container = pipeline.blobs.get_container_client("exports")
    if not container.exists():
        container.create_container()
    try:
        with export.path.open("rb") as data:
            container.upload_blob(name, data, overwrite=True)
    except HttpResponseError:
        # Azurite resolves "generic/../" in the URL and refuses the request's signature: such a
        # name cannot be dropped at all (the planner refuses it too: tests/shared/intake/test_plan.py).
        assert ".." in name
        assert pipeline.runs() == [] or all(not r["blob"].endswith("traversal.csv") for r in pipeline.runs())
        return
    stored = [b.name for b in container.list_blobs() if b.name.endswith(name.rsplit("/", 1)[-1])]
    assert len(stored) == 1  # whatever the store made of the name, the run is keyed by it

    run = wait_for(pipeline, stored[0], ("complete", "rejected"))
    after = stack.emulator_stats()["jobs"][job]
    if stored[0].startswith("generic/"):
        assert run["status"] == "complete" and run["records_saved"] == 300
        assert after["rows"] - before["rows"] == 300
        assert after["duplicate_rows"] == before["duplicate_rows"]
    else:  # a store that resolved "generic/../" left the file outside every connector's folder
        assert run["status"] == "rejected" and "not a configured connector" in run["reason"]
        assert after["rows"] == before["rows"]


def test_malformed_messages_go_to_poison_with_a_reason_not_a_crash_loop(strict_stack):
    stack = strict_stack
    name = stack.settings["CHUNK_QUEUE"]
    queue = stack.admin_client(QueueClient, name, message_encode_policy=TextBase64EncodePolicy())
    poison = stack.admin_client(QueueClient, name + "-poison")  # as stored: base64 or not
    unknown_run = ChunkMessage(run_id="0" * 32, index=0).encode()
    bad = {
        "not-json": "this is not json {",
        "wrong-fields": '{"v": 2, "run_id": "x", "path": "../../etc/passwd"}',
        "unknown-run": unknown_run,
        "huge": "x" * 40_000,
    }
    log_before = (stack.log_dir / "host.log").read_text(errors="replace")
    for text in bad.values():
        queue.send_message(text)
    raw = stack.admin_client(QueueClient, name)  # no base64: the host cannot decode it
    raw.send_message("%%% not base64 %%%")

    deadline = time.monotonic() + 60
    seen: set[str] = set()
    wanted = {base64.b64encode(t.encode()).decode() for t in bad.values()} | {"%%% not base64 %%%"}
    while time.monotonic() < deadline and not wanted <= seen:
        seen = {m.content for m in poison.peek_messages(max_messages=32)}
        time.sleep(0.3)
    assert wanted <= seen, "every malformed message ends in the poison queue"
    time.sleep(0.5)
    log = (stack.log_dir / "host.log").read_text(errors="replace")[len(log_before) :]
    assert "malformed chunk message: message is not JSON" in log
    assert "malformed chunk message: message fields differ from a chunk message" in log
    assert "run 00000000000000000000000000000000 has no chunk 0 in the ledger" in log
    assert "is not valid base64" in log
    # at most maxDequeueCount (2) attempts each, then poison: no crash loop
    assert log.count("malformed chunk message") <= 2 * 3
    assert "../../etc/passwd" not in log  # message contents are not echoed
    assert stack.emulator_stats()["jobs"][stack.state["jobs"]["generic"]]["in_flight"] == 0


def test_formula_names_are_neutralised_in_the_csv_report_through_the_http_function(
    strict_stack, strict_pipeline, tmp_path
):
    """Issue 6 unit-tests the CSV writer; here hostile names go the whole way: dropped, rejected
    (no such connector folder), reported, served by the key-protected HTTP function."""
    export = generate(tmp_path / "f.csv", GenerateOptions(rows=5, seed=5))
    names = ['=HYPERLINK("http://x")/a.csv', "+cmd/b.csv", "-2+3/c.csv", "@SUM(A1)/d.csv"]
    container = strict_pipeline.blobs.get_container_client("exports")
    for name in names:
        with export.path.open("rb") as data:
            container.upload_blob(name, data, overwrite=True)
    for name in names:
        wait_for(strict_pipeline, name, ("rejected",))
    sheet = strict_stack.call_http("report", format="csv", fresh="true")
    assert sheet.status_code == 200
    cells = {cell for row in csv.reader(io.StringIO(sheet.text)) for cell in row}
    for name in names:
        assert "'" + name in cells and name not in cells
    page = strict_stack.call_http("report", format="html", fresh="true")
    assert page.status_code == 200 and 'HYPERLINK("http://x")' not in page.text
    if "HYPERLINK" in page.text:  # the page may list only some of the day's files
        assert "HYPERLINK(&quot;http://x&quot;)" in page.text


def test_a_forged_chunk_message_cannot_send_other_rows_or_to_another_job(strict_stack, tmp_path):
    """Whoever can write to the chunk queue can name a planned chunk and nothing else: a
    message that also says where rows are (another container, blob, range or connector) goes
    to the poison queue with the reason and sends nothing; the chunk's own message, its run and
    number only, uploads it from where the ledger says, once."""
    stack = strict_stack
    bench = Bench(stack, Settings(stack.settings))  # plans into a queue of its own: the chunks wait
    try:
        rid, _ = bench.plan(tmp_path, 600)
        chunks = bench.ledger.chunks(rid)
        name = stack.settings["CHUNK_QUEUE"]
        queue = stack.admin_client(QueueClient, name, message_encode_policy=TextBase64EncodePolicy())
        poison = stack.admin_client(QueueClient, name + "-poison")
        forged = json.dumps(
            {"run_id": rid, "index": 0, "v": 3, "connector": "epic", "container": "quarantine",
             "blob": "generic/with-ssn.csv", "etag": '"0x1"', "header_start": 0, "header_end": 10,
             "start": 10, "end": 5000, "rows": 20, "chunks": len(chunks), "first_row": 1, "skip": []}
        )  # fmt: skip
        before = stack.emulator_stats()["jobs"]
        log_before = (stack.log_dir / "host.log").read_text(errors="replace")
        queue.send_message(forged)
        wanted = base64.b64encode(forged.encode()).decode()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and wanted not in {m.content for m in poison.peek_messages(32)}:
            time.sleep(0.3)
        log = (stack.log_dir / "host.log").read_text(errors="replace")[len(log_before) :]
        assert "malformed chunk message: message fields differ" in log and "no longer read" in log
        assert stack.emulator_stats()["jobs"] == before  # nothing sent, to any job
        assert bench.ledger.chunks(rid) == chunks  # the genuine chunk untouched

        for chunk in chunks:
            queue.send_message(ChunkMessage(rid, chunk.index).encode())
        deadline = time.monotonic() + 60
        run = bench.ledger.get_run(rid)
        while time.monotonic() < deadline and (run is None or run.status != "complete"):
            time.sleep(0.3)
            run = bench.ledger.get_run(rid)
        after = stack.emulator_stats()["jobs"]
        generic, epic = stack.state["jobs"]["generic"], stack.state["jobs"]["epic"]
        assert run is not None and run.records_saved == 600
        assert after[generic]["rows"] - before[generic]["rows"] == 600 and after[epic] == before[epic]
        assert after[generic]["duplicate_rows"] == before[generic]["duplicate_rows"]
    finally:
        bench.queue.delete_queue()
        bench.container.delete_container()
