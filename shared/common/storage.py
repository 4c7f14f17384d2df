"""Storage clients for a Functions connection name, the way the Functions host resolves it.

A connection ``X`` is either a connection string in setting ``X`` (local development
against Azurite) or identity-based: ``X__blobServiceUri`` / ``X__queueServiceUri`` /
``X__tableServiceUri`` (or ``X__accountName``) with ``X__clientId`` for a user-assigned
identity. In Azure only the identity-based form is used: no account keys anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from shared.common.identity import credential


@dataclass(frozen=True)
class Connection:
    name: str
    connection_string: str | None = None
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    client_id: str | None = None

    @classmethod
    def from_settings(cls, name: str, environ: Mapping[str, str] | None = None) -> Connection:
        env = os.environ if environ is None else environ
        if env.get(name):
            return cls(name, connection_string=env[name])
        account = env.get(f"{name}__accountName")

        def uri(service: str) -> str | None:
            explicit = env.get(f"{name}__{service}ServiceUri") or env.get(f"{name}__serviceUri")
            if explicit:
                return explicit
            return f"https://{account}.{service}.core.windows.net" if account else None

        conn = cls(
            name,
            blob_url=uri("blob"),
            queue_url=uri("queue"),
            table_url=uri("table"),
            client_id=env.get(f"{name}__clientId"),
        )
        if not (conn.blob_url and conn.queue_url and conn.table_url):
            raise RuntimeError(
                f"storage connection {name} is not configured: set {name}__blobServiceUri, "
                f"{name}__queueServiceUri and {name}__tableServiceUri (or {name}__accountName)"
            )
        return conn

    @staticmethod
    def _url(url: str | None) -> str:
        if url is None:  # from_settings refuses a connection without every service's URL
            raise RuntimeError("storage connection has no service URL")
        return url

    def _credential(self) -> TokenCredential:
        return credential(self.client_id)

    def blob_service(self) -> BlobServiceClient:
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(self._url(self.blob_url), credential=self._credential())

    def queue_service(self) -> QueueServiceClient:
        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(self._url(self.queue_url), credential=self._credential())

    def queue(self, name: str) -> QueueClient:
        """Messages as base64 text, the Functions host's default ``messageEncoding``.

        The policies must be given to the queue client itself: ``get_queue_client`` does not
        inherit them from the service client.
        """
        return self.queue_service().get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )

    def table_service(self) -> TableServiceClient:
        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string)
        return TableServiceClient(self._url(self.table_url), credential=self._credential())


@lru_cache(maxsize=8)
def connection(name: str) -> Connection:
    """Clients are cached per process: they hold connection pools the workers reuse."""
    return Connection.from_settings(name)
