"""The app's own Azure identity (managed identity in Azure, the emulator locally)."""

from __future__ import annotations

from functools import lru_cache

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential


@lru_cache(maxsize=4)
def credential(client_id: str | None = None) -> TokenCredential:
    """One credential per identity, shared, so its token cache is shared too.

    Interactive and developer-tool credentials are excluded: the app must never fall back
    to whoever happens to be signed in on the machine it runs on.
    """
    return DefaultAzureCredential(
        managed_identity_client_id=client_id,
        exclude_interactive_browser_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
    )
