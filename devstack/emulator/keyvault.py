"""A one-vault Key Vault secrets endpoint, with the bearer challenge the SDK expects.

``SecretClient`` sends its first request without a token and learns from the 401's
``WWW-Authenticate`` header which authority and resource to ask for. Pointing that
challenge at the emulator means the client asks the emulated managed identity for a
``https://vault.azure.net`` token, exactly the production path. ``PUT`` exists so tests
and the dev stack can rotate the client secret and watch the app pick it up.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from devstack.emulator.config import KEYVAULT_RESOURCE, EmulatorConfig
from devstack.emulator.tokens import TokenAuthority, TokenError, bearer_token
from devstack.emulator.wire import BodyTooLargeError, Request, Response

_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_RECOVERY_LEVEL = "Recoverable+Purgeable"


@dataclass
class SecretVersion:
    """One stored value of a secret."""

    name: str
    version: str
    value: str
    created: int
    content_type: str | None = None
    enabled: bool = True


class KeyVaultService:
    """Secrets of one vault, reachable at ``{emulator url}/secrets/...``."""

    def __init__(
        self,
        config: EmulatorConfig,
        authority: TokenAuthority,
        base_url: Callable[[], str],
    ):
        self._config = config
        self._authority = authority
        self._base_url = base_url
        self._lock = threading.Lock()
        self._secrets: dict[str, list[SecretVersion]] = {}
        self._counts = {"requests": 0, "challenges": 0, "not_found": 0, "writes": 0}
        for name, value in config.secrets.items():
            self.set_secret(name, value)

    def set_secret(self, name: str, value: str, content_type: str | None = None) -> SecretVersion:
        """Store a new current version of ``name`` (also used to seed from the config)."""
        if not _NAME.match(name):
            raise ValueError("secret names are 1-127 letters, digits and dashes")
        version = SecretVersion(
            name=name,
            version=uuid.uuid4().hex,
            value=value,
            created=int(time.time()),
            content_type=content_type,
        )
        with self._lock:
            self._secrets.setdefault(name.lower(), []).append(version)
        return version

    def get(self, request: Request, name: str, version: str | None = None) -> Response:
        """``GET /secrets/{name}[/{version}]``: the current or a named version."""
        denied = self._authorize(request)
        if denied is not None:
            return denied
        with self._lock:
            versions = list(self._secrets.get(name.lower(), []))
        if version:
            found = next((v for v in versions if v.version == version), None)
        else:
            found = versions[-1] if versions else None
        if found is None:
            with self._lock:
                self._counts["not_found"] += 1
            shown = f"{name}/{version}" if version else name
            return Response.json(
                404,
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": (
                            f"A secret with (name/id) {shown} was not found in this key vault. "
                            "If you recently deleted this secret you may be able to recover it "
                            "using the correct recovery command."
                        ),
                    }
                },
            )
        return Response.json(200, self._bundle(found))

    def put(self, request: Request, name: str) -> Response:
        """``PUT /secrets/{name}`` with ``{"value": ..., "contentType"?: ...}``."""
        denied = self._authorize(request)
        if denied is not None:
            return denied
        try:
            body = request.json()
        except (ValueError, BodyTooLargeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return _bad_parameter("The request body must be JSON with a string 'value'.")
        content_type = body.get("contentType")
        if content_type is not None and not isinstance(content_type, str):
            return _bad_parameter("'contentType' must be a string.")
        try:
            stored = self.set_secret(name, body["value"], content_type)
        except ValueError as exc:
            return _bad_parameter(str(exc))
        with self._lock:
            self._counts["writes"] += 1
        return Response.json(200, self._bundle(stored))

    def stats(self) -> dict[str, int]:
        """Requests seen, 401 challenges sent, misses and writes."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Zero the counters (stored secrets are kept)."""
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)

    def _authorize(self, request: Request) -> Response | None:
        """None when the request carries a vault token, else the 401 challenge."""
        with self._lock:
            self._counts["requests"] += 1
        token = bearer_token(request.header("Authorization"))
        if token is None:
            return self._challenge("AKV10000: Request is missing a Bearer or PoP token.")
        try:
            self._authority.verify(token, KEYVAULT_RESOURCE)
        except TokenError as exc:
            return self._challenge(f"AKV10022: Invalid token: {exc}.")
        return None

    def _challenge(self, message: str) -> Response:
        with self._lock:
            self._counts["challenges"] += 1
        authority = f"{self._base_url()}/{self._config.tenant_id}"
        header = f'Bearer authorization="{authority}", resource="{KEYVAULT_RESOURCE}"'
        return Response.json(
            401,
            {"error": {"code": "Unauthorized", "message": message}},
            {"WWW-Authenticate": header},
        )

    def _bundle(self, secret: SecretVersion) -> dict[str, object]:
        bundle: dict[str, object] = {
            "value": secret.value,
            "id": f"{self._base_url()}/secrets/{secret.name}/{secret.version}",
            "attributes": {
                "enabled": secret.enabled,
                "created": secret.created,
                "updated": secret.created,
                "recoveryLevel": _RECOVERY_LEVEL,
                "recoverableDays": 90,
            },
            "tags": {},
        }
        if secret.content_type is not None:
            bundle["contentType"] = secret.content_type
        return bundle


def _bad_parameter(message: str) -> Response:
    return Response.json(400, {"error": {"code": "BadParameter", "message": message}})
