"""Fixtures shared by the dev-stack tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.azurite import SERVICES, Azurite
from devstack.emulator import Emulator, EmulatorConfig
from devstack.emulator.tls import ensure_certificates
from shared.common import identity


@dataclass(frozen=True)
class Cloud:
    """Azurite reached as Azure Storage is, with a managed identity: HTTPS (the emulator's CA),
    ``--oauth basic``, tokens from the emulator's managed-identity endpoint."""

    emulator: Emulator
    azurite: Azurite
    config: EmulatorConfig

    @property
    def ca(self) -> str:
        return str(self.emulator.ca_path)

    def connection(self, name: str, server: Azurite | None = None) -> dict[str, str]:
        """Connection ``name`` identity-based, as the local stack and infra/ give it to the app."""
        server = server or self.azurite
        settings = {f"{name}__{s}ServiceUri": server.endpoint(s) for s in SERVICES}
        return settings | {f"{name}__credential": "managedidentity", f"{name}__clientId": self.client_id}

    @property
    def client_id(self) -> str:
        return self.config.managed_identity_client_id

    def identity_env(self) -> dict[str, str]:
        """What App Service sets for a managed identity, pointed at the emulator, and its CA."""
        return {
            "IDENTITY_ENDPOINT": f"{self.emulator.url}/msi/token",
            "IDENTITY_HEADER": self.config.identity_header,
            "REQUESTS_CA_BUNDLE": self.ca,
        }

    def admin[C](self, cls: type[C], *args: Any, server: Azurite | None = None, **kwargs: Any) -> C:
        """A client with the account key (the tests' own administration), trusting the CA."""
        conn = (server or self.azurite).connection_string
        return cls.from_connection_string(conn, *args, connection_verify=self.ca, **kwargs)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state = tmp_path_factory.mktemp("emulator")
    tls = ensure_certificates(state / "tls")
    with Emulator(EmulatorConfig.generate([]), state) as emulator:
        server = Azurite(tmp_path_factory.mktemp("azurite"), tls=(tls.server_cert, tls.server_key))
        with server:
            yield Cloud(emulator, server, emulator.config)


@pytest.fixture(scope="session")
def azurite(cloud: Cloud) -> Azurite:
    """One Azurite for the session (loopback ports, random account); tests use unique names."""
    return cloud.azurite


AZURE_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT", "IMDS_ENDPOINT")


@pytest.fixture
def managed_identity(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """This process gets the emulator's managed identity (as the app does in Azure)."""
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in cloud.identity_env().items():
        monkeypatch.setenv(name, value)
    identity.credential.cache_clear()
    yield cloud
    identity.credential.cache_clear()
