"""A generic CSV and an Epic pipe .txt go through the whole stack; every row arrives once."""

from __future__ import annotations

import time

import pytest

from devstack.generate import GenerateOptions, generate

pytestmark = pytest.mark.e2e


def wait_for_run(pipeline, blob, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {r["blob"]: r for r in pipeline.runs()}
        if runs.get(blob, {}).get("status") in ("complete", "rejected"):
            return runs[blob]
        time.sleep(0.3)
    raise AssertionError(f"run for {blob} did not finish; ledger says {runs.get(blob)}")


@pytest.mark.parametrize(
    ("connector", "kind", "name", "options"),
    [
        ("generic", "healthcare", "audit-2026-11-22.csv", {"bom": True, "crlf": True, "quote_rate": 0.2}),
        ("epic", "epic", "epic-access-2026-11-22.txt", {"delimiter": "|"}),
    ],
)
def test_every_row_accepted_exactly_once(stack, pipeline, tmp_path, connector, kind, name, options):
    rows = 5000
    export = generate(tmp_path / name, GenerateOptions(kind=kind, rows=rows, seed=11, **options))
    job = stack.state["jobs"][connector]
    before = pipeline.rows_received().get(job, 0)

    blob = pipeline.drop(export.path, connector)
    run = wait_for_run(pipeline, blob)

    assert run["status"] == "complete", run.get("reason")
    assert run["rows_valid"] == rows and run["records_saved"] == rows
    assert run["chunks"] == -(-rows // 700)
    stats = stack.emulator_stats()["jobs"][job]
    assert stats["rows"] - before == rows
    assert stats["duplicate_rows"] == 0

    report = pipeline.report_now()
    entry = next(f for f in report["files"] if f["file_name"] == blob)
    assert entry["status"] == "complete" and entry["records_saved"] == rows
    assert entry["chunks_uploaded"] == entry["chunks"]


@pytest.fixture(scope="module", autouse=True)
def requests_before(stack):
    """The token and secret requests before this module's runs: other modules restart the host
    (a new process fetches its own token), so only this module's runs are counted."""
    stats = stack.emulator_stats()
    return {"v2": stats["tokens"]["v2"], "keyvault": stats["keyvault"]["requests"]}


def test_token_and_secret_fetched_once_for_many_chunks(stack, requests_before):
    """MSAL caches the token and the secret is cached: not one request per chunk (the two runs
    above upload dozens of chunks)."""
    stats = stack.emulator_stats()
    assert stats["tokens"]["v2"] - requests_before["v2"] <= 2
    assert stats["keyvault"]["requests"] - requests_before["keyvault"] <= 4


def test_file_without_connector_folder_is_rejected(pipeline, tmp_path):
    export = generate(tmp_path / "stray.csv", GenerateOptions(rows=10))
    blob = pipeline.drop(export.path, "nobody")
    run = wait_for_run(pipeline, blob)
    assert run["status"] == "rejected" and "not a configured connector" in run["reason"]
