"""`doctor` on a fresh local stack, run from an operator's shell whose REQUESTS_CA_BUNDLE holds
whatever their site put there (the README tells proxied sites to set it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import certifi
import pytest

from devstack.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A stack nobody has used: no test created its containers."""
    s = Stack(tmp_path_factory.mktemp("fresh"), chunk_rows=700).up(host=False)
    settings = s.work / "local.settings.json"
    settings.write_text(json.dumps({"Values": s.settings}))
    yield s, settings
    s.down()


@pytest.mark.parametrize("held", [None, "", "certifi", "/no/such/bundle.pem"])
def test_doctor_passes_on_a_fresh_stack_whatever_requests_ca_bundle_holds(fresh, held):
    stack, settings = fresh
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env = {k: v for k, v in env.items() if k not in stack.settings}  # an operator's shell
    if held is not None:
        env["REQUESTS_CA_BUNDLE"] = certifi.where() if held == "certifi" else held
    done = subprocess.run(
        [sys.executable, "-m", "ehr_cli", "doctor", "--settings", str(settings)],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines() if line.strip()] == ["ok"] * 5
    assert "does not exist" not in done.stdout and "Traceback" not in done.stderr
