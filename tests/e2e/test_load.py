"""Load: 20 exports of mixed sizes for both connectors dropped at once all complete, each row
reaches its own connector's job exactly once, and the host's memory stays bounded."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from devstack.generate import GenerateOptions, default_extension, generate

pytestmark = pytest.mark.e2e

FILES = 20
HOST_PEAK_MB = 400
"""The host process's peak resident memory (all workers are threads in it), files streamed."""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def test_twenty_files_at_once_all_complete_with_no_rows_crossing_jobs(stack, pipeline, tmp_path):
    tag = uuid.uuid4().hex[:6]
    exports = []
    for i in range(FILES):
        connector, kind = ("generic", "healthcare") if i % 2 == 0 else ("epic", "epic")
        rows = 300 + (i * 337) % 2700
        delimiter = "|" if kind == "epic" else ","
        path = tmp_path / f"load-{tag}-{i:02d}{default_extension(kind, delimiter)}"
        generate(path, GenerateOptions(kind=kind, rows=rows, seed=1000 + i, delimiter=delimiter))
        exports.append((connector, path, rows))
    jobs = stack.state["jobs"]
    before = {c: stack.emulator_stats()["jobs"][jobs[c]] for c in jobs}

    dropped = {pipeline.drop(path, connector): rows for connector, path, rows in exports}
    deadline = time.monotonic() + 180
    runs: dict = {}
    while time.monotonic() < deadline:
        runs = {r["blob"]: r for r in pipeline.runs() if r["blob"] in dropped}
        if len(runs) == FILES and all(
            r["status"] in ("complete", "rejected", "failed") for r in runs.values()
        ):
            break
        time.sleep(0.5)
    assert {b: r["status"] for b, r in runs.items()} == dict.fromkeys(dropped, "complete")
    assert all(runs[b]["records_saved"] == rows for b, rows in dropped.items())

    after = {c: stack.emulator_stats()["jobs"][jobs[c]] for c in jobs}
    for connector in jobs:
        sent = sum(rows for c, _, rows in exports if c == connector)
        assert after[connector]["rows"] - before[connector]["rows"] == sent, connector
        assert after[connector]["duplicate_rows"] == before[connector]["duplicate_rows"], connector
    assert peak_rss_mb(stack.state["pids"]["host"]) < HOST_PEAK_MB
