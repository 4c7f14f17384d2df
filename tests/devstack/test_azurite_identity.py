"""Azurite reached as Azure Storage is reached in Azure: over HTTPS, with a managed identity's
bearer token and no key.

Azurite runs with ``--oauth basic`` and a certificate from the emulator's CA; the app's own
clients (``shared.common.storage.Connection`` with the identity-based settings) get their tokens
from the emulator's managed-identity endpoint. Azurite checks the token's issuer
(``https://sts.windows.net/...``), audience (``https://storage.azure.com``) and lifetime, so a
token for another audience, or no token, is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobServiceClient

from devstack.azurite import Azurite
from shared.common import identity
from shared.common.storage import Connection
from tests.devstack.conftest import Cloud

pytestmark = pytest.mark.timeout(120)


def test_the_apps_clients_reach_blob_queue_and_table_with_the_managed_identity(
    managed_identity: Cloud,
) -> None:
    before = managed_identity.emulator.stats()["tokens"]["managed_identity"]
    conn = Connection.from_settings("Probe", managed_identity.connection("Probe"))
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
    assert managed_identity.emulator.stats()["tokens"]["managed_identity"] > before


def test_azurite_refuses_a_request_without_a_token_or_with_another_audiences(managed_identity: Cloud) -> None:
    server = managed_identity.azurite
    anonymous = BlobServiceClient(server.endpoint("blob"), connection_verify=managed_identity.ca)
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


def test_the_stacks_administration_keeps_the_account_key(cloud: Cloud) -> None:
    admin = cloud.admin(BlobServiceClient)
    assert cloud.azurite.connection_string.startswith("DefaultEndpointsProtocol=https;")
    admin.create_container("admin-probe")
    assert admin.get_container_client("admin-probe").exists()


def test_the_tls_files_survive_a_reattach(cloud: Cloud) -> None:
    server = cloud.azurite
    again = Azurite.from_state(server.state())
    assert again.tls == server.tls and again.endpoint("blob").startswith("https://")
    assert again.tls is not None and isinstance(again.tls[0], Path)
