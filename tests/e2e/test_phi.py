"""PHI never leaks: exports whose every patient and employee value is a unique marker go through
the whole stack, failure paths included (a rejected file, skipped rows, a 400 from the API, a
poisoned chunk), with the host logging at DEBUG. No marker, secret or token is found in any log
line, queue message (poison queues peeked), table entity, report or quarantine report.
"""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from devstack.generate import GenerateOptions
from devstack.profiles import ProfileOptions
from ehr_cli.main import main as cli
from tests.e2e.phi import MARKER, leaks, marked, marked_profiles, storage_texts

pytestmark = pytest.mark.e2e

JWT = re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]+")


def wait_for(pipeline, blob, statuses, timeout=120):
    deadline = time.monotonic() + timeout
    run: dict = {}
    while time.monotonic() < deadline:
        run = {r["blob"]: r for r in pipeline.runs()}.get(blob, {})
        if run.get("status") in statuses:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run for {blob} is {run.get('status')}, expected one of {statuses}")


def test_no_marker_secret_or_token_anywhere(strict_stack, strict_pipeline, tmp_path, caplog, capsys):
    stack, pipeline = strict_stack, strict_pipeline
    generic = marked(tmp_path / "phi-generic.csv", GenerateOptions(rows=900, bad_rows=9, seed=91))
    epic = marked(tmp_path / "phi-epic.txt", GenerateOptions(kind="epic", rows=600, seed=92))
    rejected = marked(tmp_path / "phi-rejected.csv", GenerateOptions(rows=40, seed=93))
    text = rejected.path.read_text()
    rejected.path.write_text(text.replace("Patient Zip Code", "Postcode", 1))
    refused = marked(tmp_path / "phi-refused.csv", GenerateOptions(rows=300, seed=94))
    poisoned = marked(tmp_path / "phi-poisoned.csv", GenerateOptions(rows=300, seed=95))
    profiles = marked_profiles(
        tmp_path / "phi-profiles.csv", ProfileOptions(rows=200, bad_rows=2, other_scenarios=5)
    )
    assert MARKER in generic.path.read_text()

    runs = {}
    runs["generic"] = wait_for(pipeline, pipeline.drop(generic.path, "generic"), ("complete",))
    runs["epic"] = wait_for(pipeline, pipeline.drop(epic.path, "epic"), ("complete",))
    runs["hr"] = wait_for(pipeline, pipeline.drop(profiles.path, "hr"), ("complete",))
    runs["rejected"] = wait_for(pipeline, pipeline.drop(rejected.path, "generic"), ("rejected",))
    try:
        # The API's reply quotes values of the refused rows, as a real one might.
        stack.set_faults(error_rate=1, error_status=400, echo_values=True)
        runs["refused"] = wait_for(pipeline, pipeline.drop(refused.path, "generic"), ("failed",))
        stack.set_faults(error_rate=1, error_status=500)
        runs["poisoned"] = wait_for(pipeline, pipeline.drop(poisoned.path, "generic"), ("failed",))
    finally:
        stack.set_faults(error_rate=0, error_status=503, echo_values=False)
    assert runs["generic"]["rows_skipped"] == 9
    report = pipeline.report_now()
    assert {f["status"] for f in report["files"]} >= {"complete", "rejected", "failed"}

    # The operator's tool on the same file, in this process, at DEBUG.
    with caplog.at_level(logging.DEBUG):
        cli(["validate", str(generic.path), "--kind", "healthcare"])
        cli(["validate", str(generic.path), "--kind", "healthcare", "--json"])
    out = capsys.readouterr()

    texts = storage_texts(stack)
    poison = [k for k in texts if k.startswith("queue ") and "-poison" in k]
    assert poison, "the poisoned chunk's message should be in the poison queue"
    assert any(k.startswith("blob quarantine/") for k in texts) and any(
        k.startswith("blob reports/") for k in texts
    )
    texts["host log"] = (stack.log_dir / "host.log").read_text(errors="replace")
    assert "DEBUG" in texts["host log"]
    assert "code BadRequest; The file columns do not match" in texts["host log"]  # the API's words kept
    assert "Row 1 [value removed] refused" in texts["host log"]  # its quotes of the rows not
    texts["test process log"] = "\n".join(r.getMessage() for r in caplog.records)
    texts["cli output"] = out.out + out.err

    emulator = json.loads((stack.work / "emulator-config.json").read_text())
    key_lines = [
        line
        for line in emulator["secrets"]["ingestion-client-certificate"].splitlines()
        if len(line) == 64 and "-" not in line
    ]
    assert any(k.startswith("blob coverage/profiles/hr/") for k in texts)  # hashes only, searched too
    secrets = [
        emulator["client_secret"],
        emulator["secrets"]["coverage-hash-key"],
        emulator["identity_header"],
        stack.state["azurite"]["key"],
        *key_lines[1:3],
    ]
    # The search works: the quarantined export itself (the hospital's file) is full of markers.
    own = pipeline.blobs.get_blob_client("quarantine", runs["rejected"]["blob"]).download_blob().readall()
    assert leaks({"quarantined export": own.decode()}, [MARKER])
    assert leaks(texts, [MARKER]) == []
    assert leaks(texts, secrets) == []
    assert [place for place, t in texts.items() if JWT.search(t)] == []
