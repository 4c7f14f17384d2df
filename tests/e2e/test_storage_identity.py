"""The local stack signs the app in to Storage as Azure does: identity-based settings for both
connections, tokens from the managed-identity endpoint, and no key or SAS anywhere the app can
read. Every e2e test runs this way; this module states it and checks a run end to end."""

from __future__ import annotations

import json
import re

import pytest

from devstack.generate import GenerateOptions, generate
from tests.e2e.test_pipeline import wait_for_run

pytestmark = pytest.mark.e2e

CONNECTIONS = ("ExportsStorage", "AzureWebJobsStorage")
KEYED = re.compile(r"AccountKey=|SharedAccessSignature=|[?&;]sig=|UseDevelopmentStorage", re.IGNORECASE)


def test_both_connections_are_identity_based_as_in_azure(stack):
    settings = stack.settings
    client_id = stack.state["emulator"]["managed_identity_client_id"]
    for name in CONNECTIONS:
        assert name not in settings, f"{name} must not be a connection string"
        for service in ("blob", "queue", "table"):
            assert settings[f"{name}__{service}ServiceUri"].startswith("https://127.0.0.1:")
        assert settings[f"{name}__credential"] == "managedidentity"
        assert settings[f"{name}__clientId"] == client_id


def test_no_key_or_sas_in_the_apps_settings(stack):
    key = stack.state["azurite"]["key"]
    on_disk = (stack.work / "local.settings.json").read_text()
    for text in (json.dumps(stack.settings), json.dumps(stack.app_env()), on_disk):
        assert key not in text
        assert not KEYED.search(text)


def test_a_run_goes_through_with_managed_identity_tokens(stack, pipeline, tmp_path):
    """The blob extension builds the trigger's BlobClient with ManagedIdentityCredential (the
    app has nothing else), the stages and the host's own bookkeeping take tokens too."""
    before = stack.emulator_stats()["tokens"]["managed_identity"]
    export = generate(tmp_path / "identity.csv", GenerateOptions(rows=800, seed=5))
    run = wait_for_run(pipeline, pipeline.drop(export.path, "generic"))
    assert run["status"] == "complete" and run["records_saved"] == 800
    stack.stop_host()  # a new worker process asks for its tokens again
    stack.start_host()
    other = generate(tmp_path / "identity-again.csv", GenerateOptions(rows=300, seed=6))
    again = wait_for_run(pipeline, pipeline.drop(other.path, "generic"))
    assert again["status"] == "complete"
    assert stack.emulator_stats()["tokens"]["managed_identity"] > before
