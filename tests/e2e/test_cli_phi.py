"""Every `ehr-ingest` command, run as an operator runs it, over hostile and header-less exports
whose every patient and employee value is a marker: no marker reaches any output (standard
output, standard error, the log records of this process) nor anything the pipeline stored."""

from __future__ import annotations

import json
import logging
import os
import re
import time

import pytest

from devstack.generate import GenerateOptions
from ehr_cli.main import build_parser, main
from shared import handlers
from shared.common import identity
from tests.e2e.phi import MARKER, leaks, marked, storage_texts
from tests.e2e.test_phi import wait_for
from tests.e2e.test_upload_cli import push_args

pytestmark = pytest.mark.e2e


def headerless(path, kind, seed):
    export = marked(path, GenerateOptions(kind=kind, rows=60, seed=seed))
    export.path.write_text("".join(export.path.read_text().splitlines(keepends=True)[1:]))
    return export.path


def hostile(path, seed, unclosed=False):
    """Markers in the timestamp and Event Name columns too (invalid rows, free-text events);
    with ``unclosed``, a last record whose quote never closes."""
    export = marked(path, GenerateOptions(rows=200, bad_rows=5, seed=seed))
    lines = export.path.read_text().splitlines(keepends=True)
    for i in (3, 50, 120):
        fields = lines[i].split(",", 2)
        lines[i] = f"{MARKER}when{i},{MARKER}event{i},{fields[2]}"
    if unclosed:
        lines.append(f'2026-11-22T08:00:00Z,View,"{MARKER}unclosed,\n')
    export.path.write_text("".join(lines))
    return export.path


def commands() -> set[str]:
    [sub] = [a for a in build_parser()._actions if a.dest == "command"]
    return set(sub.choices or ())


class Operator:
    """Runs commands in this process as the shell would, keeping everything they printed."""

    def __init__(self, capsys, settings):
        self.capsys, self.settings, self.ran, self.out = capsys, str(settings), set(), {}

    def __call__(self, *argv, settings=False):
        args = [str(a) for a in argv] + (["--settings", self.settings] if settings else [])
        saved = dict(os.environ)
        code: int | str | None
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code
        finally:
            os.environ.clear()
            os.environ.update(saved)
        out = self.capsys.readouterr()
        self.ran.add(args[0])
        self.out[f"{' '.join(args[:3])} #{len(self.out)}"] = out.out + out.err
        return code


def test_no_command_prints_a_marker(strict_stack, strict_pipeline, tmp_path, capsys, caplog, monkeypatch):
    stack, pipeline = strict_stack, strict_pipeline
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")  # push: a vault on 127.0.0.1
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE"):  # the emulated identity
        monkeypatch.setenv(key, stack.settings[key])
    identity.credential.cache_clear()
    handlers.reset()  # the commands build their clients from this stack's settings
    files = {
        "generic": [
            headerless(tmp_path / "nohead.csv", "healthcare", 61),
            hostile(tmp_path / "hostile.csv", 62),
            hostile(tmp_path / "unclosed.csv", 65, unclosed=True),
        ],
        "epic": [headerless(tmp_path / "nohead.txt", "epic", 63)],
    }
    refused = marked(tmp_path / "refused.csv", GenerateOptions(rows=120, seed=64)).path
    run = Operator(capsys, stack.work / "local.settings.json")
    caplog.set_level(logging.DEBUG)

    for connector, paths in files.items():
        kind = "epic" if connector == "epic" else "healthcare"
        for path in paths:
            for extra in ([], ["--json"]):
                run("validate", path, "--kind", kind, *extra)
                run("suggest-mapping", path, "--kind", kind, *extra)
            run("drop", path, "--connector", connector, settings=True)
            wait_for(pipeline, f"{connector}/{path.name}", ("rejected", "complete", "failed"))

    stack.set_faults(error_rate=1, error_status=400, echo_values=True)  # the API quotes the rows
    try:
        run("drop", refused, "--connector", "generic", settings=True)
        failed = wait_for(pipeline, f"generic/{refused.name}", ("failed",))
        run(*push_args(stack, refused, tmp_path / "state"))
        run("replay", failed["RowKey"], settings=True)
    finally:
        stack.set_faults(error_rate=0, error_status=503, echo_values=False)
    time.sleep(1)  # the replayed chunks' attempts, logged by the host
    run("status", "--days", "1", settings=True)
    for fmt in ("text", "json", "html", "csv"):
        run("report", "--format", fmt, settings=True)
    run("report", "--write", settings=True)
    run("report", "--latest", settings=True)
    run("doctor", settings=True)
    run("generate", "--rows", "20", "--output", tmp_path)
    run("stack", "down", "--work", tmp_path / "no-stack")
    run(
        "demo",
        "--rows",
        "200",
        "--epic-rows",
        "100",
        "--chunk-rows",
        "100",
        "--work",
        tmp_path / "demo",
        "--stop",
    )
    run("stack", "up", "--work", tmp_path / "own", "--chunk-rows", "100")
    run("stack", "down", "--work", tmp_path / "own")

    identity.credential.cache_clear()
    handlers.reset()
    assert run.ran == commands(), commands() - run.ran
    said = "".join(run.out.values())
    assert "rows accepted" in said and "ok    key vault secret" in said and "[malformed]" in said
    assert re.search(r"rejected|looks like a data row", "".join(run.out.values()))
    texts = {**run.out, "log records of this process": "\n".join(r.getMessage() for r in caplog.records)}
    texts.update(storage_texts(stack))
    texts["host log"] = (stack.log_dir / "host.log").read_text(errors="replace")
    assert leaks(texts, [MARKER]) == []
    assert json.loads(next(t for k, t in run.out.items() if k.startswith("report --format json")))
