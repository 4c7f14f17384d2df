"""In Azure the app authenticates as its managed identity and as nothing else."""

from __future__ import annotations

import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from shared.common import identity

DEVELOPER_TOOLS = {
    "AzureCliCredential",
    "AzurePowerShellCredential",
    "AzureDeveloperCliCredential",
    "VisualStudioCodeCredential",
    "SharedTokenCacheCredential",
    "InteractiveBrowserCredential",
    "BrokerCredential",
}


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "WEBSITE_INSTANCE_ID", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    identity.credential.cache_clear()
    yield
    identity.credential.cache_clear()


@pytest.mark.parametrize(
    "platform",
    [
        {"WEBSITE_INSTANCE_ID": "0a1b"},
        {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi", "IDENTITY_HEADER": "h"},
    ],
)
def test_on_a_functions_instance_only_the_managed_identity(monkeypatch, platform):
    for name, value in platform.items():
        monkeypatch.setenv(name, value)
    cred = identity.credential("11111111-2222-3333-4444-555555555555")
    assert isinstance(cred, ManagedIdentityCredential)
    assert not isinstance(cred, DefaultAzureCredential)


def test_on_a_workstation_the_operators_sign_in_but_no_editor_or_browser():
    cred = identity.credential(None)
    assert isinstance(cred, DefaultAzureCredential)
    names = {type(c).__name__ for c in cred.credentials}
    assert "AzureCliCredential" in names and "ManagedIdentityCredential" in names
    assert not names & (
        DEVELOPER_TOOLS - {"AzureCliCredential", "AzurePowerShellCredential", "AzureDeveloperCliCredential"}
    )
