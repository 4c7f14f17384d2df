"""Minimum necessary: only the schema's columns and the allowed events leave the hospital
(named to sort after test_pipeline.py, which counts the session's token requests).

Exports carry two extra PHI columns (``Patient SSN`` before the schema's columns, ``Diagnosis``
after them) whose every value holds a marker. Through the function host, in-process through
the stages, and through ``push``, the emulator must see exactly the schema's columns, no
marker, every row to send once, and the filtered events never.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from devstack.generate import GenerateOptions, generate
from ehr_cli.main import main
from shared.common import ledger as states
from shared.common.events import parse_events
from shared.common.messages import ChunkMessage
from shared.common.settings import Connector
from shared.intake.plan import plan_export
from tests.e2e.test_phi import wait_for
from tests.e2e.test_upload_cli import push_args

pytestmark = pytest.mark.e2e

EXTRA = "ZextraQ"
"""Marks every value of the extra columns; the emulator counts records holding it."""


def with_extra_columns(path: Path, options: GenerateOptions) -> tuple[Path, Counter]:
    """A generated export with the extra PHI columns, and its rows counted by Event Name."""
    result = generate(path, options)
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline=""), delimiter=result.delimiter))
    events = Counter(r[1] for r in rows[1:])
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=result.delimiter, lineterminator="\r\n")
        writer.writerow(["Patient SSN", *rows[0], "Diagnosis"])
        for i, row in enumerate(rows[1:]):
            writer.writerow([f"{EXTRA}{i:06d}ssn", *row, f"{EXTRA}{i:06d} dx, chronic"])
    return path, events


@pytest.fixture
def watched(stack):
    stack.set_faults(watch=EXTRA)
    yield stack
    stack.set_faults(watch="")


def job_counts(stack, job: str) -> dict:
    return stack.emulator_stats()["jobs"][stack.state["jobs"][job]]


def delta(before: dict, after: dict) -> dict:
    keys = ("rows", "duplicate_rows", "non_schema_columns", "ragged_rows", "watched_rows")
    return {k: after[k] - before[k] for k in keys}


@pytest.mark.parametrize(
    ("connector", "name", "options"),
    [
        ("generic", "extra-columns.csv", GenerateOptions(rows=3000, quote_rate=0.3, seed=171)),
        ("epic", "extra-columns.txt", GenerateOptions(kind="epic", rows=2000, delimiter="\t", seed=172)),
    ],
)
def test_extra_columns_never_leave_through_the_host(watched, pipeline, tmp_path, connector, name, options):
    export, _ = with_extra_columns(tmp_path / name, options)
    before = job_counts(watched, connector)
    run = wait_for(pipeline, pipeline.drop(export, connector), ("complete",))
    got = delta(before, job_counts(watched, connector))
    assert got == {
        "rows": options.rows, "duplicate_rows": 0, "non_schema_columns": 0, "ragged_rows": 0,
        "watched_rows": 0,
    }  # fmt: skip
    assert run["records_saved"] == options.rows
    assert json.loads(run["columns_dropped"]) == ["Patient SSN", "Diagnosis"]
    report = pipeline.blobs.get_blob_client(*run["validation_report"].split("/", 1)).download_blob().readall()
    assert json.loads(report)["columns_dropped"] == ["Patient SSN", "Diagnosis"]
    assert EXTRA not in report.decode()


def test_event_filter_through_the_stages(bench, watched, tmp_path):
    """The blob stage counts the filtered rows; the queue stage sends the rest, once."""
    export, events = with_extra_columns(tmp_path / "filtered.csv", GenerateOptions(rows=2500, seed=173))
    connectors = {
        "generic": Connector(
            name="generic", kind="healthcare", job_id=bench.job, chunk_rows=400,
            events=parse_events({"exclude": [" chart OPENED", "Patient Lookup"]}, "generic"),
        )
    }  # fmt: skip
    left_out = events["Chart Opened"] + events["Patient Lookup"]
    blob = bench.container.get_blob_client(f"generic/{uuid.uuid4().hex[:6]}.csv")
    with export.open("rb") as data:
        blob.upload_blob(data)
    before = bench.job_stats()
    outcome = plan_export(blob, connectors, bench.ledger, bench.queue)
    assert outcome.status == states.UPLOADING and outcome.rows == 2500 - left_out
    run = bench.ledger.get_run(outcome.run_id)
    assert run.rows_filtered == left_out
    assert run.filtered_by_event == {
        "chart opened": events["Chart Opened"], "patient lookup": events["Patient Lookup"],
    }  # fmt: skip
    messages = [ChunkMessage.decode(m.content) for m in bench.receive()]
    assert sum(c.rows for c in bench.ledger.chunks(outcome.run_id)) == 2500 - left_out
    for m in messages:
        bench.queue.send_message(m.encode())
    bench.drain(bench.uploader(connectors=connectors))
    run = bench.ledger.get_run(outcome.run_id)
    assert run.status == states.COMPLETE and run.records_saved == 2500 - left_out
    got = delta(before, bench.job_stats())
    assert got == {
        "rows": 2500 - left_out, "duplicate_rows": 0, "non_schema_columns": 0, "ragged_rows": 0,
        "watched_rows": 0,
    }  # fmt: skip


def test_a_file_of_filtered_events_only_completes_with_nothing_sent(bench, tmp_path):
    export = generate(tmp_path / "none.csv", GenerateOptions(rows=50, seed=174)).path
    connectors = {
        "generic": Connector(
            name="generic",
            kind="healthcare",
            job_id=bench.job,
            events=parse_events({"include": ["No Such"]}, "generic"),
        )
    }
    blob = bench.container.get_blob_client("generic/none.csv")
    with export.open("rb") as data:
        blob.upload_blob(data)
    outcome = plan_export(blob, connectors, bench.ledger, bench.queue)
    assert outcome.status == states.COMPLETE and outcome.chunks == 0
    assert "nothing sent" in outcome.reason and bench.receive() == []
    assert bench.ledger.get_run(outcome.run_id).rows_filtered == 50


def test_push_with_a_connector_file_sends_the_schema_columns_and_allowed_events(
    watched, env, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")  # a vault on 127.0.0.1
    export, events = with_extra_columns(
        tmp_path / "push-extra.txt", GenerateOptions(kind="epic", rows=1500, seed=175)
    )
    entry = tmp_path / "connector.json"
    entry.write_text(json.dumps({"kind": "epic", "events": {"include": ["Chart Opened", "Order Entered"]}}))
    sent = events["Chart Opened"] + events["Order Entered"]
    job = watched.state["jobs"]["epic"]
    before = watched.emulator_stats()["jobs"][job]
    args = [a for a in push_args(watched, export, tmp_path / "state", job) if a not in ("--kind",)]
    assert main([*args, "--mapping", str(entry)]) == 0
    got = delta(before, watched.emulator_stats()["jobs"][job])
    assert got == {
        "rows": sent, "duplicate_rows": 0, "non_schema_columns": 0, "ragged_rows": 0, "watched_rows": 0,
    }  # fmt: skip
    out = capsys.readouterr().out
    assert f"{1500 - sent:,} rows are events the events filter leaves out" in out
    assert "columns not sent (no schema field): Patient SSN, Diagnosis" in out
    assert EXTRA not in out


def test_push_refuses_a_bad_events_key(tmp_path, capsys):
    entry = tmp_path / "connector.json"
    entry.write_text(json.dumps({"kind": "epic", "events": {"include": ["x"], "exclude": ["y"]}}))
    export = tmp_path / "x.txt"
    export.write_text("a|b\n")
    args = ["push", "--tenant-id", "t", "--app-id", "a", "--app-secret", "s", "--job-id", "j"]
    assert main([*args, "--file", str(export), "--mapping", str(entry)]) == 2
    assert "both 'include' and 'exclude'" in capsys.readouterr().err


def test_columns_all_sends_the_file_unchanged_and_the_emulator_sees_it(watched, env, tmp_path, monkeypatch):
    """The control: the hospital's decision to send every column, and proof the watch works."""
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")
    export, _ = with_extra_columns(tmp_path / "all.csv", GenerateOptions(rows=300, seed=176))
    entry = tmp_path / "connector.json"
    entry.write_text(json.dumps({"kind": "healthcare", "columns": "all", "mapping": {}}))
    before = job_counts(watched, "generic")
    assert main([*push_args(watched, export, tmp_path / "state"), "--mapping", str(entry)]) == 0
    got = delta(before, job_counts(watched, "generic"))
    assert got["rows"] == 300 and got["watched_rows"] == 300 and got["non_schema_columns"] == 2
