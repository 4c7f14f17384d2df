"""What the emulated tenant looks like: identities, secrets, jobs and injected faults.

Kept as plain JSON-serialisable dataclasses so a dev stack can write one file, start the
emulator as a separate process from it, and hand the same values to the app under test.
"""

from __future__ import annotations

import json
import math
import os
import secrets as _secrets
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

#: Audience of tokens the ingestion API accepts (the resource id that replaced the older
#: one in March 2025). Clients ask for it as a v1 ``resource`` or as ``<it>/.default``.
INGESTION_RESOURCE = "https://microsoft.onmicrosoft.com/86dfdabb-5089-4a0c-880a-cfa5a790c5b1"
#: Audience of tokens Key Vault accepts.
KEYVAULT_RESOURCE = "https://vault.azure.net"
#: Key Vault secret name under which :meth:`EmulatorConfig.generate` stores the app secret.
CLIENT_SECRET_NAME = "ingestion-client-secret"
#: Key Vault name of the app's certificate (key and certificate, PEM), the other credential.
CLIENT_CERTIFICATE_NAME = "ingestion-client-certificate"
#: Key Vault name of the coverage hashes' HMAC key (infra/scripts/post-deploy.sh creates it in Azure).
COVERAGE_KEY_NAME = "coverage-hash-key"
#: Audience of tokens Azure Storage (and Azurite with ``--oauth basic``) accepts.
STORAGE_RESOURCE = "https://storage.azure.com"
DEFAULT_RESOURCES = (INGESTION_RESOURCE, KEYVAULT_RESOURCE, STORAGE_RESOURCE)


class ConfigError(ValueError):
    """A configuration value is missing or out of range."""


@dataclass
class FaultConfig:
    """Faults the ingestion endpoint injects, so retry and back-off paths can be exercised.

    Rates are probabilities in [0, 1] drawn from a random generator seeded with ``seed``,
    so a run with the same settings and the same request order fails the same way.
    """

    latency_seconds: float = 0.0
    throttle_rate: float = 0.0
    retry_after_seconds: int = 1
    error_rate: float = 0.0
    error_status: int = 503
    seed: int = 0
    token_error_rate: float = 0.0
    """Share of token requests (Entra v1/v2, managed identity but for Storage) answered 503:
    an outage."""
    keyvault_error_rate: float = 0.0
    """Share of Key Vault secret reads answered 503."""
    reset_rate: float = 0.0
    """Share of uploads whose connection is dropped without an answer (rows not accepted)."""
    echo_values: bool = False
    """Injected errors quote values of the block's first row, as a real reply might: what
    the pipeline must keep out of its ledger and logs."""
    watch: str = ""
    """Not a fault: count the uploaded records whose text holds this string (a marker a test
    put in columns that must never leave the hospital). Only the count is kept."""

    def validate(self) -> None:
        """Raise :class:`ConfigError` when a value could not be applied sensibly."""
        if not 0.0 <= self.latency_seconds <= 600.0:
            raise ConfigError("latency_seconds must be between 0 and 600")
        for name in ("throttle_rate", "error_rate", "token_error_rate", "keyvault_error_rate", "reset_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1")
        if not 0 <= self.retry_after_seconds <= 3600:
            raise ConfigError("retry_after_seconds must be between 0 and 3600")
        if not 400 <= self.error_status <= 599 or self.error_status == 429:
            raise ConfigError("error_status must be a 4xx (not 429: use throttle_rate) or 5xx status")

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """Return a copy with ``changes`` applied; unknown keys or bad types are refused."""
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ConfigError(f"unknown fault settings: {', '.join(unknown)}")
        merged = asdict(self)
        for key, value in changes.items():
            if known[key] == "bool":  # annotations are strings here (postponed evaluation)
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false")
                merged[key] = value
                continue
            if known[key] == "str":
                if not isinstance(value, str) or len(value) > 64:
                    raise ConfigError(f"{key} must be text of at most 64 characters")
                merged[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{key} must be a number")
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be finite")
            merged[key] = value
        for key in ("retry_after_seconds", "error_status", "seed"):
            if merged[key] != int(merged[key]):
                raise ConfigError(f"{key} must be an integer")
            merged[key] = int(merged[key])
        for key in (
            "latency_seconds",
            "throttle_rate",
            "error_rate",
            "token_error_rate",
            "keyvault_error_rate",
            "reset_rate",
        ):
            merged[key] = float(merged[key])
        result = FaultConfig(**merged)
        result.validate()
        return result


@dataclass
class EmulatorConfig:
    """The emulated tenant: one app registration, one managed identity, one vault, jobs.

    ``resources`` are the audiences tokens can be asked for; anything else is refused as
    Entra refuses an unknown resource (which catches a stale resource id in settings).
    ``managed_identity_client_id`` is the ``appid`` stamped on managed-identity tokens when
    the caller does not name a user-assigned identity.
    """

    tenant_id: str
    client_id: str
    client_secret: str
    identity_header: str
    secrets: dict[str, str] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)
    faults: FaultConfig = field(default_factory=FaultConfig)
    resources: list[str] = field(default_factory=lambda: list(DEFAULT_RESOURCES))
    managed_identity_client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_certificate: str = ""
    """PEM of the certificate registered on the app (its key is in the vault)."""

    @classmethod
    def generate(cls, job_ids: list[str] | None = None) -> EmulatorConfig:
        """Make a fresh tenant with random ids and secrets.

        The client secret is also stored in the vault under :data:`CLIENT_SECRET_NAME`,
        which is how the deployed app finds it.
        """
        from devstack.emulator.certificates import generate

        client_secret = _secrets.token_urlsafe(30)
        client_id = str(uuid.uuid4())
        certificate, key_and_certificate = generate(f"ingestion app {client_id}")
        return cls(
            tenant_id=str(uuid.uuid4()),
            client_id=client_id,
            client_secret=client_secret,
            identity_header=_secrets.token_hex(16),
            secrets={
                CLIENT_SECRET_NAME: client_secret,
                CLIENT_CERTIFICATE_NAME: key_and_certificate,
                COVERAGE_KEY_NAME: _secrets.token_urlsafe(32),
            },
            client_certificate=certificate,
            job_ids=list(job_ids) if job_ids is not None else [str(uuid.uuid4())],
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        """Build from the JSON form; missing optional keys take their defaults."""
        required = ("tenant_id", "client_id", "client_secret", "identity_header")
        missing = [key for key in required if not data.get(key)]
        if missing:
            raise ConfigError(f"missing config keys: {', '.join(missing)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        values = dict(data)
        values["secrets"] = {str(k): str(v) for k, v in (data.get("secrets") or {}).items()}
        values["job_ids"] = [str(j) for j in (data.get("job_ids") or [])]
        if "resources" in data:
            values["resources"] = [str(r) for r in data["resources"] or []]
        values["faults"] = FaultConfig().updated(data.get("faults") or {})
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write as JSON, readable by the owner only (it holds secrets)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.to_dict(), out, indent=2)
            out.write("\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> EmulatorConfig:
        """Read a file written by :meth:`save` (or by hand)."""
        with Path(path).open(encoding="utf-8") as src:
            return cls.from_dict(json.load(src))
