"""`ehr-ingest push`, `doctor` and `replay` against the local stack."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from devstack.generate import GenerateOptions, generate
from ehr_cli.main import main
from shared.common import ledger as states
from shared.delivery.retry import RetryPolicy
from tests.ehr_cli.command import against, ehr_ingest

pytestmark = pytest.mark.e2e


def push_args(stack, export, state_dir, job=None):
    s = stack.settings
    return [
        "push",
        "--tenant-id", s["ENTRA_TENANT_ID"],
        "--app-id", s["ENTRA_CLIENT_ID"],
        "--key-vault-url", s["KEY_VAULT_URL"],
        "--job-id", job or stack.state["jobs"]["generic"],
        "--file", str(export),
        "--authority-host", s["ENTRA_AUTHORITY_HOST"],
        "--ingestion-url", s["INGESTION_URL"],
        "--ca-bundle", s["REQUESTS_CA_BUNDLE"],
        "--chunk-rows", "500",
        "--concurrency", "3",
        "--state-dir", str(state_dir),
    ]  # fmt: skip


def test_push_sends_every_row_once_retries_and_resumes(stack, env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")  # a vault on 127.0.0.1
    # 9 invalid rows scattered: stepped over inside the 4 chunks, never sent.
    options = GenerateOptions(rows=1809, bad_rows=9, seed=uuid.uuid4().int % 10**9)
    export = generate(tmp_path / "audit.csv", options).path
    job = stack.state["jobs"]["generic"]
    before = stack.emulator_stats()["jobs"][job]
    stack.set_faults(error_rate=0.3, error_status=503, retry_after_seconds=1, seed=5)
    try:
        assert main(push_args(stack, export, tmp_path / "state")) == 0
    finally:
        stack.set_faults(error_rate=0)
    out = capsys.readouterr().out
    assert "1,800 of 1,800 valid rows accepted" in out and "9 invalid rows are not sent" in out
    after = stack.emulator_stats()["jobs"][job]
    assert after["rows"] - before["rows"] == 1800
    assert after["duplicate_rows"] == before["duplicate_rows"]

    assert main(push_args(stack, export, tmp_path / "state")) == 0  # a rerun sends nothing again
    out = capsys.readouterr().out
    assert "resuming: 4 of 4 chunks" in out and "1,800 of 1,800" in out
    assert stack.emulator_stats()["jobs"][job]["requests"] == after["requests"]


def test_push_exits_non_zero_with_the_reason_when_rows_are_refused(stack, env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false")
    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=600, seed=2)).path
    wrong_job = str(uuid.uuid4())
    assert main(push_args(stack, export, tmp_path / "state", job=wrong_job)) == 1
    captured = capsys.readouterr()
    assert "0 of 600 valid rows accepted" in captured.out
    assert f"job id {wrong_job} is unknown" in captured.err


def test_doctor_passes_on_a_healthy_stack_and_says_what_to_fix(stack, bench, tmp_path):
    exports = bench.blobs.get_container_client("exports")
    if not exports.exists():
        exports.create_container()  # infra creates it in Azure
    ok = against(stack, "doctor")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [line.split()[0] for line in ok.stdout.splitlines() if line.strip()] == ["ok"] * 5

    values = dict(stack.settings, ENTRA_SECRET_NAME="no-such-secret")
    broken = tmp_path / "broken.settings.json"
    broken.write_text(json.dumps({"Values": values}))
    bad = against(stack, "doctor", settings=broken)
    assert bad.returncode == 1
    assert "FAIL  key vault secret" in bad.stdout and "fix: check KEY_VAULT_URL" in bad.stdout
    assert "SKIP  token" in bad.stdout
    assert "no-such-secret" in bad.stdout and stack.settings["ENTRA_CLIENT_ID"] not in bad.stdout


def test_replay_through_the_host_finishes_a_failed_run(stack, bench, tmp_path):
    """A chunk failed for good (here: a 500 on its last attempt); after the fix, replay re-queues
    it on the real chunk queue and the local function host uploads it."""
    stack.set_faults(error_rate=1, error_status=500)
    rid, messages = bench.plan(tmp_path, 700)
    last = bench.uploader(policy=RetryPolicy(attempts=1, base=0.01, cap=0.01, budget=1))
    with pytest.raises(Exception, match="HTTP 500"):
        last.handle(messages[0], 5)
    assert bench.ledger.get_run(rid).status == states.FAILED_RUN
    stack.set_faults(error_rate=0)

    done = against(stack, "replay", rid[:12])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chunks re-queued (0)" in done.stdout
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = bench.ledger.get_run(rid)
        if run.status == states.COMPLETE:
            break
        time.sleep(0.3)
    assert run.status == states.COMPLETE and run.records_saved == 700
    assert against(stack, "replay", "no-such-run").returncode == 2
    assert os.path.exists(stack.work / "local.settings.json")


def test_every_call_goes_through_the_outbound_proxy(stack, tmp_path):
    """HTTPS_PROXY is honoured by our uploads, MSAL and the Azure SDK (managed identity, Key
    Vault) alike; NO_PROXY is cleared, so even loopback goes through the proxy."""
    from tests.e2e.connect_proxy import ConnectProxy

    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=900, seed=uuid.uuid4().int % 10**9)).path
    s = stack.settings
    with ConnectProxy() as proxy:
        env = {k: v for k, v in stack.app_env().items() if k.lower() not in ("no_proxy",)}
        env.update(HTTPS_PROXY=proxy.url, KEY_VAULT_VERIFY_CHALLENGE_RESOURCE="false")
        pushed = ehr_ingest(*push_args(stack, export, tmp_path / "state"), "--no-progress", env=env)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        emulator = s["INGESTION_URL"].split("/")[2]
        # managed identity and Key Vault (Azure SDK), the token (MSAL), two chunks (our session)
        assert proxy.tunnels.count(emulator) >= 3

        doctor = ehr_ingest("doctor", "--settings", stack.work / "local.settings.json", env=env)
        assert f"via proxy {proxy.url}" in doctor.stdout, doctor.stdout + doctor.stderr
