"""The operator's first commands, run as they run them: wrong folders refused with the list of
connectors, and no traceback, not even when the output is cut short by `| head`."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.shared.intake.exports import values, written

REPO = Path(__file__).resolve().parents[2]


def settings_file(tmp_path):
    connectors = [
        {"name": "generic", "kind": "healthcare", "job_id": "j1"},
        {"name": "epic", "kind": "epic", "job_id": "j2"},
    ]
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"CONNECTORS": json.dumps(connectors)}}))
    return path


def test_drop_into_a_folder_that_is_no_connector_fails_listing_them(tmp_path):
    export = tmp_path / "audit.csv"
    export.write_bytes(written([values(0)]))
    done = subprocess.run(
        [sys.executable, "-m", "ehr_cli", "drop", str(export), "--connector", "pharmacy",
         "--settings", str(settings_file(tmp_path))],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "'pharmacy' is no connector's folder" in done.stderr
    assert "Connectors: epic, generic" in done.stderr and "Traceback" not in done.stderr


def test_no_traceback_when_the_output_is_cut_short(tmp_path):
    export = tmp_path / "audit.csv"
    export.write_bytes(written([values(i, when="soon") for i in range(20_000)]))
    cli = subprocess.Popen(
        [sys.executable, "-m", "ehr_cli", "validate", "--json", str(export)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert cli.stdout is not None and cli.stderr is not None
    head_cmd = [shutil.which("head") or "/usr/bin/head", "-2"]
    head = subprocess.run(head_cmd, stdin=cli.stdout, capture_output=True, text=True, timeout=120)
    cli.stdout.close()  # only head reads it: the CLI sees the pipe close when head exits
    errors = cli.stderr.read().decode()
    assert cli.wait(timeout=120) == 141
    assert head.stdout.startswith("{") and errors == ""
