"""The app's own Azure identity: its managed identity in Azure, the emulator's locally.

On a Functions instance (the platform sets ``IDENTITY_ENDPOINT`` where a managed identity is
assigned, and ``WEBSITE_INSTANCE_ID`` on every App Service instance; the local stack sets
``IDENTITY_ENDPOINT`` to its emulator) the credential is the managed identity and nothing
else: no environment secret, no Azure CLI, PowerShell or azd sign-in, so a misconfigured app
fails to authenticate instead of acting as whoever signed in on the machine.

Elsewhere (an operator running ``ehr-ingest status`` or ``doctor`` from a workstation) it is
``DefaultAzureCredential`` without its interactive and editor credentials (browser, VS Code,
the shared token cache, the broker): environment, workload identity, managed identity (an
Azure VM), then the Azure CLI, PowerShell and azd sign-ins, which is how an operator signs in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential


def on_azure_host(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("IDENTITY_ENDPOINT") or env.get("WEBSITE_INSTANCE_ID"))


@lru_cache(maxsize=4)
def credential(client_id: str | None = None) -> TokenCredential:
    """One credential per identity, shared, so its token cache is shared too. Without a client
    id, ``AZURE_CLIENT_ID`` names the user-assigned identity (as DefaultAzureCredential reads it)."""
    if on_azure_host():
        return ManagedIdentityCredential(client_id=client_id or os.environ.get("AZURE_CLIENT_ID") or None)
    return DefaultAzureCredential(
        managed_identity_client_id=client_id,
        exclude_interactive_browser_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
        exclude_broker_credential=True,
    )
