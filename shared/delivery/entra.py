"""Access tokens for the ingestion API: MSAL client credentials, cached for their lifetime."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

import msal

from shared.common.settings import Settings
from shared.delivery import clouds
from shared.delivery.certificate import msal_credential


class Secrets(Protocol):
    """Where the app's secret (or certificate) comes from: Key Vault, or a value given to push."""

    def get(self) -> str: ...

    def invalidate(self) -> None: ...


class TokenError(RuntimeError):
    """Entra refused the app; the message carries Entra's error code, never the secret."""


@dataclass
class TokenProvider:
    settings: Settings
    secrets: Secrets
    _app: msal.ConfidentialClientApplication | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            authority = f"{clouds.from_settings(self.settings)[0]}/{self.settings['ENTRA_TENANT_ID']}"
            value = self.secrets.get()
            self._app = msal.ConfidentialClientApplication(
                self.settings["ENTRA_CLIENT_ID"],
                # A certificate signs a client assertion instead of sending a secret.
                client_credential=msal_credential(value)
                if self.settings["ENTRA_CERTIFICATE_NAME"]
                else value,
                authority=authority,
                # The authority is our own trusted setting (sovereign clouds, emulator):
                # skip discovery against the public cloud.
                instance_discovery=False,
            )
        return self._app

    def token(self) -> str:
        """MSAL answers from its cache until the token nears expiry: one request per lifetime."""
        with self._lock:
            result = self._application().acquire_token_for_client(scopes=[self.settings["INGESTION_SCOPE"]])
        if "access_token" in result:
            return str(result["access_token"])
        error = result.get("error", "unknown_error")
        codes = result.get("error_codes", [])
        if error in ("invalid_client", "unauthorized_client"):
            self.refresh_secret()
        said = (result.get("error_description") or "").strip().split("\n")[0][:300]
        raise TokenError(
            f"Entra refused a token for app {self.settings['ENTRA_CLIENT_ID']}: {error} {codes}; "
            "check the client secret (or certificate) in Key Vault and the app registration. "
            f"Entra said: {said}"
        )

    def invalidate(self) -> None:
        """Forget the cached token (the API answered 401): the next call gets a new one."""
        with self._lock:
            if self._app is not None:
                for account in self._app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
                    self._app.token_cache.remove_at(account)

    def refresh_secret(self) -> None:
        """The secret was rotated or revoked: re-read it and start a new MSAL app."""
        self.secrets.invalidate()
        with self._lock:
            self._app = None
