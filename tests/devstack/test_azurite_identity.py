"""Azurite reached as Azure Storage is reached in Azure: over HTTPS, with a managed identity's
bearer token and no key.

Azurite runs with ``--oauth basic`` and a certificate from the emulator's CA; the app's own
clients (``shared.common.storage.Connection`` with the identity-based settings) get their tokens
from the emulator's managed-identity endpoint. Azurite checks the token's issuer
(``https://sts.windows.net/...``), audience (``https://storage.azure.com``) and lifetime, so a
token for another audience, or no token, is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobServiceClient

from devstack.azurite import Azurite
from devstack.emulator import Emulator, EmulatorConfig
from devstack.emulator.tls import ensure_certificates
from shared.common import identity
from shared.common.storage import Connection

pytestmark = pytest.mark.timeout(120)
AZURE_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT", "IMDS_ENDPOINT")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Azurite, EmulatorConfig]]:
    state = tmp_path_factory.mktemp("emulator")
    tls = ensure_certificates(state / "tls")
    config = EmulatorConfig.generate([])
    with Emulator(config, state) as emulator:
        server = Azurite(tmp_path_factory.mktemp("azurite"), tls=(tls.server_cert, tls.server_key))
        with server:
            yield emulator, server, config


@pytest.fixture
def app_env(cloud, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What the stack gives the app: identity-based settings, the identity endpoint, the CA."""
    emulator, server, config = cloud
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emulator.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", config.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_path))
    identity.credential.cache_clear()
    settings = {f"Probe__{s}ServiceUri": server.endpoint(s) for s in ("blob", "queue", "table")}
    settings |= {"Probe__credential": "managedidentity", "Probe__clientId": config.managed_identity_client_id}
    yield settings
    identity.credential.cache_clear()


def test_the_apps_clients_reach_blob_queue_and_table_with_the_managed_identity(cloud, app_env) -> None:
    emulator, _, _ = cloud
    before = emulator.stats()["tokens"]["managed_identity"]
    conn = Connection.from_settings("Probe", app_env)
    assert conn.connection_string is None and conn.client_id
    container = conn.blob_service().create_container("probe")
    container.upload_blob("a.csv", b"h\n1\n")
    assert container.download_blob("a.csv").readall() == b"h\n1\n"
    queue = conn.queue("probe-queue")
    queue.create_queue()
    queue.send_message("hello")
    assert [m.content for m in queue.receive_messages()] == ["hello"]
    table = conn.table_service().create_table("probetable")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "n": 1})
    assert table.get_entity("p", "r")["n"] == 1
    assert emulator.stats()["tokens"]["managed_identity"] > before


def test_azurite_refuses_a_request_without_a_token_or_with_another_audiences(cloud, app_env) -> None:
    emulator, server, _ = cloud
    anonymous = BlobServiceClient(server.endpoint("blob"), connection_verify=str(emulator.ca_path))
    with pytest.raises(HttpResponseError):
        anonymous.get_container_client("probe").get_container_properties()

    class VaultToken:
        """A managed-identity token for Key Vault, offered to Storage."""

        def get_token(self, *scopes, **kwargs):
            return identity.credential(None).get_token("https://vault.azure.net/.default")

    wrong = BlobServiceClient(server.endpoint("blob"), credential=VaultToken())
    with pytest.raises((HttpResponseError, ClientAuthenticationError)) as refused:
        wrong.get_container_client("probe").get_container_properties()
    assert "audience" in str(refused.value).lower()


def test_the_stacks_administration_keeps_the_account_key(cloud) -> None:
    emulator, server, _ = cloud
    admin = BlobServiceClient.from_connection_string(
        server.connection_string, connection_verify=str(emulator.ca_path)
    )
    assert server.connection_string.startswith("DefaultEndpointsProtocol=https;")
    admin.create_container("admin-probe")
    assert admin.get_container_client("admin-probe").exists()


def test_the_tls_files_survive_a_reattach(cloud) -> None:
    _, server, _ = cloud
    again = Azurite.from_state(server.state())
    assert again.tls == server.tls and again.endpoint("blob").startswith("https://")
    assert isinstance(again.tls[0], Path)
