"""Storage clients per connection name, resolved exactly as the product resolves them.

Why through ``shared.common.storage.Connection``: a binding's ``connection`` names app settings (a
connection string, or ``<name>__blobServiceUri`` ... with managed identity), and the dev host
must accept the same settings the app will have in Azure, no more.

Queue clients are built here with explicit message policies: ``QueueServiceClient`` does NOT
pass its ``message_encode_policy`` / ``message_decode_policy`` on to ``get_queue_client()``
(azure-storage-queue 12.x), so they must be given per queue client.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from shared.common.storage import Connection

HOST_STORAGE = "AzureWebJobsStorage"
"""The host's own storage; also a binding's connection when it names none."""


TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def with_retries[T](call: Callable[..., T], *args: Any, budget: float = 30.0, **kwargs: Any) -> T:
    """Run one storage call, retrying transient failures every 0.25-2 s for up to ``budget``.

    Why not the SDK's own retry: its first retry sleeps about 15 s, so an Azurite restart (a
    fault test) would stall receipts, deletes and poison writes long after storage is back.
    """
    delay, deadline = 0.25, time.monotonic() + budget
    while True:
        try:
            return call(*args, retry_total=0, **kwargs)
        except (ServiceRequestError, ServiceResponseError):
            pass
        except HttpResponseError as exc:
            if exc.status_code not in TRANSIENT_STATUS:
                raise
        if time.monotonic() + delay > deadline:
            return call(*args, **kwargs)  # last try with the SDK's own retries, or raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def has_connection(name: str, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(name)) or any(k.startswith(f"{name}__") for k in env)


class Clients:
    """One BlobServiceClient / QueueServiceClient per connection name (they pool sockets)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blob: dict[str, BlobServiceClient] = {}
        self._queue: dict[str, QueueServiceClient] = {}

    def blob_service(self, connection: str | None) -> BlobServiceClient:
        name = connection or HOST_STORAGE
        with self._lock:
            if name not in self._blob:
                self._blob[name] = Connection.from_settings(name).blob_service()
            return self._blob[name]

    def queue_service(self, connection: str | None) -> QueueServiceClient:
        name = connection or HOST_STORAGE
        with self._lock:
            if name not in self._queue:
                self._queue[name] = Connection.from_settings(name).queue_service()
            return self._queue[name]

    def raw_queue(self, connection: str | None, queue: str) -> QueueClient:
        """Message text as stored: the host decodes (and re-sends to poison) itself."""
        return self.queue_service(connection).get_queue_client(queue)

    def encoding_queue(self, connection: str | None, queue: str, encoding: str) -> QueueClient:
        """For messages the host writes (admin input, blob poison): host.json messageEncoding."""
        policy = TextBase64EncodePolicy() if encoding == "base64" else None
        return self.queue_service(connection).get_queue_client(queue, message_encode_policy=policy)

    def host_blob_service(self, fallback: str | None) -> BlobServiceClient:
        """Host bookkeeping (receipts, timer status) lives in AzureWebJobsStorage when set."""
        return self.blob_service(HOST_STORAGE if has_connection(HOST_STORAGE) else fallback)
