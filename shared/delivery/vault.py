"""The Entra app's client secret (or certificate), read from Key Vault with the app's managed identity."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from azure.keyvault.secrets import SecretClient

from shared.common.identity import credential
from shared.common.settings import Settings


@dataclass
class SecretCache:
    """Read once per process; ``invalidate`` after the secret stops working (rotation)."""

    settings: Settings
    _value: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _client(self) -> SecretClient:
        return SecretClient(
            vault_url=self.settings["KEY_VAULT_URL"],
            credential=credential(self.settings["MANAGED_IDENTITY_CLIENT_ID"] or None),
            verify_challenge_resource=self.settings.flag("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE"),
        )

    @property
    def name(self) -> str:
        """The certificate's name when the app authenticates with one, else the secret's."""
        return self.settings["ENTRA_CERTIFICATE_NAME"] or self.settings["ENTRA_SECRET_NAME"]

    def get(self) -> str:
        with self._lock:
            if self._value is None:
                self._value = self._client().get_secret(self.name).value
                if not self._value:
                    raise RuntimeError(f"Key Vault secret {self.name} is empty")
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None


class CoverageKey(SecretCache):
    """The HMAC key of the coverage hashes: a Key Vault secret infra/ creates, read like the
    client secret (once per process, with the managed identity)."""

    @property
    def name(self) -> str:
        return self.settings["COVERAGE_KEY_SECRET_NAME"]
